import Crypto
import Foundation

/// Projections rebuilt in a private temporary LMDB environment from a part of the log: every event up to a
/// position, or every event that occurred at or before a time. The store is never modified; the
/// environment is deleted when the value is released.
public final class ScratchProjections: @unchecked Sendable {
    /// The scratch environment.
    public let environment: Environment
    /// Each projection's databases in it, by projection name.
    public let databases: [String: ProjectionDatabases]
    /// The last position replayed (events after it were not looked at).
    public let position: UInt64
    /// Events replayed into the projections.
    public let replayed: UInt64
    /// Events left out: after the time asked for, or (rarely) events whose own prerequisites occurred after
    /// it, such as a verification dated before the hours it verifies.
    public let skipped: [UInt64]
    private let directory: String

    init(environment: Environment, databases: [String: ProjectionDatabases], position: UInt64, replayed: UInt64, skipped: [UInt64], directory: String) {
        self.environment = environment
        self.databases = databases
        self.position = position
        self.replayed = replayed
        self.skipped = skipped
        self.directory = directory
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// SHA-256 over each database's keys and values, by `projection/database`: the same digests
    /// ``ProjectionReport/rebuiltDigests`` gives for a rebuild of the store.
    public func digests() throws -> [String: Hash] {
        try environment.read { txn in
            var out: [String: Hash] = [:]
            var budget = MappedPagesBudget(checkEvery: MappedPagesBudget.walkCheckEvery, releasingFirst: environment)
            for (projection, databases) in self.databases {
                for (name, database) in databases.all {
                    out["\(projection)/\(name)"] = try ProjectionDigest.of(database, txn) { budget.step(environment) }
                }
            }
            return out
        }
    }

    /// A temporary environment with empty databases for `projections`, not flushed to disk at commits (it
    /// is thrown away), its map made `expectedBytes` large from the start: a map that grows aborts and
    /// re-runs the chunk being written, so starting from 16 MB a 2 GB rebuild ran seven chunks twice.
    static func prepare(_ projections: [any Projection], expectedBytes: Int = 16 << 20) throws
        -> (Environment, [ProjectionSlot], [String: ProjectionDatabases], String) {
        removeAbandonedScratch()
        let directory = NSTemporaryDirectory() + "\(scratchPrefix)\(getpid())-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            var options = Environment.Options()
            options.initialMapSizeBytes = min(max(16 << 20, expectedBytes), options.mapSizeMaxBytes)
            options.durable = false
            let scratch = try Environment(path: directory, options: options)
            var slots: [ProjectionSlot] = []
            var byProjection: [String: ProjectionDatabases] = [:]
            for projection in projections {
                var byName: [String: Database] = [:]
                for name in projection.databaseNames { byName[name] = try scratch.database(named: "\(projection.name)/\(name)", create: true) }
                let databases = ProjectionDatabases(projection: projection.name, generation: 0, byName: byName)
                slots.append(ProjectionSlot(projection: projection, databases: databases))
                byProjection[projection.name] = databases
            }
            return (scratch, slots, byProjection, directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Scratch directories are named `linli-scratch-PID-UUID` in the system's temporary folder.
    static let scratchPrefix = "linli-scratch-"

    /// Removes the scratch directories that processes killed in the middle of an audit or a time-travel
    /// query left behind (a full audit's is as large as the store's projections). A directory is
    /// abandoned when it is not this process's, was last modified more than `ageSeconds` ago (so that
    /// one being created is never taken), and no process holds LMDB's lock on its `lock.mdb` — LMDB keeps
    /// a shared `fcntl` lock there while any process has the environment open, and the kernel drops it
    /// when that process dies, however it dies.
    static func removeAbandonedScratch(in folder: String = NSTemporaryDirectory(), ageSeconds: TimeInterval = 60) {
        let files = FileManager.default
        guard let names = try? files.contentsOfDirectory(atPath: folder) else { return }
        let own = "\(scratchPrefix)\(getpid())-"
        for name in names where name.hasPrefix(scratchPrefix) && !name.hasPrefix(own) {
            let directory = (folder as NSString).appendingPathComponent(name)
            guard let modified = (try? files.attributesOfItem(atPath: directory))?[.modificationDate] as? Date,
                  Date().timeIntervalSince(modified) > ageSeconds, !isLocked((directory as NSString).appendingPathComponent("lock.mdb")) else { continue }
            try? files.removeItem(atPath: directory)
        }
    }

    /// Whether another process holds an `fcntl` lock on any byte of `file` (false when there is no file).
    /// Only for files this process never opened: closing a descriptor drops this process's own locks.
    private static func isLocked(_ file: String) -> Bool {
        let fd = open(file, O_RDWR)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        probe.l_start = 0
        probe.l_len = 0
        guard fcntl(fd, F_GETLK, &probe) == 0 else { return true }
        return probe.l_type != Int16(F_UNLCK)
    }

    /// Projections rebuilt from events that come from elsewhere than a store — an exported file — in the
    /// order given, which must be the log's order (positions 1, 2, 3, …).
    public static func replaying(_ events: some Sequence<RecordedEvent>, into projections: [any Projection]) throws -> ScratchProjections {
        let (scratch, slots, byProjection, directory) = try prepare(projections)
        var replayed: UInt64 = 0
        var chunk: [RecordedEvent] = []
        func flush() throws {
            try scratch.write { txn in
                var budget = MappedPagesBudget(releasingFirst: scratch)
                let filter = EventTypeFilter(slots)
                for event in chunk {
                    try filter.apply(event, to: slots, in: txn)
                    budget.step(scratch)
                }
            }
            replayed += UInt64(chunk.count)
            chunk.removeAll(keepingCapacity: true)
        }
        do {
            for event in events {
                precondition(event.position == replayed + UInt64(chunk.count) + 1, "events are replayed in log order")
                chunk.append(event)
                if chunk.count == Int(replayChunkEvents) {
                    try flush()
                    try scratch.read { _ in scratch.releaseMappedPages() }
                }
            }
            try flush()
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        return ScratchProjections(environment: scratch, databases: byProjection, position: replayed, replayed: replayed, skipped: [], directory: directory)
    }
}

/// SHA-256 over a database's keys and values, lengths first, so that no two different tables hash alike.
enum ProjectionDigest {
    /// `everyRow` runs after each row (to keep the pages read within a ``MappedPagesBudget``).
    static func of(_ database: Database, _ txn: borrowing some TransactionReading & ~Copyable, everyRow: () -> Void = {}) throws -> Hash {
        var hasher = SHA256()
        try txn.walk(database) { key, value in
            add(key, value, to: &hasher)
            everyRow()
            return true
        }
        return hasher.finalize().withUnsafeBytes { Hash($0) }
    }

    private static func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, to hasher: inout SHA256) {
        withUnsafeBytes(of: UInt32(key.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: key)
        withUnsafeBytes(of: UInt32(value.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: value)
    }
}

extension EventLog {
    /// Replays the events at positions ≤ `position` (default: the head) whose occurred time is at or before
    /// `occurredAtOrBefore` (default: any) into fresh projections in a temporary environment — the state
    /// "as it stood" then, for time-travel queries.
    ///
    /// Events are replayed in log order, so a projection sees them as it did live. When a filter by occurred
    /// time leaves out an event that a later kept event depends on (its projection finds an entity missing),
    /// the dependent event is left out too and listed in ``ScratchProjections/skipped``: each chunk runs in
    /// one scratch transaction, and a chunk that fails is redone one event per transaction.
    public func scratchProjections(upTo position: UInt64? = nil, occurredAtOrBefore time: Timestamp? = nil,
                                   progress: ((UInt64, UInt64) -> Void)? = nil) throws -> ScratchProjections {
        let (scratch, scratchSlots, byProjection, directory) = try ScratchProjections.prepare(currentSlots().map(\.projection),
                                                                                               expectedBytes: environment.dataFileBytes)
        let filter = EventTypeFilter(scratchSlots)
        do {
            let limit = time?.epochMilliseconds
            var skipped: [UInt64] = []
            var replayed: UInt64 = 0
            let last = try environment.read { txn -> UInt64 in
                let head = try readHead(txn).position
                let last = min(head, position ?? head)
                var next: UInt64 = 1
                while next <= last {
                    let to = min(last, next + options.replayChunkEvents - 1)
                    var chunk: [RecordedEvent] = []
                    try txn.walk(events, from: bigEndianKey(next)) { key, record in
                        guard let at = bigEndianValue(key), at <= to else { return false }
                        let event = try RecordCodec.decode(record, expectedPosition: at)
                        if let limit, event.occurredAt.epochMilliseconds > limit { skipped.append(at) } else { chunk.append(event) }
                        return true
                    }
                    do {
                        try scratch.write { scratchTxn in
                            var budget = MappedPagesBudget(releasingFirst: environment, scratch)
                            for event in chunk {
                                try filter.apply(event, to: scratchSlots, in: scratchTxn)
                                budget.step(environment, scratch)
                            }
                        }
                        replayed += UInt64(chunk.count)
                    } catch let error as LogError where limit != nil {
                        guard case .corrupt = error else { throw error }
                        // Some kept event depends on a left-out one: one transaction per event finds which.
                        for event in chunk {
                            do {
                                try scratch.write { scratchTxn in try filter.apply(event, to: scratchSlots, in: scratchTxn) }
                                replayed += 1
                            } catch LogError.corrupt {
                                skipped.append(event.position)
                            }
                        }
                    }
                    environment.releaseMappedPages()
                    try scratch.read { _ in scratch.releaseMappedPages() }
                    progress?(to, last)
                    next = to + 1
                }
                return last
            }
            return ScratchProjections(environment: scratch, databases: byProjection, position: last, replayed: replayed,
                                      skipped: skipped.sorted(), directory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }
}
