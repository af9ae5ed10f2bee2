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

    @Test("rows of one entity put by one event in any order are hashed in key order, as the stored side reads them")
    func rowsOfOnePosition() throws {
        var rows: [([UInt8], [UInt8])] = []
        for position in UInt64(1)...12 {
            // Three rows an event for one elder, put in descending key order (the time part differs).
            for time in [UInt64(30), 20, 10] {
                rows.append((Array("elder-\(position % 2)".utf8) + [0] + bigEndianKey(time) + bigEndianKey(position), Array("v\(position)-\(time)".utf8)))
            }
        }
        let layout = AppendOnlyLayout.entityThenOrderThenPosition
        #expect(try stored(rows, layout).digest == replayed(rows, layout).digest)
        var swapped = rows
        swapped.swapAt(0, 1)
        #expect(try stored(rows, layout).digest == replayed(swapped, layout).digest, "the order within one event does not matter")
        swapped[0].1[0] ^= 1
        #expect(try stored(rows, layout).digest != replayed(swapped, layout).digest)
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

/// The sums of a table of one row per key (``RowSetSum``): SipHash-2-4 as its authors give it, sums that do
/// not depend on order, and memory that does not grow with the rows.
@Suite("Row set sums")
struct RowSetSumTests {
    @Test("SipHash-2-4 gives the reference vectors of its paper (key 00…0f, messages 00…, lengths 0, 8, 15)")
    func sipHashVectors() {
        let hash = SipHash24(k0: 0x0706_0504_0302_0100, k1: 0x0f0e_0d0c_0b0a_0908)
        let message = (0..<16).map { UInt8($0) }
        func of(_ count: Int) -> UInt64 { message.prefix(count).withUnsafeBytes { hash.hash(UnsafeRawBufferPointer($0)) } }
        #expect(of(0) == 0x726f_db47_dd0e_0e31)
        #expect(of(8) == 0x93f5_f579_9a93_2462)
        #expect(of(15) == 0xa129_ca61_49be_45e5)
    }

    @Test("the same rows in any order give the same sums; a row more, less or changed changes the keyed bucket it falls in")
    func orderAndChange() {
        let rows = (0..<500).map { (Array("d-\($0)".utf8), Array("value \($0 * 7)".utf8)) }
        func sum(_ rows: [([UInt8], [UInt8])]) -> RowSetSum {
            var sum = RowSetSum()
            for (key, value) in rows { sum.add(RowSetSum.Fingerprint(key, value)) }
            return sum
        }
        let forward = sum(rows)
        #expect(forward == sum(rows.reversed()) && forward.digest == sum(rows.shuffled()).digest)
        var changed = rows
        changed[42].1[0] ^= 1
        let before = RowSetSum.Fingerprint(rows[42].0, rows[42].1).bucket, after = RowSetSum.Fingerprint(changed[42].0, changed[42].1).bucket
        #expect(sum(changed).differing(from: forward) == Set([RowSetSum.part(before), RowSetSum.part(after)]))
        #expect(sum(changed).digest != forward.digest)
        #expect(sum(Array(rows.dropLast())).differing(from: forward) == [RowSetSum.part(RowSetSum.Fingerprint(rows[499].0, rows[499].1).bucket)])
        // A row put twice is counted twice: the store keeps it once.
        #expect(sum(rows + [rows[3]]).differing(from: forward).count == 1)
    }

    @Test("a replay's digest of a table of one row per key holds the same memory after 50,000 rows as after 10")
    func memoryIsBounded() {
        let digest = AppendOnlyDigest(.oneRowPerKey)
        for index in 0..<10 { digest.add(Array("d-\(index)".utf8), [1, 2, 3]) }
        let early = digest.approximateBytes
        for index in 10..<50_000 { digest.add(Array("d-\(index)".utf8), [1, 2, 3]) }
        #expect(digest.approximateBytes == early)
    }
}

/// A report whose rows could not be named still fails, and says which databases differ.
@Suite("Projection reports")
struct ProjectionReportTests {
    @Test("a digest or a keyed sum that differs with no key named fails the report and names the database")
    func unnamedDifferences() {
        let a = Hash.sha256("a"), b = Hash.sha256("b")
        var report = ProjectionReport(position: 9, storedDigests: ["p/x": a, "p/y": a], rebuiltDigests: ["p/x": a, "p/y": a], mismatches: [])
        #expect(report.ok && report.unnamedDifferences.isEmpty)
        report.differingSums = ["p/x"]
        #expect(!report.ok && report.unnamedDifferences == ["p/x"], "equal digests, differing keyed sums")
        report.rebuiltDigests["p/y"] = b
        #expect(report.unnamedDifferences == ["p/x", "p/y"])
        report.mismatches = [ProjectionMismatch(projection: "p", database: "y", key: [1], stored: nil, rebuilt: [2])]
        #expect(report.unnamedDifferences == ["p/x"], "a database with a named key is not listed again")
        report.mismatches = Array(repeating: report.mismatches[0], count: ChainVerifier.failuresMax)
        #expect(report.unnamedDifferences.isEmpty, "when the report names as many keys as it may, the cap, not memory, left the others")
        #expect(!report.ok)
    }
}
