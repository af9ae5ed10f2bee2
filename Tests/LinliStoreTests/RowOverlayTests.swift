import Foundation
@testable import LinliStore
import Testing

/// The overlay's merged rows against a model: a dictionary of what the rows must be after LMDB's rows, the
/// published changes and the transaction's own are stacked.
@Suite("Rows changed in memory over LMDB's")
struct RowOverlayTests {
    /// Keys from a small alphabet and short lengths, so that prefixes, equal keys and near neighbours are common.
    private func randomKey(_ rng: inout SplitMix64) -> [UInt8] {
        (0..<(1 + rng.below(4))).map { _ in UInt8(rng.below(4)) }
    }

    private func expectedWalk(_ model: [[UInt8]: [UInt8]], from start: [UInt8]?, reverse: Bool, limit: Int) -> [[UInt8]] {
        var keys = model.keys.sorted { compareBytes($0, $1) < 0 }
        if reverse { keys.reverse() }
        if let start {
            keys = keys.filter { reverse ? compareBytes($0, start) <= 0 : compareBytes($0, start) >= 0 }
        }
        return Array(keys.prefix(limit))
    }

    @Test("walks from any key, forward and back, stopping anywhere, see exactly the stacked rows", arguments: [1, 2, 3] as [UInt64])
    func mergedWalksMatchTheModel(seed: UInt64) throws {
        var rng = SplitMix64(state: seed)
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let stored = try env.database(named: "t", create: true)
        let database = stored.overlaid(at: 0)
        var model: [[UInt8]: [UInt8]] = [:]
        try env.write { txn in
            for _ in 0..<60 {
                let key = randomKey(&rng), value = [UInt8(rng.below(250))]
                try txn.put(stored, key: key, value: value)
                model[key] = value
            }
        }
        // Published changes, then a transaction's own, each with puts and deletes, enough of them that
        // the sorted runs are folded (more than the 256 recent keys a run keeps before folding).
        var published = ChangedRows()
        for _ in 0..<700 {
            let key = (0..<(1 + rng.below(6))).map { _ in UInt8(rng.below(5)) }
            let value: [UInt8]? = rng.below(4) == 0 ? nil : [UInt8(rng.below(250))]
            published.set(key, value)
            model[key] = value
        }
        let overlay = RowOverlay(below: [published])
        for _ in 0..<300 {
            let key = (0..<(1 + rng.below(6))).map { _ in UInt8(rng.below(5)) }
            let value: [UInt8]? = rng.below(4) == 0 ? nil : [UInt8(rng.below(250))]
            overlay.set(0, key, value)
            model[key] = value
        }
        let live = model.compactMapValues { $0 }
        try env.read { read in
            let txn = ReadTransaction(borrowing: read.handle, rows: overlay)
            #expect(try txn.count(database) == live.count)
            for _ in 0..<200 {
                let start: [UInt8]? = rng.below(5) == 0 ? nil : randomKey(&rng)
                let reverse = rng.below(2) == 0
                let limit = 1 + rng.below(live.count + 5)
                var seen: [[UInt8]] = []
                var values: [[UInt8]] = []
                try txn.walk(database, from: start, reverse: reverse) { key, value in
                    seen.append(Array(key))
                    values.append(Array(value))
                    return seen.count < limit
                }
                let expected = expectedWalk(live, from: start, reverse: reverse, limit: limit)
                #expect(seen == expected, "seed \(seed): walk from \(String(describing: start)) reverse \(reverse) limit \(limit)")
                #expect(values == expected.map { live[$0]! })
            }
            for _ in 0..<100 {
                let key = randomKey(&rng)
                #expect(try txn.value(in: database, key: key) == live[key])
            }
        }
    }

    @Test("a change set lists its keys once each, in order, however they arrived")
    func changeSetOrder() {
        var rng = SplitMix64(state: 9)
        var rows = ChangedRows()
        var model: [[UInt8]: [UInt8]?] = [:]
        for _ in 0..<5_000 {
            let key = (0..<(1 + rng.below(3))).map { _ in UInt8(rng.below(40)) }
            let value: [UInt8]? = rng.below(3) == 0 ? nil : [UInt8(rng.below(9))]
            rows.set(key, value)
            model[key] = value
        }
        var keys: [[UInt8]] = []
        rows.forEachInOrder { key, value in
            keys.append(key)
            #expect(model[key] == .some(value))
        }
        #expect(keys == model.keys.sorted { compareBytes($0, $1) < 0 })
    }

    @Test("a replay's chunk rolled back leaves exactly the rows of the chunks kept", arguments: [4, 5, 6] as [UInt64])
    func chunksRolledBack(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        let overlay = RowOverlay(memorySlots: 2, journaling: true)
        // What the kept chunks wrote, by slot: a key's change (nil for a deleted row).
        var kept: [[[UInt8]: [UInt8]?]] = [[:], [:]]
        for chunk in 0..<40 {
            var model = kept
            for _ in 0..<(1 + rng.below(300)) {
                let slot = rng.below(2)
                let key = (0..<(1 + rng.below(3))).map { _ in UInt8(rng.below(12)) }
                let value: [UInt8]? = rng.below(4) == 0 ? nil : [UInt8(rng.below(250)), UInt8(chunk)]
                guard rng.below(3) == 0 else {
                    overlay.set(slot, key, value)
                    model[slot][key] = .some(value)
                    continue
                }
                // A read-modify-write (a counter's): it sees the row as the chunk left it and grows it by
                // `value`, or deletes it; some are refused and must change nothing.
                let before = model[slot][key] ?? nil, refused = rng.below(5) == 0
                let after = value.map { (before ?? []) + $0 }
                _ = try? overlay.modify(slot, key, stored: { nil }) { row in
                    #expect(row == before, "seed \(seed), chunk \(chunk): \(key)")
                    if refused { throw Refused() }
                    // Grown in place where it can be (the journal keeps the old bytes apart).
                    if row != nil, let value { row!.append(contentsOf: value) } else { row = after }
                }
                if !refused && (model[slot][key] != nil || after != nil) { model[slot][key] = .some(after) }
            }
            // Walked in the middle of some chunks, so that keys the chunk added are already in order.
            if rng.below(3) == 0 { _ = overlay.cursor(0, from: nil, reverse: false) }
            if rng.below(3) == 0 {
                overlay.rollBack()
            } else {
                overlay.commitChunk()
                kept = model
            }
            for slot in 0..<2 {
                var walked: [[UInt8]] = []
                var cursor = overlay.cursor(slot, from: nil, reverse: false)
                while let (key, value) = cursor.next() {
                    walked.append(key)
                    #expect(kept[slot][key] == .some(value), "seed \(seed), chunk \(chunk): \(key)")
                }
                #expect(walked == kept[slot].keys.sorted { compareBytes($0, $1) < 0 }, "seed \(seed), chunk \(chunk)")
                let bytes = kept[slot].reduce(0) { $0 + $1.key.count + ChangedRows.rowOverheadBytes + ($1.value?.count ?? 0) }
                #expect(overlay.top[slot].approximateBytes == bytes)
            }
        }
    }

    private struct Refused: Error {}

    @Test("a row rewritten from itself sees the transaction's change, else the published one, else LMDB's; a refusal changes nothing")
    func rowsRewrittenFromThemselves() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let stored = try env.database(named: "t", create: true)
        let database = stored.overlaid(at: 0)
        try env.write { txn in
            for (key, value) in [("a", 1), ("b", 2), ("c", 3)] as [(String, UInt8)] { try txn.put(stored, key: Array(key.utf8), value: [value]) }
        }
        var published = ChangedRows()
        published.set(Array("b".utf8), [20])
        published.set(Array("c".utf8), nil)
        let overlay = RowOverlay(below: [published])
        overlay.set(0, Array("a".utf8), [10])
        try env.write { raw in
            let txn = WriteTransaction(borrowing: raw.handle, rows: overlay)
            var seen: [String: [UInt8]?] = [:]
            for key in ["a", "b", "c", "d"] {
                try txn.modify(database, key: Array(key.utf8)) { row in
                    seen[key] = row
                    row = row.map { $0 + [1] }
                }
            }
            #expect(seen == ["a": [10], "b": [20], "c": nil, "d": nil])
            // A deleted or absent row left absent records nothing; the others are changed in place.
            #expect(overlay.top[0].count == 2, "\(overlay.top[0].values)")
            #expect(try txn.value(in: database, key: Array("a".utf8)) == [10, 1])
            #expect(try txn.value(in: database, key: Array("b".utf8)) == [20, 1])
            #expect(try txn.value(in: database, key: Array("d".utf8)) == nil)
            #expect(throws: Refused.self) {
                try txn.modify(database, key: Array("a".utf8)) { row in
                    #expect(row == [10, 1])
                    throw Refused()
                }
            }
            #expect(try txn.value(in: database, key: Array("a".utf8)) == [10, 1])
            #expect(
                overlay.top[0].approximateBytes
                    == overlay.top[0].values.reduce(0) { $0 + $1.key.bytes.count + ChangedRows.rowOverheadBytes + ($1.value?.count ?? 0) })
        }
        // Without an overlay, the row is read and put (or deleted) in LMDB.
        try env.write { txn in
            try txn.modify(stored, key: Array("a".utf8)) { row in row = row.map { $0 + [7] } }
            try txn.modify(stored, key: Array("b".utf8)) { row in row = nil }
            #expect(try txn.value(in: stored, key: Array("a".utf8)) == [1, 7])
            #expect(try txn.value(in: stored, key: Array("b".utf8)) == nil)
        }
    }

    @Test("changes merged into none are taken whole, merged into some at once, and stay in order")
    func mergedIntoEmpty() {
        var rng = SplitMix64(state: 11)
        var top = ChangedRows(orderedLazily: true)
        var model: [[UInt8]: [UInt8]?] = [:]
        for _ in 0..<3_000 {
            let key = (0..<(1 + rng.below(3))).map { _ in UInt8(rng.below(30)) }
            let value: [UInt8]? = rng.below(4) == 0 ? nil : [UInt8(rng.below(9))]
            top.set(key, value)
            model[key] = value
        }
        var published = ChangedRows()
        published.merge(top)
        #expect(published.approximateBytes == top.approximateBytes)
        // A published change set is walked by readers as it is: every key already in order, new ones too.
        for _ in 0..<300 {
            let key = (0..<(1 + rng.below(3))).map { _ in UInt8(100 + rng.below(30)) }
            published.set(key, [1])
            model[key] = [1]
        }
        // Then another transaction's changes, over the same keys and new ones, merged in at once.
        for round in 0..<3 {
            var next = ChangedRows(orderedLazily: true)
            for _ in 0..<(500 + round * 1_500) {
                let key = (0..<(1 + rng.below(3))).map { _ in UInt8(rng.below(60)) }
                let value: [UInt8]? = rng.below(4) == 0 ? nil : [UInt8(rng.below(9)), UInt8(round)]
                next.set(key, value)
                model[key] = value
            }
            published.merge(next)
        }
        let bytes = model.reduce(0) { $0 + $1.key.count + ChangedRows.rowOverheadBytes + (($1.value ?? nil)?.count ?? 0) }
        #expect(published.approximateBytes == bytes)
        var keys: [[UInt8]] = []
        var cursor = published.cursor(from: nil, reverse: false)
        while let key = cursor.peek() {
            keys.append(key)
            #expect(model[key] == .some(cursor.value(key)))
            cursor.advance()
        }
        #expect(keys == model.keys.sorted { compareBytes($0, $1) < 0 })
    }
}
