import Foundation
@testable import LinliStore
import Testing

/// The digest of an append-only database (issue 17): the replay's side, fed rows in log order, equals the
/// stored side, read in key order, for every layout; and rows no Linli command writes (from a forged
/// export) are counted, never a trap.
@Suite("Append-only digests")
struct AppendOnlyDigestTests {
    /// Rows in the time-ordered layout: entity ‖ 0 ‖ time ‖ position, in log order but not key order.
    func historyRows() -> [([UInt8], [UInt8])] {
        var rows: [([UInt8], [UInt8])] = []
        for position in UInt64(1)...40 {
            let entity = Array("elder-\(position % 3)".utf8)
            let time = bigEndianKey(1_000 - position * 7 % 50)  // occurred times out of log order
            rows.append((entity + [0] + time + bigEndianKey(position), Array("row \(position)".utf8)))
        }
        return rows
    }

    /// The stored side's summary of `rows`, put into an LMDB database.
    func stored(_ rows: [([UInt8], [UInt8])], _ layout: AppendOnlyLayout) throws -> AppendOnlyDigest.Summary {
        let dir = TemporaryDirectory()
        let environment = try Environment(path: dir.path)
        let database = try environment.database(named: "t", create: true)
        try environment.write { txn in for (key, value) in rows { try txn.put(database, key: key, value: value) } }
        return try environment.read { txn in try AppendOnlyDigest.of(database, layout: layout, txn) }
    }

    func replayed(_ rows: [([UInt8], [UInt8])], _ layout: AppendOnlyLayout) -> AppendOnlyDigest.Summary {
        let digest = AppendOnlyDigest(layout)
        for (key, value) in rows { digest.add(key, value) }
        return digest.summary()
    }

    @Test("rows in log order give the stored digest for each layout; one changed row changes it")
    func sidesAgree() throws {
        let history = historyRows()
        let statement = (UInt64(1)...30).map { position in (Array("resident:r-\(position % 4)".utf8) + [0] + bigEndianKey(position), Array("p\(position)".utf8))
        }
        let deliveries = (1...30).map { (Array("d-\(($0 * 7) % 30)".utf8), Array("delivery \($0)".utf8)) }
        for (rows, layout) in [(history, AppendOnlyLayout.entityThenOrderThenPosition), (statement, .entityThenPosition), (deliveries, .oneRowPerKey)] {
            #expect(try stored(rows, layout).digest == replayed(rows, layout).digest, "\(layout)")
            var changed = rows
            changed[7].1[0] ^= 1
            #expect(try stored(changed, layout).digest != replayed(rows, layout).digest, "\(layout): a changed row")
            #expect(try stored(changed, layout).differing(from: replayed(rows, layout)).count >= 1)
        }
    }

    @Test("keys outside the layout and a key put twice (a forged export's) are parts of their own, never a trap")
    func forgedKeys() throws {
        var rows = historyRows()
        rows.append(([0] + Array("starts-with-zero".utf8) + bigEndianKey(41), Array("x".utf8)))
        rows.append((Array("no-zero-byte".utf8), Array("y".utf8)))
        rows.append((Array("elder-1".utf8) + [0, 0, 0, 1], Array("too short".utf8)))
        rows.append(rows[3])
        for layout in [AppendOnlyLayout.entityThenOrderThenPosition, .entityThenPosition, .oneRowPerKey] {
            let replay = replayed(rows, layout)
            let store = try stored(rows, layout)
            // The store keeps one row for the key put twice: the digests differ, and the parts that differ are named.
            #expect(replay.digest != store.digest, "\(layout)")
            #expect(!store.differing(from: replay).isEmpty)
        }
    }
}
