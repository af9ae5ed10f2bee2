import CLMDB
import Foundation

/// Events replayed per scratch transaction when the events come from outside a store (an export).
let replayChunkEvents: UInt64 = 50_000

/// A projection and the databases it uses in one generation.
struct ProjectionSlot: @unchecked Sendable {
    let projection: any Projection
    let databases: ProjectionDatabases
}

/// A registered projection: its databases in both of the names a generation can have. Generations
/// alternate between two sets of databases (`#0` for even generations, `#1` for odd ones, docs/FORMAT.md):
/// a rebuild fills the set not in use and swaps it in, so that a long-lived process never needs more
/// database handles than it opened, however many rebuilds other processes make.
struct RegisteredProjection: @unchecked Sendable {
    let projection: any Projection
    /// The databases of even and of odd generations (nil where a read-only store has none yet).
    let sets: [ProjectionDatabases?]
    /// The overlay slots of its databases, in ``ProjectionDatabases/all`` order.
    let overlaySlots: Range<Int>
    /// Its checkpoint's key in the meta database.
    let checkpointKey: [UInt8]

    /// The projection with the databases of `generation`.
    func slot(generation: UInt32) throws -> ProjectionSlot {
        guard let databases = sets[Int(generation % 2)] else { throw MissingDatabases(projection: projection.name, parity: Int(generation % 2)) }
        return ProjectionSlot(projection: projection, databases: databases.inGeneration(generation))
    }
}

/// Thrown inside a transaction that meets a generation whose set of databases this process has not opened
/// (only the set in use is opened, since every open database handle makes each transaction's start dearer):
/// the set is opened outside the transaction and the transaction runs again.
struct MissingDatabases: Error {
    let projection: String
    let parity: Int
}

/// What a process holds of the projections in memory: the rows changed since the stored checkpoints.
///
/// The invariant: for each projection, LMDB's rows at its checkpoint (``bases``) with ``changes`` laid over
/// them are the fold of log positions 1 … ``applied``. A checkpoint stored by any process between a base
/// and `applied` keeps it true (its rows are the fold at its position, and every row changed after the base
/// is in `changes`); anything else resets that projection to its stored checkpoint.
struct ProjectionState {
    /// Per projection: the stored checkpoint the changes lie over.
    var bases: [ProjectionCheckpoint]
    /// Per projection: the last position folded in.
    var applied: [UInt64]
    /// Per overlay slot: changed rows.
    var changes: [RowOverlay.Changes]
    /// Per projection: its databases in the generation of its base.
    var slots: [ProjectionSlot]
    /// One more at every publication, so that a reader publishes only over the state it started from.
    var serial: UInt64 = 0
    /// The LMDB snapshot (``TransactionReading/snapshotId``) this state was last found complete for, with
    /// its head: a read of the same snapshot needs no check (the usual case, a process reading what it or
    /// nobody else has written since).
    var checkedSnapshot: (id: Int, head: LogHead)? = nil
    /// An overlay over ``changes`` for reads of the checked snapshot, made once when the state is published
    /// and shared by them: a read never writes to it (its top stays empty).
    var readOverlay: RowOverlay? = nil

}

/// One transaction's view of the projections: its slots and its overlay, the state it started from, the
/// head it caught up to.
struct ProjectionView {
    var state: ProjectionState
    let overlay: RowOverlay
    let head: LogHead
    /// Whether some projection was started again from its stored checkpoint.
    var reset = false
    /// The snapshot it was made in.
    var snapshotId = 0
}

extension EventLog {
    func currentSlots() -> [ProjectionSlot] { stateLock.withLock { published.slots } }

    /// A projection's checkpoint as the meta database records it: nil when it has none, `.legacy` when a
    /// store written before checkpoints carried the log's hash has one.
    func readCheckpoint(_ name: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> StoredCheckpoint? {
        try readCheckpoint(name, key: StoreLayout.projectionKey(name), txn)
    }

    func readCheckpoint(_ name: String, key: [UInt8], _ txn: borrowing some TransactionReading & ~Copyable) throws -> StoredCheckpoint? {
        try key.withUnsafeBytes { key in
            try txn.withValue(in: meta, key: key) { bytes -> StoredCheckpoint in
                if let checkpoint = ProjectionCheckpoint(bytes) { return .current(checkpoint) }
                if let generation = ProjectionCheckpoint.legacyGeneration(bytes) { return .legacy(generation: generation) }
                throw LogError.corrupt(position: 0, reason: "the checkpoint of projection \(name) is malformed; rebuild it with: linli rebuild")
            }
        }
    }

    /// Records a projection's checkpoint in the meta database, in the caller's write transaction.
    func writeCheckpoint(_ checkpoint: ProjectionCheckpoint, for name: String, _ txn: borrowing WriteTransaction) throws {
        try txn.put(meta, key: StoreLayout.projectionKey(name), value: checkpoint.encoded)
    }

    /// Why a stored checkpoint cannot be trusted, or nil when it can: it names this build's version of the
    /// projection, lies at or below the head, and carries the log's hash at its position (a store put back
    /// from an older backup under newer projections, or tampered with, fails that).
    func distrust(
        _ checkpoint: ProjectionCheckpoint, of projection: any Projection, head: LogHead,
        _ txn: borrowing some TransactionReading & ~Copyable
    ) throws -> String? {
        guard checkpoint.version == projection.version else { return "it was built by version \(checkpoint.version), this build is \(projection.version)" }
        guard checkpoint.position <= head.position else { return "it stands at position \(checkpoint.position), past the log's head \(head.position)" }
        let hash = try hashOfEvent(at: checkpoint.position, txn)
        guard hash == checkpoint.hash else { return "the log's hash at position \(checkpoint.position) is not the one it records" }
        return nil
    }

    /// The hash of the event at `position` (``Hash/genesis`` at 0).
    func hashOfEvent(at position: UInt64, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Hash {
        guard position > 0 else { return .genesis }
        let hash = try bigEndianKey(position).withUnsafeBytes { key in
            try txn.withValue(in: events, key: key) { record in RecordCodec.checkHash(record).map { Hash($0.hash) } }
        }
        guard let hash, let hash else { throw LogError.corrupt(position: position, reason: "missing or malformed") }
        return hash
    }

    static let legacyReason = "it was written by the layout before checkpoints carried the log's hash"

    /// Registers the projections: opens both sets of databases of each, rebuilds a projection that has no
    /// trustworthy checkpoint (new to the store, another version, a store written before checkpoints
    /// carried the log's hash, or one put back under a log it does not match), and drops the databases of
    /// the layout before.
    func openProjections(_ projections: [any Projection]) throws {
        var seen = Set<String>()
        for projection in projections {
            precondition(seen.insert(projection.name).inserted, "two projections named \(projection.name)")
            precondition(
                projection.name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 },
                "projection names use a-z, 0-9, '.' and '-'")
        }
        var next = 0
        let entries = projections.map { projection in
            let slots = next..<(next + projection.databaseNames.count)
            next = slots.upperBound
            return RegisteredProjection(
                projection: projection, sets: [nil, nil], overlaySlots: slots, checkpointKey: StoreLayout.projectionKey(projection.name))
        }
        stateLock.withLock { registeredStorage = entries }
        let untrusted = try environment.read { txn -> [(String, String)] in
            let head = try readHead(txn)
            return try registered.compactMap { entry -> (String, String)? in
                switch try readCheckpoint(entry.projection.name, txn) {
                case nil: return (entry.projection.name, "it has not been built")
                case .legacy: return (entry.projection.name, Self.legacyReason)
                case .current(let checkpoint):
                    return try distrust(checkpoint, of: entry.projection, head: head, txn).map { (entry.projection.name, $0) }
                }
            }
        }
        if !untrusted.isEmpty {
            guard !options.readOnly else {
                let (name, reason) = untrusted[0]
                if reason == Self.legacyReason { throw LogError.projectionsNeedUpgrade(path: path) }
                throw LogError.projectionsNeedRebuild(path: path, reason: "projection \(name): \(reason)")
            }
            try rebuildProjections(named: untrusted.map(\.0), progress: options.upgradeProgress)
        }
        try resetPublishedState()
        if !options.readOnly { try dropLegacyProjectionDatabases() }
    }

    /// Opens one set of a projection's databases (nil when read-only and they do not exist).
    private func openSet(_ projection: any Projection, parity: Int, firstSlot: Int) throws -> ProjectionDatabases? {
        var byName: [String: Database] = [:]
        for (offset, name) in projection.databaseNames.sorted().enumerated() {
            let lmdbName = ProjectionDatabases.lmdbName(projection: projection.name, database: name, parity: parity)
            do {
                byName[name] = try environment.database(named: lmdbName, create: !options.readOnly).overlaid(at: firstSlot + offset)
            } catch LMDBError.Code.notFound where options.readOnly {
                return nil
            }
        }
        return ProjectionDatabases(projection: projection.name, generation: UInt32(parity), byName: byName, declared: projection.databaseNames)
    }

    /// The published state made anew from the stored checkpoints: nothing in memory.
    func resetPublishedState() throws {
        let state = try openingMissingSets { try environment.read { txn in try freshState(txn) } }
        stateLock.withLock { published = state }
    }

    /// Runs `body`, opening a set of databases it found missing and running it again.
    func openingMissingSets<R>(_ body: () throws -> R) throws -> R {
        // At most each projection's two sets: a store opened for the first time meets one missing set at a time.
        for _ in 0...(2 * registered.count + 1) {
            do {
                return try body()
            } catch let missing as MissingDatabases {
                try openSet(missing)
            }
        }
        throw LogError.projectionsNeedRebuild(path: path, reason: "their databases kept changing while they were being opened")
    }

    /// Opens one missing set (outside any transaction of this process's).
    func openSet(_ missing: MissingDatabases) throws {
        guard let index = registered.firstIndex(where: { $0.projection.name == missing.projection }) else { return }
        let entry = registered[index]
        guard entry.sets[missing.parity] == nil else { return }
        guard let set = try openSet(entry.projection, parity: missing.parity, firstSlot: entry.overlaySlots.lowerBound) else {
            throw LogError.projectionsNeedRebuild(path: path, reason: "projection \(missing.projection)'s checkpoint names databases the store does not hold")
        }
        var sets = entry.sets
        sets[missing.parity] = set
        let opened = RegisteredProjection(projection: entry.projection, sets: sets, overlaySlots: entry.overlaySlots, checkpointKey: entry.checkpointKey)
        stateLock.withLock { registeredStorage[index] = opened }
    }

    private func freshState(_ txn: borrowing some TransactionReading & ~Copyable) throws -> ProjectionState {
        var bases: [ProjectionCheckpoint] = []
        var slots: [ProjectionSlot] = []
        for entry in registered {
            guard case .current(let checkpoint) = try readCheckpoint(entry.projection.name, txn) else {
                throw LogError.projectionsNeedRebuild(path: path, reason: "projection \(entry.projection.name) has no checkpoint")
            }
            bases.append(checkpoint)
            slots.append(try entry.slot(generation: checkpoint.generation))
        }
        let slotsCount = registered.last?.overlaySlots.upperBound ?? 0
        return ProjectionState(bases: bases, applied: bases.map(\.position), changes: Array(repeating: ChangedRows(), count: slotsCount), slots: slots)
    }

    /// This transaction's view of the projections: the published state, checked against the checkpoints
    /// stored in this snapshot, with the events after it (appended by other processes, or not yet folded
    /// in by this one) replayed into the overlay's top.
    func projectionView(_ txn: borrowing some TransactionReading & ~Copyable) throws -> ProjectionView {
        let snapshot = txn.snapshotId
        var state = stateLock.withLock { published }
        if let checked = state.checkedSnapshot, checked.id == snapshot {
            return ProjectionView(state: state, overlay: state.readOverlay ?? RowOverlay(below: state.changes), head: checked.head, snapshotId: snapshot)
        }
        let head = try readHead(txn)
        var reset = false
        for (index, entry) in registered.enumerated() {
            guard case .current(let stored) = try readCheckpoint(entry.projection.name, key: entry.checkpointKey, txn) else {
                throw LogError.projectionsNeedRebuild(path: path, reason: "projection \(entry.projection.name) lost its checkpoint")
            }
            guard stored != state.bases[index] else { continue }
            if let reason = try distrust(stored, of: entry.projection, head: head, txn) {
                throw LogError.projectionsNeedRebuild(path: path, reason: "projection \(entry.projection.name): \(reason)")
            }
            let base = state.bases[index]
            let covered = stored.generation == base.generation && stored.position >= base.position && stored.position <= state.applied[index]
            state.bases[index] = stored
            if !covered || stored.position == state.applied[index] {
                // Not what this state holds (a rebuild, a checkpoint ahead of it, an older snapshot), or all
                // of it stored already: start again from the stored rows.
                state.applied[index] = stored.position
                for slot in entry.overlaySlots { state.changes[slot] = ChangedRows() }
                state.slots[index] = try entry.slot(generation: stored.generation)
                reset = true
            }
        }
        let overlay = RowOverlay(below: state.changes)
        try replayTail(to: head.position, applied: state.applied, slots: state.slots, reading: txn, into: overlay)
        return ProjectionView(state: state, overlay: overlay, head: head, reset: reset, snapshotId: snapshot)
    }

    /// Folds the events after each projection's applied position, up to `to`, into the overlay's top,
    /// through a view that can write projection rows only.
    private func replayTail(
        to: UInt64, applied: [UInt64], slots: [ProjectionSlot], reading txn: borrowing some TransactionReading & ~Copyable,
        into overlay: RowOverlay
    ) throws {
        guard let from = applied.min().map({ $0 + 1 }), from <= to else { return }
        let target = WriteTransaction(borrowing: txn.handle, rows: overlay, overlayOnly: true)
        let filter = EventTypeFilter(slots)
        var expected = from
        try txn.walk(events, from: bigEndianKey(from)) { key, record in
            guard let position = bigEndianValue(key), position <= to else { return false }
            guard position == expected else { throw LogError.corrupt(position: expected, reason: "missing; the next stored position is \(position)") }
            let type = RecordCodec.type(of: record)
            var event: RecordedEvent?
            for (index, slot) in slots.enumerated() where position > applied[index] && filter.wants(index, type) {
                if event == nil { event = try RecordCodec.decode(record, expectedPosition: position) }
                try slot.projection.apply(event!, in: target, databases: slot.databases)
            }
            expected += 1
            return true
        }
        guard expected == to + 1 else { throw LogError.corrupt(position: expected, reason: "missing while catching the projections up to \(to)") }
    }

    /// Publishes what a read caught up, when no other transaction of this process published meanwhile.
    func publishCaughtUp(_ view: ProjectionView) {
        // A snapshot older than the published state (another thread committed after it began) has nothing
        // to add.
        guard view.state.applied.allSatisfy({ $0 <= view.head.position }) else { return }
        if view.state.checkedSnapshot?.id == view.snapshotId { return }
        var state = view.state
        if view.overlay.topRowsCount > 0 { merge(view.overlay.top, into: &state.changes) }
        state.applied = state.applied.map { _ in view.head.position }
        state.checkedSnapshot = (view.snapshotId, view.head)
        state.readOverlay = RowOverlay(below: state.changes)
        stateLock.withLock {
            guard published.serial == view.state.serial else { return }
            state.serial = published.serial &+ 1
            published = state
        }
    }

    /// Publishes a committed write's state: it is the newest (the write lock was held), so it replaces
    /// whatever a reader published meanwhile. Every other reference to the published changes is dropped
    /// before the transaction's are merged into them, so that the merge happens in place (a reader of
    /// another thread holding a copy makes it copy once).
    func publishCommitted(_ view: inout ProjectionView, head: LogHead) {
        let top = view.overlay.top
        view.overlay.top = []
        stateLock.withLock {
            // The overlay's below is the state's changes, or nothing after a checkpoint inside the write.
            var changes = view.overlay.below
            view.overlay.below = []
            view.state.changes = []
            view.state.readOverlay = nil
            if published.serial == view.state.serial {
                published.changes = []
                published.readOverlay = nil
            }
            merge(top, into: &changes)
            var state = view.state
            state.changes = changes
            state.applied = state.applied.map { _ in head.position }
            // The next snapshot, if no other process commits first, is this write's (its id is the write
            // transaction's): complete for it.
            state.checkedSnapshot = view.snapshotId > 0 ? (view.snapshotId, head) : nil
            state.readOverlay = RowOverlay(below: changes)
            state.serial = published.serial &+ 1
            published = state
        }
    }

    private func merge(_ top: [RowOverlay.Changes], into changes: inout [RowOverlay.Changes]) {
        for slot in top.indices where !top[slot].isEmpty {
            changes[slot].merge(top[slot])
        }
    }

    /// Writes the view's rows (the published changes and the transaction's own) into LMDB with a checkpoint
    /// at `head` for every projection, in the caller's write transaction, and empties the overlay: from here
    /// on the transaction's own LMDB rows are the state. Rows are put in key order, one database at a time.
    func writeCheckpoints(_ view: inout ProjectionView, at head: LogHead, _ txn: borrowing WriteTransaction) throws {
        precondition(txn.rows == nil, "checkpoint rows go to LMDB, not to an overlay")
        // Writing 65,536 events' rows descends every projection tree, in key order: the map's pages read on
        // the way are kept within the replays' budget, measured as a walk's (they made most of a long
        // batch's peak memory).
        var pages = MappedPagesBudget(checkEvery: MappedPagesBudget.walkCheckEvery, releasingFirst: environment)
        for (index, entry) in registered.enumerated() {
            let slot = view.state.slots[index]
            guard case .current(let stored) = try readCheckpoint(entry.projection.name, txn), stored.generation == slot.databases.generation,
                stored.position <= head.position
            else {
                preconditionFailure("a checkpoint of \(entry.projection.name) would go over a newer one or another generation")
            }
            for (_, database) in slot.databases.all {
                var rows = view.overlay.below[database.overlaySlot]
                if !view.overlay.top.isEmpty { rows.merge(view.overlay.top[database.overlaySlot]) }
                try rows.forEachInOrder { key, value in
                    if let value { try txn.put(database, key: key, value: value) } else { try txn.delete(database, key: key) }
                    pages.step(environment)
                }
            }
            let checkpoint = ProjectionCheckpoint(
                version: entry.projection.version, generation: slot.databases.generation,
                position: head.position, hash: head.hash)
            try writeCheckpoint(checkpoint, for: entry.projection.name, txn)
            view.state.bases[index] = checkpoint
            view.state.applied[index] = head.position
        }
        let empty = Array(repeating: RowOverlay.Changes(), count: view.overlay.below.count)
        view.overlay.below = empty
        view.overlay.top = empty
        view.state.changes = empty
    }

    /// Writes the projections' state in memory to the store with a checkpoint at the head, so that the next
    /// process to open it replays nothing. ``write(_:)`` does this by itself every
    /// ``Options/checkpointEvents`` events; a program calls it before it exits (the CLI does after every
    /// command that writes). Does nothing when the stored checkpoints are at the head already.
    public func checkpoint() throws {
        precondition(!options.readOnly, "checkpoint on a read-only log")
        var view = try openingMissingSets {
            try environment.write { txn -> ProjectionView in
                var view = try projectionView(txn)
                if view.state.bases.contains(where: { $0.position != view.head.position }) {
                    try writeCheckpoints(&view, at: view.head, txn)
                } else {
                    // Nothing written: LMDB commits no new snapshot, so this one's id names no state.
                    view.snapshotId = 0
                }
                return view
            }
        }
        publishCommitted(&view, head: view.head)
    }

    /// Rebuilds the named projections (all when `names` is nil) from position 1 into the set of databases
    /// not in use, then swaps them in with a checkpoint at the head and empties the old set. Writers may go
    /// on meanwhile: the last chunk runs in the same transaction as the swap. One rebuild at a time runs on
    /// a store: another process's rebuild makes this one throw ``LogError/rebuildInProgress(path:)``.
    public func rebuildProjections(named names: [String]? = nil, progress: ((UInt64, UInt64) -> Void)? = nil) throws {
        if let unknown = names?.first(where: { name in !registered.contains { $0.projection.name == name } }) {
            throw LogError.invalid(
                field: "projection",
                reason: "no projection is named \(unknown); the projections are "
                    + registered.map(\.projection.name).joined(separator: ", "))
        }
        let targets = registered.filter { names?.contains($0.projection.name) ?? true }
        guard !targets.isEmpty else { return }
        try RebuildLock.holding(in: path) {
            let stored = try environment.read { txn in try targets.map { try readCheckpoint($0.projection.name, txn) } }
            let fresh = try zip(targets, stored).map { entry, checkpoint in
                let generation: UInt32 =
                    switch checkpoint {
                    case .current(let checkpoint): checkpoint.generation &+ 1
                    case .legacy(let generation): generation &+ 1
                    case nil: 1
                    }
                try openSet(MissingDatabases(projection: entry.projection.name, parity: Int(generation % 2)))
                return try registered.first { $0.projection.name == entry.projection.name }!.slot(generation: generation)
            }
            // A rebuild interrupted by a crash may have left rows in the set it fills.
            for slot in fresh { for (_, database) in slot.databases.all { try emptyInChunks(database.name) } }
            try replayAll(into: fresh, progress: progress)
            for slot in fresh {
                let old = slot.databases.generation &+ 1
                for name in slot.projection.databaseNames {
                    try emptyInChunks(ProjectionDatabases.lmdbName(projection: slot.projection.name, database: name, parity: Int(old % 2)))
                }
            }
        }
        try resetPublishedState()
    }

    /// Replays the whole log into `fresh` a chunk per transaction, the last chunk with the swap.
    private func replayAll(into fresh: [ProjectionSlot], progress: ((UInt64, UInt64) -> Void)?) throws {
        var next: UInt64 = 1
        while true {
            // The body may run twice (LMDB's map grows and the write is retried), so it changes nothing
            // outside itself: `next` advances only once the chunk has committed.
            let (finished, head, to) = try environment.write { txn -> (Bool, UInt64, UInt64) in
                let head = try readHead(txn)
                let to = min(head.position, next + options.replayChunkEvents - 1)
                try replay(from: next, to: to, reading: txn, into: fresh, writing: txn)
                guard to == head.position else { return (false, head.position, to) }
                for slot in fresh {
                    let checkpoint = ProjectionCheckpoint(
                        version: slot.projection.version, generation: slot.databases.generation,
                        position: head.position, hash: head.hash)
                    try writeCheckpoint(checkpoint, for: slot.projection.name, txn)
                }
                return (true, head.position, to)
            }
            next = to + 1
            progress?(min(to, head), head)
            if finished { return }
        }
    }

    /// Applies the events from `from` to `to` (inclusive), read in `source`, to the given projections,
    /// written in `target` (the same transaction, or a scratch environment's for an audit).
    func replay(
        from: UInt64, to: UInt64, reading source: borrowing some TransactionReading & ~Copyable,
        into slots: [ProjectionSlot], writing target: borrowing WriteTransaction, targetEnvironment: Environment? = nil
    ) throws {
        guard from <= to else { return }
        // A replay reads every page of the log once and the projections' pages all over their trees; the
        // budget keeps the pages read from piling up in the resident set (both maps are read-only and
        // shared, so an open transaction reads them back from the page cache as needed).
        var budget = MappedPagesBudget(releasingFirst: environment, targetEnvironment)
        var expected = from
        let filter = EventTypeFilter(slots)
        try source.walk(events, from: bigEndianKey(from)) { key, record in
            guard let position = bigEndianValue(key), position <= to else { return false }
            guard position == expected else { throw LogError.corrupt(position: expected, reason: "missing; the next stored position is \(position)") }
            // Decoded only when a projection wants its type (the chain pass, not a replay, checks every record).
            let type = RecordCodec.type(of: record)
            var event: RecordedEvent?
            for (index, slot) in slots.enumerated() where filter.wants(index, type) {
                if event == nil { event = try RecordCodec.decode(record, expectedPosition: position) }
                try slot.projection.apply(event!, in: target, databases: slot.databases)
            }
            expected += 1
            budget.step(environment, targetEnvironment)
            return true
        }
        guard expected == to + 1 else { throw LogError.corrupt(position: expected, reason: "missing while replaying to \(to)") }
    }

    /// Drops the databases of the layout before generations alternated between two sets (`p/NAME/DB@N`).
    func dropLegacyProjectionDatabases() throws {
        let registeredPrefixes = registered.map { "p/\($0.projection.name)/" }
        for name in try environment.databaseNames() where name.hasPrefix("p/") && name.contains("@") {
            guard registeredPrefixes.contains(where: { name.hasPrefix($0) }) else { continue }
            try emptyInChunks(name)
            try environment.dropDatabase(named: name)
        }
    }
}

/// One rebuild at a time per store: an exclusive `flock` on `rebuild.lock` in the store's folder, which
/// the kernel releases when the process ends, however it ends.
enum RebuildLock {
    static func holding<R>(in storePath: String, _ body: () throws -> R) throws -> R {
        let file = (storePath as NSString).appendingPathComponent("rebuild.lock")
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogError.notAStore(path: storePath, reason: "cannot create rebuild.lock: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK { throw LogError.rebuildInProgress(path: storePath) }
            throw LogError.notAStore(path: storePath, reason: "cannot lock rebuild.lock: \(String(cString: strerror(errno)))")
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

extension EventLog {
    /// Deletes an old generation's rows a chunk of keys per transaction, releasing the pages read between
    /// chunks, before the database itself is dropped: dropping a tree of millions of rows in one call reads
    /// every one of its pages into the process's resident set at once.
    func emptyInChunks(_ name: String, keysPerChunk: Int = 50_000) throws {
        // A set never opened (the other parity of a store that was never rebuilt) has nothing to empty.
        guard try environment.databaseExists(named: name) else { return }
        let database = try environment.database(named: name, create: false)
        while true {
            let deleted = try environment.write { txn -> Int in
                // A tree filled in random order lies all over the file: its walk is random reads too.
                var budget = MappedPagesBudget(releasingFirst: environment)
                var keys: [[UInt8]] = []
                try txn.walk(database) { key, _ in
                    keys.append(Array(key))
                    budget.step(environment)
                    return keys.count < keysPerChunk
                }
                for key in keys {
                    _ = try txn.delete(database, key: key)
                    budget.step(environment)
                }
                environment.releaseMappedPages()
                return keys.count
            }
            if deleted < keysPerChunk { return }
        }
    }
}

extension Environment {
    /// The names of every named database (the keys of LMDB's main database).
    public func databaseNames() throws -> [String] {
        try read { txn in
            var main: MDB_dbi = 0
            try check(mdb_dbi_open(txn.handle, nil, 0, &main), "mdb_dbi_open(main)")
            var names: [String] = []
            try txn.walk(Database(dbi: main, name: "main")) { key, _ in
                names.append(String(decoding: key, as: UTF8.self))
                return true
            }
            return names
        }
    }
}

/// Checks on a store's directory before LMDB touches it, so that a wrong path is reported and left as it was.
enum StorePath {
    static func prepareForCreate(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw LogError.notAStore(path: path, reason: "it is a regular file") }
            // A creation killed before it marked the store (the magic is written last) is finished now
            // rather than refused: the folder holds Linli's empty databases and nothing else. A store
            // is refused before anything in it is opened for writing.
            if FileManager.default.fileExists(atPath: path + "/data.mdb"), !interruptedCreation(path) {
                try checkExisting(path)
                throw LogError.storeExists(path: path)
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw LogError.notAStore(path: path, reason: "cannot create the directory: \(error.localizedDescription)")
            }
        }
        // The store's folder is its owner's alone, whatever the umask (docs/AUDIT.md, "Trust model").
        guard chmod(path, 0o700) == 0 else {
            throw LogError.notAStore(path: path, reason: "cannot make the directory private (mode 700): \(String(cString: strerror(errno)))")
        }
        guard access(path, W_OK | R_OK | X_OK) == 0 else {
            throw LogError.notAStore(path: path, reason: "cannot read and write the directory: \(String(cString: strerror(errno)))")
        }
    }

    /// A probe of the folder's environment: read-only, and without a lock file when there is none (LMDB
    /// makes one on every open, so then the folder is open nowhere, and none is made in it).
    static func probe(_ path: String) throws(LMDBError) -> Environment {
        var options = Environment.Options()
        options.readOnly = true
        options.noLock = !FileManager.default.fileExists(atPath: path + "/lock.mdb")
        options.initialMapSizeBytes = 1 << 20
        return try Environment(path: path, options: options)
    }

    /// Whether the store at `path` (checked by ``checkExisting(_:)``) holds no event; false if that cannot
    /// be read, so that a store in doubt is never taken for an empty one.
    static func holdsNoEvents(_ path: String) -> Bool {
        guard let probe = try? probe(path), let events = try? probe.database(named: StoreLayout.events, create: false) else { return false }
        return (try? probe.read { try $0.count(events) }) == 0
    }

    static func checkExisting(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw LogError.storeMissing(path: path) }
        guard isDirectory.boolValue else { throw LogError.notAStore(path: path, reason: "it is a regular file") }
        guard access(path, R_OK | X_OK) == 0 else {
            throw LogError.notAStore(path: path, reason: "cannot read the directory: \(String(cString: strerror(errno)))")
        }
        let data = path + "/data.mdb"
        guard FileManager.default.fileExists(atPath: data) else { throw LogError.storeMissing(path: path) }
        guard access(data, R_OK) == 0 else {
            throw LogError.notAStore(path: path, reason: "cannot read data.mdb: \(String(cString: strerror(errno)))")
        }
        // Probe read-only. Without a lock file the folder is not open anywhere (LMDB makes one on every
        // open), so the probe goes without, and creates none in what may be another program's folder. With
        // one, a writer may be committing: LMDB allows MDB_NOLOCK only where no writer is active (a reader
        // outside the lock's reader table may read pages the writer reuses), so the probe registers as a
        // reader like any other. (The exits 3 beside a writer that the issue saw were a map grown by the
        // writer under the probe, MDB_MAP_RESIZED, now adopted by every begin: `OpenProbeTests`.)
        let probe: Environment
        do {
            probe = try Self.probe(path)
        } catch {
            throw LogError.notAStore(path: path, reason: "data.mdb is not a readable LMDB environment (\(error.message))")
        }
        let magic: [UInt8]?
        do {
            let meta = try probe.database(named: StoreLayout.meta, create: false)
            magic = try probe.read { try $0.value(in: meta, key: StoreLayout.magicKey) }
        } catch LMDBError.Code.notFound {
            if interruptedCreation(probe) {
                throw LogError.notAStore(path: path, reason: interruptedCreationReason)
            }
            throw LogError.notAStore(path: path, reason: "an LMDB environment of another program (no Linli meta database)")
        } catch let error as LMDBError {
            throw LogError.notAStore(
                path: path, reason: "its meta database cannot be read (\(error.message)); try again, and if it persists run `linli audit verify`")
        }
        guard magic == StoreLayout.magicValue else {
            if interruptedCreation(probe) {
                throw LogError.notAStore(path: path, reason: interruptedCreationReason)
            }
            throw LogError.notAStore(path: path, reason: "an LMDB environment of another program (no Linli magic)")
        }
    }

    /// What a store whose creation was interrupted says to do.
    static let interruptedCreationReason = "its creation was interrupted before it held anything; run `linli init --admin ID` on it again"

    /// Whether `path` holds what an interrupted creation leaves: no magic, and at most Linli's own
    /// databases, all of them empty (an environment with nothing in it has nothing of anyone's to lose).
    static func interruptedCreation(_ path: String) -> Bool {
        guard let probe = try? probe(path) else { return false }
        return interruptedCreation(probe)
    }

    /// Whether the probe's environment holds what an interrupted creation leaves; false if any of it
    /// cannot be read (a main database holding a value under one of Linli's names is another program's).
    /// Takes the open probe: LMDB forbids opening one environment twice in a process.
    static func interruptedCreation(_ probe: Environment) -> Bool {
        let ours: Set<String> = [StoreLayout.events, StoreLayout.streamHeads, StoreLayout.commands, StoreLayout.meta]
        guard let names = try? probe.databaseNames(), Set(names).isSubset(of: ours) else { return false }
        for name in names {
            guard let database = try? probe.database(named: name, create: false), (try? probe.read({ try $0.count(database) })) == 0 else { return false }
        }
        return true
    }
}
