import Crypto
import Foundation

/// A key whose stored projection value differs from the value a rebuild from the log gives.
public struct ProjectionMismatch: Sendable, Equatable {
    /// The projection's name.
    public var projection: String
    /// The projection's database.
    public var database: String
    /// The key.
    public var key: [UInt8]
    /// The stored value, or nil when the store lacks the key.
    public var stored: [UInt8]?
    /// The rebuilt value, or nil when the rebuild has no such key.
    public var rebuilt: [UInt8]?
}

/// The result of rebuilding every projection from position 1 and comparing it with the stored one.
public struct ProjectionReport: Sendable {
    /// The position the comparison was made at (the head of the snapshot).
    public var position: UInt64
    /// SHA-256 over each database's keys and values, stored and rebuilt, by `projection/database`.
    public var storedDigests: [String: Hash]
    /// The rebuilt databases' digests.
    public var rebuiltDigests: [String: Hash]
    /// The differing keys, at most ``ChainVerifier/failuresMax``.
    public var mismatches: [ProjectionMismatch]
    /// Why the projections could not be rebuilt at all (a missing or undecodable event), if so.
    public var failure: String? = nil
    /// The databases, by `projection/database`, whose keyed sums differ (``RowSetSum``: a table of one row
    /// per key) though their digests may agree: a finding even when its rows could not be named.
    public var differingSums: [String] = []
    /// The databases, by `projection/database`, whose digests or keyed sums differ but none of whose keys
    /// is among ``mismatches`` (their rows could not be kept to be named), in name order. Empty when
    /// ``mismatches`` holds as many keys as a report names (``ChainVerifier/failuresMax``): the cap, not
    /// memory, then left the others unnamed.
    public var unnamedDifferences: [String] {
        guard mismatches.count < ChainVerifier.failuresMax else { return [] }
        let named = Set(mismatches.map { "\($0.projection)/\($0.database)" })
        let differing = Set(storedDigests.keys.filter { storedDigests[$0] != rebuiltDigests[$0] }).union(
            rebuiltDigests.keys.filter { storedDigests[$0] == nil })
        return differing.union(differingSums).subtracting(named).sorted()
    }
    /// The projections whose first replay ran in parts side by side (``Projection/replayParts``).
    public var replayedInParts: [String] = []
    /// The projections replayed a second time, whole, within one snapshot: their first replay differed
    /// from the store (to name what differs), saw another head than the stored side (a writer meanwhile), or
    /// reached a row it had retired.
    public var replayedAgain: [String] = []
    /// True when every digest and every keyed sum matched.
    public var ok: Bool { failure == nil && mismatches.isEmpty && storedDigests == rebuiltDigests && differingSums.isEmpty }

    /// A report for a rebuild that could not run.
    public static func failed(_ reason: String) -> ProjectionReport {
        ProjectionReport(position: 0, storedDigests: [:], rebuiltDigests: [:], mismatches: [], failure: reason)
    }
}

extension EventLog {
    /// Replays every projection from position 1 into memory (nothing is written, in the store or outside
    /// it), then compares them with the stored ones: a digest per database, then the differing keys where a
    /// digest differs.
    ///
    /// Projections are independent — each reads and writes only its own databases — so they are rebuilt
    /// side by side, in memory and one read snapshot each, on as many threads as the machine has cores, the
    /// largest first. The digests of each projection's stored rows are taken beside its replay, in a snapshot
    /// of their own, so that the cores share the longest projection's work. The two sides are compared at
    /// the same head; with no writer meanwhile (the usual audit) every snapshot has the same head, and a
    /// projection whose sides saw different heads, or whose digests differ, is replayed again and compared
    /// within one snapshot (which also names the differing keys). `position` is the smallest head compared.
    public func verifyProjections(progress: ((UInt64, UInt64) -> Void)? = nil) throws -> ProjectionReport {
        try verifyProjections(progress: progress, beside: nil, storedSideStarting: nil)
    }

    /// ``verifyProjections(progress:)``, running `beside` (an audit's chain pass) as one more piece of the
    /// work shared among the cores: after the replays have begun, before the stored sides. A thread of its
    /// own beside them made one thread more than cores, and the longest replay — the audit's critical
    /// path — then ran on two thirds of a core. `beside` runs once, unless this throws before the pieces
    /// begin (a store that cannot be read).
    public func verifyProjections(progress: ((UInt64, UInt64) -> Void)? = nil, beside: @escaping @Sendable () -> Void) throws -> ProjectionReport {
        try verifyProjections(progress: progress, beside: beside, storedSideStarting: nil)
    }

    /// ``verifyProjections(progress:)``, calling `storedSideStarting` as each stored side begins, before it
    /// takes its snapshot (a test appends an event there).
    func verifyProjections(
        progress: ((UInt64, UInt64) -> Void)?, beside: (@Sendable () -> Void)? = nil, storedSideStarting: (@Sendable () -> Void)?
    ) throws -> ProjectionReport {
        // Read once, so that a slot's databases name the generation this process reads.
        let slots = try read { reader in reader.slots }
        guard !slots.isEmpty else {
            beside?()
            return ProjectionReport(position: try head.position, storedDigests: [:], rebuiltDigests: [:], mismatches: [])
        }
        // The largest first, so that the longest replay does not start last; the stored sides after every
        // replay, to fill the cores beside the longest. Reports stay in slot order.
        let sizes = try environment.read { txn in
            try slots.map { slot in try slot.databases.all.reduce(0) { $0 + (try txn.count($1.database)) } }
        }
        let order = slots.indices.sorted { sizes[$0] > sizes[$1] }
        // Each replay piece: a projection whole, or one of its parts when it is most of the work.
        let replays = order.flatMap { index -> [(slot: Int, part: ReplayPart?)] in
            let projection = slots[index].projection, parts = projection.replayParts
            guard !parts.isEmpty, replaysInParts(index, sizes: sizes) else { return [(index, nil)] }
            let compared = parts.map(\.compared)
            precondition(
                compared.reduce(0) { $0 + $1.count } == projection.databaseNames.count && Set(compared.joined()) == Set(projection.databaseNames),
                "the parts of \(projection.name)'s replay compare each of its databases once")
            return parts.map { (index, $0) }
        }
        // A piece is a replay, `beside`, or a stored side.
        enum Piece { case replay(Int), beside, stored(Int) }
        let pieces = replays.indices.map(Piece.replay) + (beside == nil ? [] : [.beside]) + order.map(Piece.stored)
        let shared = SideBySide(slots: replays.map(\.slot), count: slots.count, total: try head.position * UInt64(slots.count), progress: progress)
        let replayed = Outcomes<ProjectionDigests?>(count: replays.count), stored = Outcomes<ProjectionDigests>(count: slots.count)
        DispatchQueue.concurrentPerform(iterations: pieces.count) { turn in
            switch pieces[turn] {
            case .beside:
                beside?()
            case .replay(let piece):
                let (index, part) = replays[piece]
                replayed.set(piece, Result { try replayedDigests(slots[index], part: part) { shared.advance(piece, to: $0) } })
            case .stored(let index):
                storedSideStarting?()
                stored.set(index, Result { try storedDigests(slots[index]) })
            }
        }
        // Sides that agree are the report; the other projections are replayed again, side by side, each
        // compared within one snapshot (a writer appended between the sides' snapshots, or a finding).
        var parts: [ProjectionReport?] = Array(repeating: nil, count: slots.count)
        var again: [Int] = []
        for index in slots.indices {
            // A replay that reached a row it had retired (nil) is done again, holding every row; so are parts
            // that saw different heads, and parts that failed: each part meets only some of the events, so
            // the whole replay says which failure comes first in the log, as it would have alone.
            let pieces = replays.indices.filter { replays[$0].slot == index }
            let pieceResults = try pieces.map { piece in
                replays[piece].part == nil ? try replayed.values[piece]!.get() : try? replayed.values[piece]!.get()
            }
            let replay = ProjectionDigests.joining(pieceResults), store = try stored.values[index]!.get()
            if let replay, replay == store { parts[index] = replay.report(slots[index].projection.name, stored: store) } else { again.append(index) }
        }
        let redone = Outcomes<ProjectionReport>(count: again.count), redo = again
        DispatchQueue.concurrentPerform(iterations: redo.count) { turn in redone.set(turn, Result { try verifyAndName(slots[redo[turn]]) { _ in } }) }
        for (turn, index) in again.enumerated() { parts[index] = try redone.values[turn]!.get() }
        var report = ProjectionReport(position: .max, storedDigests: [:], rebuiltDigests: [:], mismatches: [])
        report.replayedInParts = order.filter { index in replays.contains { $0.slot == index && $0.part != nil } }.map { slots[$0].projection.name }
        report.replayedAgain = again.map { slots[$0].projection.name }
        for part in parts {
            let part = part!
            report.position = min(report.position, part.position)
            report.storedDigests.merge(part.storedDigests) { $1 }
            report.rebuiltDigests.merge(part.rebuiltDigests) { $1 }
            report.mismatches += part.mismatches.prefix(ChainVerifier.failuresMax - report.mismatches.count)
            report.differingSums += part.differingSums
        }
        return report
    }

    /// What one side of a projection comes to at a head: each database's digest, and (within
    /// ``verifyProjection(_:keeping:progress:)``, to name what differs) each append-only database's parts.
    private struct ProjectionDigests: Equatable {
        var position: UInt64
        var digests: [String: Hash] = [:]
        /// The summaries of the append-only and the retirable databases: their parts and keyed sums.
        var summaries: [String: AppendOnlyDigest.Summary] = [:]

        /// Equal when the heads, every database's digest and every keyed sum are.
        static func == (a: ProjectionDigests, b: ProjectionDigests) -> Bool {
            a.position == b.position && a.digests == b.digests && a.differingSums(b).isEmpty
        }

        /// The databases whose keyed sums (``RowSetSum``, a table of one row per key) differ from `other`'s.
        func differingSums(_ other: ProjectionDigests) -> [String] {
            summaries.keys.filter { name in other.summaries[name].map { !summaries[name]!.sumsAgree(with: $0) } ?? true }
        }

        /// Whether database `name`'s sides differ: their digests, or their keyed sums.
        func differs(_ other: ProjectionDigests, in name: String) -> Bool {
            digests[name] != other.digests[name] || differingSums(other).contains(name)
        }

        /// The digests of a projection's parts (``Projection/replayParts``) as one side: nil when any part is
        /// nil (it reached a retired row) or when the parts saw different heads. One whole replay is itself.
        static func joining(_ parts: [ProjectionDigests?]) -> ProjectionDigests? {
            guard var joined = parts.first ?? nil else { return nil }
            for part in parts.dropFirst() {
                guard let part, part.position == joined.position else { return nil }
                precondition(Set(part.digests.keys).isDisjoint(with: joined.digests.keys), "the parts of a replay compare different databases")
                joined.digests.merge(part.digests) { old, _ in old }
                joined.summaries.merge(part.summaries) { old, _ in old }
            }
            return joined
        }

        /// Without the append-only databases' per-entity parts: a side compared later holds only the digests
        /// and the keyed sums meanwhile (64 KB a table of one row per key, whatever its size).
        var withoutParts: ProjectionDigests {
            ProjectionDigests(position: position, digests: digests, summaries: summaries.mapValues(\.withoutEntities))
        }

        /// A report of both sides' digests, with no mismatches named.
        func report(_ projection: String, stored: ProjectionDigests) -> ProjectionReport {
            func labelled(_ digests: [String: Hash]) -> [String: Hash] {
                Dictionary(uniqueKeysWithValues: digests.map { ("\(projection)/\($0.key)", $0.value) })
            }
            return ProjectionReport(
                position: position, storedDigests: labelled(stored.digests), rebuiltDigests: labelled(digests), mismatches: [],
                differingSums: differingSums(stored).map { "\(projection)/\($0)" })
        }
    }

    /// The progress of the side-by-side replays, reported as one sum over the projections, one call at a
    /// time, under the lock: a projection replayed in parts is as far as its slowest part.
    private final class SideBySide: @unchecked Sendable {
        private let lock = NSLock()
        /// Each replay piece's position.
        private var done: [UInt64]
        /// The pieces of each projection.
        private let piecesBySlot: [[Int]]
        private let total: UInt64
        private let progress: ((UInt64, UInt64) -> Void)?

        /// Progress for replay pieces of `slots` (each piece's projection) among `count` projections.
        init(slots: [Int], count: Int, total: UInt64, progress: ((UInt64, UInt64) -> Void)?) {
            done = Array(repeating: 0, count: slots.count)
            piecesBySlot = (0..<count).map { slot in slots.indices.filter { slots[$0] == slot } }
            self.total = total
            self.progress = progress
        }

        func advance(_ piece: Int, to position: UInt64) {
            lock.withLock {
                done[piece] = position
                let sum = piecesBySlot.reduce(0) { sum, pieces in sum + (pieces.map { done[$0] }.min() ?? 0) }
                progress?(sum, max(total, sum))
            }
        }
    }

    /// The results of pieces run side by side, each set under the lock and read once every piece is done.
    private final class Outcomes<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [Result<Value, any Error>?]

        init(count: Int) { values = Array(repeating: nil, count: count) }

        func set(_ index: Int, _ result: Result<Value, any Error>) { lock.withLock { values[index] = result } }
    }

    /// Whether the projection of slot `index` is replayed in its parts (``Projection/replayParts``): when it
    /// holds more rows than all the others together, so that one core would replay it while the other
    /// waits. On one core, or when the test hook says, never (or always).
    private func replaysInParts(_ index: Int, sizes: [Int]) -> Bool {
        if let forced = options.replayInParts { return forced }
        guard ProcessInfo.processInfo.activeProcessorCount > 1 else { return false }
        return sizes[index] > sizes.reduce(0, +) - sizes[index]
    }

    /// One projection (or one part of it, ``Projection/replayParts``) replayed into memory up to the head of
    /// a read snapshot of its own, and its databases' digests (a part's: those it compares); nil when the
    /// replay reached a row it had retired (``Projection/retirableDatabases``), so that its sums are not the
    /// projection's (the audit then replays it again holding every row).
    private func replayedDigests(_ live: ProjectionSlot, part: ReplayPart? = nil, progress: (UInt64) -> Void) throws -> ProjectionDigests? {
        let projection: any Projection = part.map { PartProjection(live.projection, $0) } ?? live.projection
        let compared = part?.compared ?? Set(projection.databaseNames)
        let retiring = !projection.retirableDatabases.isDisjoint(with: compared)
        let memory = MemoryProjections(
            [projection], memoryBytesMax: options.replayMemoryBytesMax, appendOnly: .digested, retiring: retiring,
            dropping: Set((part?.dropped ?? []).map { "\(projection.name)/\($0)" }))
        let head: UInt64
        do {
            head = try environment.read { txn in
                let head = try readHead(txn).position
                try replay(into: memory, upTo: head, reading: txn, retiring: retiring, progress: progress)
                return head
            }
        } catch  where memory.reachedRetiredRows {
            // An event that failed after the replay forgot a row it needed: not a finding until a replay
            // that holds every row says so.
            return nil
        }
        guard !memory.reachedRetiredRows else { return nil }
        return try digests(of: memory, projection, at: head, comparing: compared).withoutParts
    }

    /// The digests of one projection's stored databases, as the store presents them at the head of a read
    /// snapshot of its own (its rows at the checkpoint with the events after it folded in over them).
    private func storedDigests(_ live: ProjectionSlot) throws -> ProjectionDigests {
        try read { reader in try reader.withTransaction { txn in try storedDigests(reader.slot(of: live), txn).withoutParts } }
    }

    private func storedDigests(_ live: ProjectionSlot, _ txn: borrowing ReadTransaction) throws -> ProjectionDigests {
        var out = ProjectionDigests(position: try readHead(txn).position)
        var budget = MappedPagesBudget(checkEvery: MappedPagesBudget.walkCheckEvery, releasingFirst: environment)
        for name in live.projection.databaseNames {
            if let layout = live.projection.appendOnlyDatabases[name] {
                let summary = try AppendOnlyDigest.of(live.databases[name], layout: layout, txn) { budget.step(environment) }
                out.summaries[name] = summary
                out.digests[name] = summary.digest
            } else if live.projection.retirableDatabases.contains(name) {
                let summary = try ProjectionDigest.summed(live.databases[name], txn) { budget.step(environment) }
                out.summaries[name] = summary
                out.digests[name] = summary.digest
            } else {
                out.digests[name] = try ProjectionDigest.of(live.databases[name], txn) { budget.step(environment) }
            }
        }
        return out
    }

    /// The digests of a projection replayed into `memory` up to `position`: of every database, or of those
    /// `comparing` names (a part's).
    private func digests(
        of memory: MemoryProjections, _ projection: any Projection, at position: UInt64, comparing: Set<String>? = nil
    ) throws -> ProjectionDigests {
        let rebuilt = memory.slots[0]
        var out = ProjectionDigests(position: position)
        try memory.read { memoryTxn in
            for name in projection.databaseNames where comparing?.contains(name) ?? true {
                // An audit's replay digests every append-only database (`.digested`): it holds none of their rows.
                if projection.appendOnlyDatabases[name] != nil {
                    guard let sink = memory.appendOnlySink(rebuilt.databases[name]) else {
                        preconditionFailure("\(projection.name)/\(name) is append-only: an audit's replay digests it")
                    }
                    let summary = sink.summary()
                    out.summaries[name] = summary
                    out.digests[name] = summary.digest
                } else if projection.retirableDatabases.contains(name) {
                    let summary = try memory.summary(ofRetirable: rebuilt.databases[name])
                    out.summaries[name] = summary
                    out.digests[name] = summary.digest
                } else {
                    out.digests[name] = try ProjectionDigest.of(rebuilt.databases[name], memoryTxn)
                }
            }
        }
        return out
    }

    /// Replays positions 1…`head` into `memory`, chunk by chunk within its budget, reading `txn`; `retiring`
    /// (a replay made so), the rows of retirable databases left alone for
    /// ``EventLog/Options/replayRetireAfterEvents`` are folded away between chunks, every half of that.
    private func replay(
        into memory: MemoryProjections, upTo head: UInt64, reading txn: borrowing some TransactionReading & ~Copyable, retiring: Bool = false,
        progress: (UInt64) -> Void
    ) throws {
        var next: UInt64 = 1
        // A sweep looks at every row held: every half window, not every chunk (each chunk was 6 % of an audit).
        let window = options.replayRetireAfterEvents
        var swept: UInt64 = 0
        while next <= head {
            let to = min(head, next + options.replayChunkEvents - 1)
            try memory.withWriter { target in try replay(from: next, to: to, reading: txn, into: memory.slots, writing: target) }
            if retiring && to > window && to - swept >= max(1, window / 2) {
                memory.retire(writtenBefore: to - window)
                swept = to
            }
            try memory.checkBudget()
            progress(to)
            next = to + 1
        }
    }

    /// One projection replayed into memory and compared with the store. Where an append-only database's
    /// digests differ, the replay runs again keeping the rows of the entities that differ, to name them.
    private func verifyAndName(_ live: ProjectionSlot, progress: (UInt64) -> Void) throws -> ProjectionReport {
        let (report, differing) = try verifyProjection(live, progress: progress)
        guard !differing.isEmpty else { return report }
        // The rows kept to name can exceed the replay's budget (a long statement of a tampered account):
        // then the finding stands as the digests that differ, rather than become an error.
        guard var named = try? verifyProjection(live, keeping: differing, progress: { _ in }).report else { return report }
        named.mismatches = Array(named.mismatches.prefix(ChainVerifier.failuresMax))
        return named
    }

    /// One projection replayed into memory and compared with what the store presents, in one read snapshot;
    /// with the entities of append-only databases whose digests differ, by `projection/database`.
    private func verifyProjection(_ live: ProjectionSlot, keeping: [String: Set<[UInt8]>] = [:], progress: (UInt64) -> Void) throws -> (
        report: ProjectionReport, differing: [String: Set<[UInt8]>]
    ) {
        let memory = MemoryProjections([live.projection], memoryBytesMax: options.replayMemoryBytesMax, appendOnly: .digested, keeping: keeping)
        let rebuilt = memory.slots[0]
        return try read { reader in
            try reader.withTransaction { txn in
                let live = reader.slot(of: live)
                let head = try readHead(txn).position
                try replay(into: memory, upTo: head, reading: txn, progress: progress)
                let stored = try storedDigests(live, txn), replayed = try digests(of: memory, live.projection, at: head)
                var report = replayed.report(live.projection.name, stored: stored)
                var differing: [String: Set<[UInt8]>] = [:]
                try memory.read { memoryTxn in
                    for name in live.projection.databaseNames where stored.differs(replayed, in: name) {
                        let label = "\(live.projection.name)/\(name)"
                        if let layout = live.projection.appendOnlyDatabases[name] {
                            if let parts = keeping[label] {
                                report.mismatches += try rowMismatches(
                                    live.projection.name, name, layout, parts, stored: live.databases[name], txn,
                                    replayed: memory.appendOnlySink(rebuilt.databases[name])!.kept)
                            } else {
                                let parts = stored.summaries[name]!.differing(from: replayed.summaries[name]!).sorted { $0.lexicographicallyPrecedes($1) }
                                differing[label] = Set(parts.prefix(ChainVerifier.failuresMax))
                            }
                            continue
                        }
                        // Only a database whose digests differ is read whole, to name the differing keys.
                        let storedByKey = Dictionary(try contents(of: live.databases[name], txn), uniquingKeysWith: { $1 })
                        let freshByKey = Dictionary(try contents(of: rebuilt.databases[name], memoryTxn), uniquingKeysWith: { $1 })
                        for key in Set(storedByKey.keys).union(freshByKey.keys).sorted(by: { $0.lexicographicallyPrecedes($1) })
                        where storedByKey[key] != freshByKey[key] && report.mismatches.count < ChainVerifier.failuresMax {
                            report.mismatches.append(
                                ProjectionMismatch(
                                    projection: live.projection.name, database: name, key: key,
                                    stored: storedByKey[key], rebuilt: freshByKey[key]))
                        }
                    }
                }
                return (report, differing)
            }
        }
    }

    /// The rows of `parts` (entities, or buckets of a table of one row per key) in an append-only database where the store and a
    /// replay that kept them differ.
    private func rowMismatches(
        _ projection: String, _ name: String, _ layout: AppendOnlyLayout, _ parts: Set<[UInt8]>, stored database: Database,
        _ txn: borrowing some TransactionReading & ~Copyable, replayed: [[UInt8]: [UInt8]]
    ) throws -> [ProjectionMismatch] {
        var stored: [[UInt8]: [UInt8]] = [:]
        if layout == .oneRowPerKey {
            // The stored rows in the buckets whose sums differ: a stored row under the key of a replayed row
            // with another value has a fingerprint of its own, in a bucket that differs too.
            try txn.walk(database) { key, value in
                if parts.contains(RowSetSum.part(RowSetSum.Fingerprint(key, value).bucket)) { stored[Array(key)] = Array(value) }
                return true
            }
        }
        for entity in parts where layout != .oneRowPerKey {
            // A forged key outside the layout is an entity of its own: the key itself. Only a real entity
            // (no zero byte) has a run of rows under `entity ‖ 0`; walking one for a forged key would name
            // the real rows that share its beginning.
            if let value = try txn.value(in: database, key: entity) { stored[entity] = value }
            guard !entity.contains(0) else { continue }
            let prefix = entity + [0]
            try txn.walk(database, from: prefix) { key, value in
                guard key.starts(with: prefix) else { return false }
                stored[Array(key)] = Array(value)
                return true
            }
        }
        return Set(stored.keys).union(replayed.keys).sorted { $0.lexicographicallyPrecedes($1) }.compactMap { key in
            stored[key] == replayed[key]
                ? nil : ProjectionMismatch(projection: projection, database: name, key: key, stored: stored[key], rebuilt: replayed[key])
        }
    }

    private func contents(of database: Database, _ txn: borrowing some TransactionReading & ~Copyable) throws -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        try txn.walk(database) { key, value in
            out.append((Array(key), Array(value))); return true
        }
        return out
    }
}
