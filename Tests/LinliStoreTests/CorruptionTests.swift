import Foundation
@testable import LinliStore
import Testing

@Suite("Corruption")
struct CorruptionTests {
    /// Copies the store and flips one byte at every place `marker` occurs in the copy's data.mdb (LMDB's
    /// copy-on-write leaves stale copies of pages; the live one is among them).
    func tamperedCopy(of store: String, in dir: TemporaryDirectory, marker: [UInt8], offsetInMarker: Int) throws -> String {
        let copy = dir.sub("copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb")))
        let places = data.indices.filter { data[$0] == marker[0] && data[$0...].starts(with: marker) }
        #expect(!places.isEmpty, "marker not found")
        for at in places { data[at + offsetInMarker] ^= 0x01 }
        try Data(data).write(to: URL(fileURLWithPath: copy + "/data.mdb"))
        return copy
    }

    @Test("a flipped payload byte is reported by chain verification at its position")
    func flippedPayloadByte() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        do {
            let log = try EventLog.create(at: store, options: logOptions())
            for index in 0..<50 {
                let payload = index == 37 ? Array("MARKER-積分-37".utf8) : Array("ordinary payload \(index)".utf8)
                _ = try log.append(command("c-\(index)", payload: payload))
            }
        }
        let copy = try tamperedCopy(of: store, in: dir, marker: Array("MARKER-".utf8), offsetInMarker: 2)
        let log = try EventLog.open(at: copy, options: logOptions())
        let report = try log.verifyChain()
        #expect(!report.ok)
        #expect(report.failures.map(\.position) == [38])
        #expect(report.failures.first?.reason.contains("altered") == true)
        #expect(report.events == 50)
    }

    @Test("a flipped length field is a decode error naming the position, never a crash")
    func flippedLength() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        do {
            let log = try EventLog.create(at: store, options: logOptions())
            for index in 0..<20 { _ = try log.append(command("c-\(index)", stream: index == 11 ? "STREAMMARK" : "s")) }
        }
        // The two bytes before the stream's text are its length: make it larger than the record.
        let copy = try tamperedCopy(of: store, in: dir, marker: [0x00, 0x0A] + Array("STREAMMARK".utf8), offsetInMarker: 0)
        let log = try EventLog.open(at: copy, options: logOptions())
        let report = try log.verifyChain()
        #expect(report.failures.contains { $0.position == 12 && $0.reason.contains("cannot decode") })
        #expect(report.failures.allSatisfy { $0.position == 12 })
        #expect(throws: RecordError.self) { try log.event(at: 12) }
        let error = #expect(throws: RecordError.self) { try log.events() }
        #expect(error?.position == 12)
    }
}
