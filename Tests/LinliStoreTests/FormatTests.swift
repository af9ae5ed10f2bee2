import Foundation
@testable import LinliStore
import Testing

@Suite("docs/FORMAT.md is enough to verify a store")
struct FormatTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    @Test("mdb_dump and a Python script that knows only FORMAT.md recompute the chain and the head")
    func independentVerifier() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        let log = try EventLog.create(at: store, options: logOptions([EventCountsProjection()]))
        var rng = SplitMix64(state: 3)
        for index in 0..<60 {
            let payload = (0..<Int(rng.next() % 400)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try log.append(command("c-\(index)", stream: "居民:r-\(index % 7)", count: 1 + index % 3, payload: payload))
        }
        let head = try log.head
        let script = root.appendingPathComponent("Scripts/verify-chain.py")
        let good = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script.path, store])
        #expect(good.status == 0, "\(good.out) \(good.err)")
        #expect(good.out.contains("events \(head.position) head \(head.hash.hex)"), "\(good.out)")

        // The same script catches a payload byte flipped in place.
        let copy = dir.sub("copy")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        let event = try #require(try log.event(at: 17))
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb")))
        let needle = event.hash.bytes
        let places = data.indices.filter { data[$0] == needle[0] && data[$0...].starts(with: needle) }
        #expect(!places.isEmpty)
        for at in places { data[at + 5] ^= 0x80 }
        try Data(data).write(to: URL(fileURLWithPath: copy + "/data.mdb"))
        let bad = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script.path, copy])
        #expect(bad.status == 1)
        #expect(bad.out.contains("position 17: hash mismatch"), "\(bad.out)")
        let ours = try EventLog.open(at: copy, options: logOptions()).verifyChain()
        #expect(ours.failures.map(\.position).contains(17))
    }
}
