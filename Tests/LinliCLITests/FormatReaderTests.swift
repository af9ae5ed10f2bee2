import Foundation
import Linli
import LinliTestSupport
import Testing

/// Issue 19 items 4 and 5: docs/FORMAT.md's machine-readable block alone, with an independent CBOR decoder
/// (Python's cbor2), reads every event of the demo store — the record's fields and its payload — exactly
/// as `linli export` shows them.
@Suite("docs/FORMAT.md's block and cbor2 read every event of the demo store", .serialized)
struct FormatReaderTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    func objects(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    /// A JSON value as text with sorted keys, so that two parses of the same document compare equal.
    func canonical(_ value: Any?) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: try #require(value), options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    @Test("every record's fields and every payload, as the export shows them")
    func demoStore() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("demo")
        let demo = try CLI.run(["demo", "--store", store])
        try #require(demo.status == 0, "\(demo.err)")
        let decoded = try runProcess(URL(fileURLWithPath: "/usr/bin/python3"), [root.appendingPathComponent("Scripts/decode-events.py").path, store])
        #expect(decoded.status == 0, "\(decoded.err)")
        let read = try objects(decoded.out)
        let exported = try objects(try CLI.run(["export", "--store", store]).out)
        #expect(read.count == exported.count && read.count > 6_000, "\(read.count) decoded, \(exported.count) exported")
        for (mine, theirs) in zip(read, exported) {
            let position = theirs["position"] as? Int ?? 0
            for (field, exportField) in [
                ("position", "position"), ("stream", "stream"), ("streamVersion", "version"), ("type", "type"),
                ("schemaVersion", "schemaVersion"), ("commandId", "commandId"), ("actor", "actor"), ("prevHash", "prevHash"), ("hash", "hash"),
            ] {
                #expect("\(mine[field] ?? "-")" == "\(theirs[exportField] ?? "+")", "position \(position): \(field)")
            }
            #expect(
                try canonical(mine["payload"]) == canonical(theirs["payload"]), "position \(position): the payload cbor2 decoded is the one the export shows")
            let occurred = try #require(Timestamp(iso8601: theirs["occurredAt"] as? String ?? ""))
            #expect(
                mine["occurredAtMs"] as? Int == Int(occurred.epochMilliseconds) && mine["occurredAtOffsetMinutes"] as? Int == Int(occurred.offsetMinutes),
                "position \(position): occurred time")
            #expect(mine["recordedAtMs"] as? Int == Int(try #require(Timestamp(iso8601: theirs["recordedAt"] as? String ?? "")).epochMilliseconds))
        }
    }
}
