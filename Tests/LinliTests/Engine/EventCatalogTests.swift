import Foundation
@testable import Linli
import Testing

/// Issue 16, "typed state, checked names": the event types are one checked list. Every type docs/EVENTS.md
/// lists is claimed by a projection, every type a projection claims is listed there, and every event the
/// pilots' sample makes is of a listed type — so that no event is written that nothing replays, and the
/// document an independent verifier reads says what the engine does.
@Suite("The event types: docs/EVENTS.md, the projections and what the engine writes agree")
struct EventCatalogTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..").standardizedFileURL

    /// The event types of docs/EVENTS.md's table: the second column's code spans.
    func documented() throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("docs/EVENTS.md"), encoding: .utf8)
        var types: Set<String> = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex { $0.hasPrefix("| command | event type |") }, "the table of event types")
        for line in lines[(header + 2)...].prefix(while: { $0.hasPrefix("|") }) {
            let columns = line.split(separator: "|", omittingEmptySubsequences: false)
            guard columns.count > 2 else { continue }
            for span in columns[2].split(separator: "`").enumerated() where span.offset % 2 == 1 { types.insert(String(span.element)) }
        }
        return types
    }

    @Test("listed, claimed and written are the same types")
    func agree() throws {
        let listed = try documented()
        let claimed = Engine.makeProjections().reduce(into: Set<String>()) { $0.formUnion($1.eventTypes ?? []) }
        #expect(listed.count > 40, "the table was read: \(listed.count) types")
        #expect(listed.subtracting(claimed).isEmpty, "listed in EVENTS.md but claimed by no projection: \(listed.subtracting(claimed).sorted())")
        #expect(claimed.subtracting(listed).isEmpty, "claimed by a projection but not in EVENTS.md: \(claimed.subtracting(listed).sorted())")
        // The vocabulary the decisions emit from and the projections switch over is the same list.
        let vocabulary = Set(EventType.allCases.map(\.rawValue))
        #expect(vocabulary.count == EventType.allCases.count, "no two event types share a name")
        #expect(vocabulary == listed, "EventType and EVENTS.md differ: \(vocabulary.symmetricDifference(listed).sorted())")
        #expect(EventType.allCases.allSatisfy { EventType(rawValue: $0.rawValue) == $0 })
        // What the engine writes for the pilots' sample (every domain, mistakes refused).
        let dir = TemporaryDirectory()
        let engine = try Engine.create(at: dir.sub("store"), admin: PilotFixtures.admin, at: Timestamp(iso8601: "2023-07-01T08:00:00+08:00"))
        var lines: [String: [[UInt8]]] = [:]
        _ = PilotFixtures(scale: .sample).generate { pilot, line in lines[pilot, default: []].append(Array(line.utf8)) }
        for pilot in PilotFixtures.pilots { _ = try engine.apply(lines: lines[pilot] ?? [], mode: .continueOnRejection) }
        var written: Set<String> = []
        try engine.log.read { reader in
            try reader.forEachEvent(from: 1) { event in
                written.insert(event.type)
                return true
            }
        }
        #expect(written.count > 30, "the sample wrote events of \(written.count) types")
        #expect(written.subtracting(listed).isEmpty, "written but not in EVENTS.md: \(written.subtracting(listed).sorted())")
    }
}
