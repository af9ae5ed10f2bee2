import CLMDB
import Foundation

/// A registered projection and the generation of databases it now uses.
final class ProjectionSlot: @unchecked Sendable {
    let projection: any Projection
    let databases: ProjectionDatabases

    init(projection: any Projection, databases: ProjectionDatabases) {
        self.projection = projection
        self.databases = databases
    }
}

/// Events replayed per scratch transaction when the events come from outside a store (an export).
let replayChunkEvents: UInt64 = 50_000

extension EventLog {
    func currentSlots() -> [ProjectionSlot] { slotsLock.withLock { slots } }

    /// A projection's checkpoint as the meta database records it, or nil when it has none.
    func readCheckpoint(_ name: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> ProjectionCheckpoint? {
        let key = StoreLayout.projectionKey(name)
        return try key.withUnsafeBytes { try txn.withValue(in: meta, key: $0) { ProjectionCheckpoint($0) } } ?? nil
    }

    /// Records a projection's checkpoint in the meta database, in the caller's write transaction.
    func writeCheckpoint(_ checkpoint: ProjectionCheckpoint, for name: String, _ txn: borrowing WriteTransaction) throws {
        try txn.put(meta, key: StoreLayout.projectionKey(name), value: checkpoint.encoded)
    }

    /// The projections epoch: one more at every swap of rebuilt projections.
    func readEpoch(_ txn: borrowing some TransactionReading & ~Copyable) throws -> UInt64 {
        let stored = try StoreLayout.epochKey.withUnsafeBytes { key in try txn.withValue(in: meta, key: key) { bigEndianValue($0) } }
        guard let stored else { return 0 }
        guard let stored else { throw LogError.corrupt(position: 0, reason: "the projections epoch is malformed") }
        return stored
    }

    /// Registers the projections: a projection new to the store, or whose version changed, is rebuilt
    /// from position 1; one that is behind the log is caught up.
    func openProjections(_ projections: [any Projection]) throws {
        var seen = Set<String>()
        for projection in projections {
            precondition(seen.insert(projection.name).inserted, "two projections named \(projection.name)")
            precondition(projection.name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 },
                         "projection names use a-z, 0-9, '.' and '-'")
        }
        try reloadProjectionSlots()
        guard !options.readOnly else { return }
        let stale = try read { reader in
            let checkpoints = try reader.checkpoints()
            return projections.filter { checkpoints[$0.name]?.version != $0.version }.map(\.name)
        }
        if !stale.isEmpty { try rebuildProjections(named: stale) }
        try catchUpProjections()
    }

    /// Reads each projection's checkpoint and opens its databases in the recorded generation.
    func reloadProjectionSlots() throws {
        var loaded: [ProjectionSlot] = []
        var epoch: UInt64 = 0
        var checkpoints: [String: ProjectionCheckpoint] = [:]
        try environment.read { txn in
            epoch = try readEpoch(txn)
            for projection in options.projections {
                checkpoints[projection.name] = try readCheckpoint(projection.name, txn)
            }
        }
        for projection in options.projections {
            let generation = checkpoints[projection.name]?.generation ?? 1
            loaded.append(ProjectionSlot(projection: projection, databases: try openDatabases(of: projection, generation: generation)))
        }
        slotsLock.withLock {
            slots = loaded
            projectionsEpoch = epoch
        }
    }

    func openDatabases(of projection: any Projection, generation: UInt32) throws -> ProjectionDatabases {
        var byName: [String: Database] = [:]
        for name in projection.databaseNames {
            let lmdbName = ProjectionDatabases.lmdbName(projection: projection.name, database: name, generation: generation)
            byName[name] = try environment.database(named: lmdbName, create: !options.readOnly)
        }
        return ProjectionDatabases(projection: projection.name, generation: generation, byName: byName)
    }

    /// Throws ``ProjectionsMoved`` when another process swapped in rebuilt projections since we loaded ours.
    func checkProjectionsEpoch(_ txn: borrowing WriteTransaction) throws {
        let stored = try readEpoch(txn)
        let known = slotsLock.withLock { projectionsEpoch }
        if stored != known { throw ProjectionsMoved() }
    }

    /// Applies to each projection the events after its checkpoint, in chunks of transactions.
    func catchUpProjections() throws {
        while true {
            let done = try environment.write { txn -> Bool in
                try checkProjectionsEpoch(txn)
                let head = try readHead(txn)
                var allCaughtUp = true
                for slot in currentSlots() {
                    let from = (try readCheckpoint(slot.projection.name, txn)?.position ?? 0) + 1
                    guard from <= head.position else { continue }
                    let to = min(head.position, from + options.replayChunkEvents - 1)
                    try replay(from: from, to: to, reading: txn, into: [slot], writing: txn)
                    let updated = ProjectionCheckpoint(version: slot.projection.version, generation: slot.databases.generation, position: to)
                    try writeCheckpoint(updated, for: slot.projection.name, txn)
                    if to < head.position { allCaughtUp = false }
                }
                return allCaughtUp
            }
            if done { return }
        }
    }

    /// Applies the events from `from` to `to` (inclusive), read in `source`, to the given projections,
    /// written in `target` (the same transaction, or a scratch environment's for an audit).
    func replay(from: UInt64, to: UInt64, reading source: borrowing some TransactionReading & ~Copyable,
                into slots: [ProjectionSlot], writing target: borrowing WriteTransaction, targetEnvironment: Environment? = nil) throws {
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

    /// Rebuilds the named projections (all when `names` is nil) from position 1 into fresh databases, then
    /// swaps them in atomically and drops the old ones. Writers may go on meanwhile: the last chunk runs in
    /// the same transaction as the swap.
    public func rebuildProjections(named names: [String]? = nil, progress: ((UInt64, UInt64) -> Void)? = nil) throws {
        let targets = currentSlots().filter { names?.contains($0.projection.name) ?? true }
        guard !targets.isEmpty else { return }
        var fresh: [ProjectionSlot] = []
        for slot in targets {
            let generation = slot.databases.generation &+ 1
            let databases = try openDatabases(of: slot.projection, generation: generation)
            fresh.append(ProjectionSlot(projection: slot.projection, databases: databases))
        }
        // A rebuild interrupted by a crash may have left rows in the fresh generation.
        try environment.write { txn in
            for slot in fresh { for (_, database) in slot.databases.all { try txn.empty(database) } }
        }
        var next: UInt64 = 1
        while true {
            // The body may run twice (LMDB's map grows and the write is retried), so it changes nothing
            // outside itself: `next` advances only once the chunk has committed.
            let (finished, head, to) = try environment.write { txn -> (Bool, UInt64, UInt64) in
                let head = try readHead(txn).position
                let to = min(head, next + options.replayChunkEvents - 1)
                try replay(from: next, to: to, reading: txn, into: fresh, writing: txn)
                guard to == head else { return (false, head, to) }
                // Swap: the checkpoints name the fresh generation and the epoch tells other processes.
                for slot in fresh {
                    let checkpoint = ProjectionCheckpoint(version: slot.projection.version, generation: slot.databases.generation, position: head)
                    try writeCheckpoint(checkpoint, for: slot.projection.name, txn)
                }
                let epoch = try readEpoch(txn)
                try txn.put(meta, key: StoreLayout.epochKey, value: bigEndianKey(epoch + 1))
                return (true, head, to)
            }
            next = to + 1
            progress?(min(to, head), head)
            if finished { break }
        }
        try reloadProjectionSlots()
        try dropUnusedProjectionDatabases()
    }

    /// Drops projection databases of generations no longer in use (left by a rebuild or a crash).
    func dropUnusedProjectionDatabases() throws {
        let inUse = Set(currentSlots().flatMap { slot in
            slot.projection.databaseNames.map {
                ProjectionDatabases.lmdbName(projection: slot.projection.name, database: $0, generation: slot.databases.generation)
            }
        })
        let registered = Set(currentSlots().map { "p/\($0.projection.name)/" })
        for name in try environment.databaseNames() where name.hasPrefix("p/") && !inUse.contains(name) {
            guard registered.contains(where: { name.hasPrefix($0) }) else { continue }
            try emptyInChunks(name)
            try environment.dropDatabase(named: name)
        }
    }
}

extension EventLog {
    /// Deletes an old generation's rows a chunk of keys per transaction, releasing the pages read between
    /// chunks, before the database itself is dropped: dropping a tree of millions of rows in one call reads
    /// every one of its pages into the process's resident set at once.
    func emptyInChunks(_ name: String, keysPerChunk: Int = 50_000) throws {
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
            if FileManager.default.fileExists(atPath: path + "/data.mdb") {
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
        guard access(path, W_OK | R_OK | X_OK) == 0 else {
            throw LogError.notAStore(path: path, reason: "cannot read and write the directory: \(String(cString: strerror(errno)))")
        }
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
        // Probe read-only and without the lock file, so that another program's environment is not modified.
        var probeOptions = Environment.Options()
        probeOptions.readOnly = true
        probeOptions.noLock = true
        probeOptions.initialMapSizeBytes = 1 << 20
        let probe: Environment
        do {
            probe = try Environment(path: path, options: probeOptions)
        } catch {
            throw LogError.notAStore(path: path, reason: "data.mdb is not a readable LMDB environment (\(error.message))")
        }
        let magic: [UInt8]?
        do {
            let meta = try probe.database(named: StoreLayout.meta, create: false)
            magic = try probe.read { try $0.value(in: meta, key: StoreLayout.magicKey) }
        } catch {
            throw LogError.notAStore(path: path, reason: "an LMDB environment of another program (no Linli meta database)")
        }
        guard magic == StoreLayout.magicValue else {
            throw LogError.notAStore(path: path, reason: "an LMDB environment of another program (no Linli magic)")
        }
    }
}
