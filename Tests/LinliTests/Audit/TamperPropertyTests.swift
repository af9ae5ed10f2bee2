import Foundation
@testable import Linli
@testable import LinliStore
import LinliTestSupport
import Testing

/// Issue 17: a stored projection row flipped, deleted or inserted at a random place in any projection is
/// found by `audit`, and named (projection, database, key, both values). Seeded, a bounded count of rounds
/// over the pilots' sample (every projection has rows there); each round is undone before the next. And the
/// audit's replay holds the append-only databases' digests, not their rows.
@Suite("Audit: any stored row changed is found and named", .serialized)
struct TamperPropertyTests {
    /// `insertedShort` puts a key that begins as a real entity's rows do but is too short for the layout:
    /// it must be named alone, not with the real rows that share its beginning.
    enum Change: CaseIterable { case flipped, deleted, inserted, insertedShort }

    /// The pilots' sample applied to a store, with the projections' state written to their rows.
    static func sampleWorld() throws -> World {
        let w = try World(admin: PilotFixtures.admin)
        for pilot in PilotFixtures.pilots {
            let text = try String(contentsOf: PilotFixtureTests.sampleDirectory.appendingPathComponent("\(pilot).ndjson"), encoding: .utf8)
            _ = try w.engine.apply(lines: text.split(separator: "\n").map { Array($0.utf8) }, mode: .continueOnRejection)
        }
        try w.engine.log.checkpoint()
        return w
    }

    /// Every stored projection database with at least one row, with its rows.
    func storedTables(_ log: EventLog) throws -> [(projection: String, name: String, database: Database, appendOnly: Bool, rows: [([UInt8], [UInt8])])] {
        let slots = try log.read { $0.slots }
        return try log.environment.read { txn in
            var tables: [(String, String, Database, Bool, [([UInt8], [UInt8])])] = []
            for slot in slots {
                for (name, database) in slot.databases.all.sorted(by: { $0.0 < $1.0 }) {
                    var rows: [([UInt8], [UInt8])] = []
                    try txn.walk(database) { key, value in
                        rows.append((Array(key), Array(value)))
                        return true
                    }
                    let appendOnly = slot.projection.appendOnlyDatabases[name] != nil
                    if !rows.isEmpty { tables.append((slot.projection.name, name, database, appendOnly, rows)) }
                }
            }
            return tables
        }
    }

    @Test("flipped, deleted or inserted rows in any projection are each found and named", arguments: [20_261_205 as UInt64])
    func anyRow(seed: UInt64) throws {
        let w = try Self.sampleWorld()
        let log = w.engine.log
        #expect(try w.engine.audit().ok, "the untouched sample verifies")
        let tables = try storedTables(log)
        #expect(Set(tables.map(\.projection)).count == 5, "every projection has rows to change: \(Set(tables.map(\.projection)))")
        // Half the rounds change an append-only database (digested per entity by the replay, its rows named
        // by a second replay that keeps the differing entity's), half any other; each change four times.
        let appendOnly = tables.filter(\.appendOnly), others = tables.filter { !$0.appendOnly }
        #expect(appendOnly.count >= 4, "\(appendOnly.map(\.name))")
        // And each change once in the table of one row per key (fingerprinted row by row).
        // And a short key in a statement, whose prefix would take in the real rows.
        let deliveries = try #require(tables.first { $0.projection == "elders" && $0.name == "deliveries" })
        let postings = try #require(tables.first { $0.projection == "ledger" && $0.name == "postings" })
        var random = SplitMix64(state: seed)
        for round in 0..<21 {
            let pool = round == 20 ? [postings] : round >= 16 ? [deliveries] : round % 2 == 0 ? appendOnly : others
            let table = pool[random.below(pool.count)]
            let change = round == 20 ? .insertedShort : Change.allCases[(round >= 16 ? round : round / 2) % Change.allCases.count]
            let (key, value) = table.rows[random.below(table.rows.count)]
            var expectedKey = key
            var stored: [UInt8]?
            var rebuilt: [UInt8]? = value
            switch change {
            case .flipped:
                var forged = value
                let at = random.below(forged.count)
                forged[at] ^= UInt8(1 << random.below(8))
                stored = forged
                try log.environment.write { try $0.put(table.database, key: key, value: forged) }
            case .deleted:
                stored = nil
                try log.environment.write { _ = try $0.delete(table.database, key: key) }
            case .inserted, .insertedShort:
                // A key no replay makes, beside a real one, holding a real row's bytes: longer than the real
                // keys, or the real entity's beginning and three zero bytes (no real key is that short; as a
                // prefix it would take in every real row of a statement below position 2^32).
                let entity = key.firstIndex(of: 0).map { Array(key[..<$0]) } ?? key
                expectedKey = change == .inserted ? key + [0x00, UInt8(random.below(256))] : entity + [0, 0, 0, 0]
                stored = value
                rebuilt = nil
                try log.environment.write { try $0.put(table.database, key: expectedKey, value: value) }
            }
            let report = try w.engine.audit()
            let what = "round \(round): \(change) \(table.projection)/\(table.name) \(AuditRendering.key(expectedKey))"
            #expect(report.chain.ok && !report.ok, "\(what): found")
            #expect(report.projections.mismatches.count == 1, "\(what): only the changed row is named, not \(report.projections.mismatches.count)")
            let named = report.projections.mismatches.first
            #expect(named?.projection == table.projection && named?.database == table.name && named?.key == expectedKey, "\(what): named")
            #expect(named?.stored == stored && named?.rebuilt == rebuilt, "\(what): both values")
            // Undone, so that the next round starts from a store that verifies.
            try log.environment.write { txn in
                if change == .inserted || change == .insertedShort {
                    _ = try txn.delete(table.database, key: expectedKey)
                } else {
                    try txn.put(table.database, key: key, value: value)
                }
            }
        }
        #expect(try w.engine.audit().ok, "every change undone, the store verifies again")
    }

    @Test("an audit's replay of the pilots' sample holds a digest per entity of the append-only databases, not their rows")
    func appendOnlyRowsNotHeld() throws {
        let w = try Self.sampleWorld()
        let projections = try w.engine.log.read { $0.slots.map(\.projection) }
        let events = try w.engine.log.events(from: 1)
        let held = try MemoryProjections.replaying(events, into: projections)
        let digested = try MemoryProjections.replaying(events, into: projections, digesting: true)
        #expect(try held.digests() == digested.digests(), "the same digests whether the rows are held or only digested")
        let heldBytes = held.overlay.approximateBytes, digestedBytes = digested.overlay.approximateBytes
        #expect(digestedBytes * 2 < heldBytes, "digested \(digestedBytes) bytes against \(heldBytes) held")
    }
}
