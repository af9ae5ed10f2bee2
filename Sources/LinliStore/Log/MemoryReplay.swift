import Crypto
import Foundation

/// What a replay into memory does with the rows of the projections' append-only databases (statements,
/// fund movements, timelines, surveys, the elder history, deliveries; ``Projection/appendOnlyDatabases``).
public enum AppendOnlyRows: Sendable {
    /// Held, to be read: a time-travel view whose queries read them.
    case held
    /// Folded into a digest per entity as they are put, never held (an audit's replay, an export's
    /// verification): only compared, never read.
    case digested
    /// Dropped as they are put: a time-travel view whose queries read none of them (a balance, the
    /// stock, the elders' list). They are most of the rows a replay would hold.
    case dropped
}

/// Projections replayed into memory from a part of the log: every event up to a position, or every event
/// that occurred at or before a time, or the events of an exported file. Nothing is written anywhere: the
/// rows live in this value's overlay, in databases that exist only there (``Database/inMemory``), and are
/// gone when it is released. Time-travel views and audits read them as they read a store's.
public final class MemoryProjections: @unchecked Sendable {
    /// Each projection's databases, by projection name.
    public let databases: [String: ProjectionDatabases]
    /// The last position replayed (events after it were not looked at).
    public internal(set) var position: UInt64 = 0
    /// Events replayed into the projections.
    public internal(set) var replayed: UInt64 = 0
    /// Events left out: after the time asked for, or (rarely) events whose own prerequisites occurred after
    /// it, such as a verification dated before the hours it verifies.
    public internal(set) var skipped: [UInt64] = []
    /// The rows; never shared, so a replay publishes its chunks into it in place.
    let overlay: RowOverlay
    let slots: [ProjectionSlot]
    private let filter: EventTypeFilter
    private let memoryBytesMax: Int

    /// Empty projections in memory for `projections`, refusing to hold more than `memoryBytesMax` of rows.
    ///
    /// `appendOnly` says what becomes of the rows of each projection's append-only databases. Digested or
    /// dropped, nothing can read them: a read stops the program. With `.digested` (a replay that fails
    /// whole and is only compared), `keeping` (by `projection/database`) names entities whose rows are
    /// kept too, to name the rows where digests differed.
    ///
    /// With `keepingChunksApart` (a time-travel view's replay), ``apply(_:)`` keeps each chunk of events only
    /// when it applied whole; the others fail whole when a chunk fails.
    init(
        _ projections: [any Projection], memoryBytesMax: Int, appendOnly: AppendOnlyRows = .held, keeping: [String: Set<[UInt8]>] = [:],
        keepingChunksApart: Bool = false
    ) {
        var slots: [ProjectionSlot] = []
        var byProjection: [String: ProjectionDatabases] = [:]
        var sinks: [AppendOnlyDigest?] = []
        for projection in projections {
            var byName: [String: Database] = [:]
            for name in projection.databaseNames {
                let layout = appendOnly == .held ? nil : projection.appendOnlyDatabases[name]
                byName[name] = Database(inMemory: "memory:\(projection.name)/\(name)", slot: sinks.count, writeOnly: layout != nil)
                sinks.append(appendOnly == .digested ? layout.map { AppendOnlyDigest($0, keeping: keeping["\(projection.name)/\(name)"]) } : nil)
            }
            let databases = ProjectionDatabases(projection: projection.name, generation: 0, byName: byName)
            slots.append(ProjectionSlot(projection: projection, databases: databases))
            byProjection[projection.name] = databases
        }
        self.slots = slots
        self.databases = byProjection
        self.overlay = RowOverlay(memorySlots: sinks.count, journaling: keepingChunksApart)
        // A dropped database's slot has no sink: its rows go nowhere.
        if appendOnly != .held { overlay.appendOnly = sinks }
        self.filter = EventTypeFilter(slots)
        self.memoryBytesMax = memoryBytesMax
    }

    /// The sink of a database that is only digested, if it is one.
    func appendOnlySink(_ database: Database) -> AppendOnlyDigest? {
        database.writeOnly ? overlay.appendOnly[database.overlaySlot] : nil
    }

    /// Runs `body` over the rows (no LMDB transaction is involved: the databases are in memory).
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) rethrows -> R {
        try body(ReadTransaction.detached(rows: overlay))
    }

    /// SHA-256 over each database's keys and values, by `projection/database`: the same digests
    /// ``ProjectionReport/rebuiltDigests`` gives for a rebuild of the store. Dropped databases
    /// (``AppendOnlyRows/dropped``) have none.
    public func digests() throws -> [String: Hash] {
        try read { txn in
            var out: [String: Hash] = [:]
            for slot in slots {
                for (name, database) in slot.databases.all where !(database.writeOnly && appendOnlySink(database) == nil) {
                    out["\(slot.projection.name)/\(name)"] =
                        try appendOnlySink(database).map { $0.summary().digest }
                        ?? ProjectionDigest.of(database, name: name, of: slot.projection, txn)
                }
            }
            return out
        }
    }

    /// Applies `events` (in log order, after those already applied) together: when one throws, none of
    /// their rows are kept (a replay that keeps its chunks apart).
    func apply(_ events: [RecordedEvent]) throws {
        try withWriter { txn in
            for event in events { try filter.apply(event, to: slots, in: txn) }
        }
        overlay.commitChunk()
        try checkBudget()
    }

    /// Whether some projection here wants events of `type` (read in place; nil when it cannot be read, so
    /// that the record is decoded and its error reported).
    func wantsAny(_ type: UnsafeRawBufferPointer?) -> Bool {
        slots.indices.contains { filter.wants($0, type) }
    }

    /// Throws when the rows held are over the memory budget.
    func checkBudget() throws {
        let bytes = overlay.approximateBytes
        guard bytes <= memoryBytesMax else { throw LogError.replayTooLarge(bytes: bytes, bytesMax: memoryBytesMax) }
    }

    /// A writing view of the rows, in the overlay's one layer, which orders its keys only when walked.
    /// When `body` throws, a replay that keeps its chunks apart (a time-travel view's, ``apply(_:)``) rolls
    /// back what it wrote; one that fails whole when a chunk fails (an audit's, an export's) is not read
    /// again, and keeps it.
    func withWriter<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        do {
            return try body(WriteTransaction.detached(rows: overlay))
        } catch {
            if overlay.journaling { overlay.rollBack() }
            throw error
        }
    }

    /// Projections replayed in memory from events that come from elsewhere than a store — an exported
    /// file — in the order given, which must be the log's order (positions 1, 2, 3, …).
    /// With `digesting` (a replay that is only compared, as an export's verification), the append-only
    /// databases are digested, not held, and cannot be read: a query of them stops the program.
    public static func replaying(
        _ events: some Sequence<RecordedEvent>, into projections: [any Projection],
        memoryBytesMax: Int = EventLog.Options().replayMemoryBytesMax, digesting: Bool = false
    ) throws -> MemoryProjections {
        let memory = MemoryProjections(projections, memoryBytesMax: memoryBytesMax, appendOnly: digesting ? .digested : .held)
        var chunk: [RecordedEvent] = []
        // A chunk that fails fails the whole replay, so the chunks are not kept apart.
        func flush() throws {
            try memory.withWriter { txn in
                for event in chunk { try memory.filter.apply(event, to: memory.slots, in: txn) }
            }
            try memory.checkBudget()
            memory.replayed += UInt64(chunk.count)
            memory.position = memory.replayed
            chunk.removeAll(keepingCapacity: true)
        }
        for event in events {
            precondition(event.position == memory.replayed + UInt64(chunk.count) + 1, "events are replayed in log order")
            chunk.append(event)
            if chunk.count == Int(replayChunkEvents) { try flush() }
        }
        try flush()
        return memory
    }
}

/// SHA-256 over a database's keys and values, lengths first, so that no two different tables hash alike.
enum ProjectionDigest {
    /// The digest of `projection`'s database `name`: per entity for an append-only one (``AppendOnlyDigest``),
    /// so that a replay that only digests its rows gives the same; else over every row in key order.
    static func of(
        _ database: Database, name: String, of projection: any Projection, _ txn: borrowing some TransactionReading & ~Copyable,
        everyRow: () -> Void = {}
    ) throws -> Hash {
        if let layout = projection.appendOnlyDatabases[name] { return try AppendOnlyDigest.of(database, layout: layout, txn, everyRow: everyRow).digest }
        return try of(database, txn, everyRow: everyRow)
    }

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

    /// A row as `u32 length ‖ key ‖ u32 length ‖ value`: no two different tables hash alike.
    static func add(_ key: some DataProtocol, _ value: some DataProtocol, to hasher: inout SHA256) {
        withUnsafeBytes(of: UInt32(key.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: key)
        withUnsafeBytes(of: UInt32(value.count).bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: value)
    }
}

extension EventLog {
    /// Replays the events at positions ≤ `position` (default: the head) whose occurred time is at or before
    /// `occurredAtOrBefore` (default: any) into projections in memory — the state "as it stood" then, for
    /// time-travel queries. The store is only read.
    ///
    /// Events are replayed in log order, so a projection sees them as it did live. When a filter by occurred
    /// time leaves out an event that a later kept event depends on (its projection finds an entity missing),
    /// the dependent event is left out too and listed in ``MemoryProjections/skipped``: each chunk is
    /// applied together, and a chunk that fails is redone one event at a time.
    ///
    /// With `projections` (names), only those are replayed, and events none of them wants are not even
    /// decoded: a query that reads one domain replays only it. The others are absent from
    /// ``MemoryProjections/databases``.
    ///
    /// With `appendOnly: .dropped`, the rows of the projections' append-only databases (statements,
    /// timelines, histories) are dropped as they are replayed, for queries that read none of them: most of
    /// the rows and much of the time. A read of them stops the program.
    ///
    /// The rows held stay within `memoryBytesMax` (default: ``Options/replayMemoryBytesMax``).
    public func memoryProjections(
        upTo position: UInt64? = nil, occurredAtOrBefore time: Timestamp? = nil, projections names: Set<String>? = nil,
        appendOnly: AppendOnlyRows = .held, memoryBytesMax: Int? = nil, progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> MemoryProjections {
        let chosen = try currentSlots().map(\.projection).filter { names?.contains($0.name) ?? true }
        precondition(names.map { $0.count == chosen.count } ?? true, "every projection named is registered: \(names ?? [])")
        precondition(appendOnly != .digested, "a time-travel view holds or drops the append-only rows: its queries read them")
        let memory = MemoryProjections(
            chosen, memoryBytesMax: memoryBytesMax ?? options.replayMemoryBytesMax, appendOnly: appendOnly, keepingChunksApart: true)
        let limit = time?.epochMilliseconds
        try environment.read { txn in
            let head = try readHead(txn).position
            let last = min(head, position ?? head)
            var next: UInt64 = 1
            while next <= last {
                let to = min(last, next + options.replayChunkEvents - 1)
                var chunk: [RecordedEvent] = []
                var budget = MappedPagesBudget(releasingFirst: environment)
                try txn.walk(events, from: bigEndianKey(next)) { key, record in
                    guard let at = bigEndianValue(key), at <= to else { return false }
                    budget.step(environment)
                    guard memory.wantsAny(RecordCodec.type(of: record)) else { return true }
                    let event = try RecordCodec.decode(record, expectedPosition: at)
                    if let limit, event.occurredAt.epochMilliseconds > limit { memory.skipped.append(at) } else { chunk.append(event) }
                    return true
                }
                do {
                    try memory.apply(chunk)
                    memory.replayed += UInt64(chunk.count)
                } catch let error as LogError where limit != nil {
                    guard case .corrupt = error else { throw error }
                    // Some kept event depends on a left-out one: one event at a time finds which.
                    for event in chunk {
                        do {
                            try memory.apply([event])
                            memory.replayed += 1
                        } catch LogError.corrupt {
                            memory.skipped.append(event.position)
                        }
                    }
                }
                progress?(to, last)
                next = to + 1
            }
            memory.position = last
        }
        memory.skipped.sort()
        return memory
    }
}
