import Crypto
import Foundation

/// What a replay into memory does with the rows of the projections' append-only databases (statements,
/// fund movements, timelines, surveys, the elder history, deliveries; ``Projection/appendOnlyDatabases``).
public enum AppendOnlyRows: Sendable, Hashable {
    /// Held, to be read: a time-travel view whose queries read them.
    case held
    /// Folded into a digest per entity as they are put, never held (an audit's replay, an export's
    /// verification): only compared, never read.
    case digested
    /// Dropped as they are put: a time-travel view whose queries read none of them (a balance, the
    /// stock, the elders' list). They are most of the rows a replay would hold.
    case dropped
    /// Held only for these entities, the others dropped as they are put: a time-travel view for one
    /// account's statement or one fund's movements. An entity is what a row's key holds before its first
    /// zero byte (its whole key when it holds none); an entity named that is empty or holds a zero byte
    /// matches no row. A query of another entity's rows on such a view finds none, and its digests
    /// (``MemoryProjections/digests()``) are those of the rows it holds.
    case heldFor(entities: Set<String>)
}

/// Which rows of a counted database a time-travel view keeps, by key (``EventLog/memoryProjections(upTo:occurredAtOrBefore:projections:appendOnly:rowsKept:memoryBytesMax:progress:)``).
public typealias RowKeyFilter = @Sendable (UnsafeRawBufferPointer) -> Bool

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
    /// ``replayed`` when the last chunk was kept (a replay that keeps its chunks apart).
    private var replayedByCommittedChunks: UInt64 = 0
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
    /// With `keepingChunksApart` (a time-travel replay up to a time), ``apply(_:)`` keeps each chunk of events only
    /// when it applied whole; the others fail whole when a chunk fails.
    ///
    /// With `retiring` (an audit's first replay, which is only compared), the rows of the retirable
    /// databases can be folded away between chunks (``retire(writtenBefore:)``).
    ///
    /// `dropping` (by `projection/database`, an audit's replay in parts: ``Projection/replayParts``) names
    /// databases whose rows go nowhere, append-only or not: ``WriteTransaction/drops(_:)`` is true for them,
    /// and reading one stops the program.
    init(
        _ projections: [any Projection], memoryBytesMax: Int, appendOnly: AppendOnlyRows = .held, keeping: [String: Set<[UInt8]>] = [:],
        keepingChunksApart: Bool = false, retiring: Bool = false, rowsKept: [String: RowKeyFilter] = [:], dropping: Set<String> = []
    ) {
        precondition(!retiring || (appendOnly == .digested && !keepingChunksApart), "only a replay that is only compared retires rows")
        precondition(dropping.isEmpty || appendOnly == .digested, "only an audit's replay, which is only compared, drops whole databases")
        var slots: [ProjectionSlot] = []
        var byProjection: [String: ProjectionDatabases] = [:]
        var sinks: [AppendOnlyDigest?] = []
        var keptEntities: [Set<[UInt8]>?] = []
        var retired: [RetiredRows?] = []
        var keyFilters: [RowKeyFilter?] = []
        for projection in projections {
            var byName: [String: Database] = [:]
            for name in projection.databaseNames {
                let dropped = dropping.contains("\(projection.name)/\(name)")
                let layout = dropped ? nil : projection.appendOnlyDatabases[name]
                let writeOnly = dropped || (layout != nil && (appendOnly == .digested || appendOnly == .dropped))
                byName[name] = Database(inMemory: "memory:\(projection.name)/\(name)", slot: sinks.count, writeOnly: writeOnly)
                sinks.append(appendOnly == .digested ? layout.map { AppendOnlyDigest($0, keeping: keeping["\(projection.name)/\(name)"]) } : nil)
                retired.append(retiring && !dropped && projection.retirableDatabases.contains(name) ? RetiredRows() : nil)
                keyFilters.append(rowsKept["\(projection.name)/\(name)"])
                if case .heldFor(let entities) = appendOnly {
                    keptEntities.append(layout == nil ? nil : Set(entities.map { Array($0.utf8) }))
                }
            }
            let databases = ProjectionDatabases(projection: projection.name, generation: 0, byName: byName, declared: projection.databaseNames)
            slots.append(ProjectionSlot(projection: projection, databases: databases))
            byProjection[projection.name] = databases
        }
        precondition(
            dropping.isSubset(of: projections.flatMap { projection in projection.databaseNames.map { "\(projection.name)/\($0)" } }),
            "every database dropped is one of the replay's: \(dropping.sorted())")
        self.slots = slots
        self.databases = byProjection
        self.overlay = RowOverlay(memorySlots: sinks.count, journaling: keepingChunksApart)
        // A dropped database's slot has no sink: its rows go nowhere.
        if appendOnly == .digested || appendOnly == .dropped { overlay.appendOnly = sinks }
        overlay.keptEntities = keptEntities
        if retiring { overlay.retired = retired }
        precondition(
            Set(rowsKept.keys).isSubset(of: projections.flatMap { projection in projection.databaseNames.map { "\(projection.name)/\($0)" } }),
            "every database a key filter names is one of the view's: \(rowsKept.keys.sorted())")
        if !rowsKept.isEmpty { overlay.keyFilters = keyFilters }
        self.filter = EventTypeFilter(slots)
        self.memoryBytesMax = memoryBytesMax
    }

    /// The sink of a database that is only digested, if it is one.
    func appendOnlySink(_ database: Database) -> AppendOnlyDigest? {
        database.writeOnly ? overlay.appendOnly[database.overlaySlot] : nil
    }

    /// Folds the rows of the retirable databases last written before `position` into their sums and
    /// forgets them (a replay made `retiring`).
    func retire(writtenBefore position: UInt64) { overlay.retire(writtenBefore: position) }

    /// Whether a retiring replay reached a row it had retired: its sums are then not the projection's.
    var reachedRetiredRows: Bool { overlay.retired.contains { $0?.reached ?? false } }

    /// What a retirable database comes to (``Projection/retirableDatabases``): the rows held, summed, and
    /// those retired.
    func summary(ofRetirable database: Database) throws -> AppendOnlyDigest.Summary {
        let retired = overlay.retired.isEmpty ? nil : overlay.retired[database.overlaySlot]
        // The walk below is this summary's, not the replay's: it must not count as reaching retired rows.
        let reached = retired?.reached ?? false
        defer { retired?.reached = reached }
        return try read { txn in try ProjectionDigest.summed(database, txn, startingFrom: retired?.sum ?? RowSetSum()) }
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
                        ?? (slot.projection.retirableDatabases.contains(name)
                            ? summary(ofRetirable: database).digest : ProjectionDigest.of(database, name: name, of: slot.projection, txn))
                }
            }
            return out
        }
    }

    /// Applies `events` (in log order, after those already applied) as a chunk of their own: when one
    /// throws, none of their rows are kept (a replay that keeps its chunks apart).
    func apply(_ events: [RecordedEvent]) throws {
        try applyUncommitted(events)
        try commitChunk()
    }

    /// Applies `events` (in log order, after those already applied) to the chunk under way: when one
    /// throws, the whole chunk's rows are rolled back (a replay that keeps its chunks apart).
    func applyUncommitted(_ events: [RecordedEvent]) throws {
        do {
            try withWriter { txn in
                // By index: a `for … in` copies each event out of the array (retaining its fields) and
                // releases the copy.
                for index in events.indices { try filter.apply(events[index], to: slots, in: txn) }
            }
        } catch {
            replayed = replayedByCommittedChunks
            throw error
        }
        replayed += UInt64(events.count)
        try checkBudget()
    }

    /// Keeps the chunk under way.
    func commitChunk() throws {
        if overlay.journaling { overlay.commitChunk() }
        replayedByCommittedChunks = replayed
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
        memory.overlay.settleOrder()
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
        if projection.retirableDatabases.contains(name) { return try summed(database, txn, everyRow: everyRow).digest }
        return try of(database, txn, everyRow: everyRow)
    }

    /// The sums of a retirable database's rows (``Projection/retirableDatabases``), walked in key order,
    /// added to `sum` (a replay's rows retired already).
    static func summed(
        _ database: Database, _ txn: borrowing some TransactionReading & ~Copyable, startingFrom sum: RowSetSum = RowSetSum(),
        everyRow: () -> Void = {}
    ) throws -> AppendOnlyDigest.Summary {
        var sum = sum
        try txn.walk(database) { key, value in
            sum.add(RowSetSum.Fingerprint(key, value))
            everyRow()
            return true
        }
        return AppendOnlyDigest.Summary(digest: sum.digest, sum: sum)
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

    /// A row as `u32 length ‖ key ‖ u32 length ‖ value` (no two different tables hash alike), where its
    /// bytes lie: copied into one buffer on the stack and hashed in one update (four updates cost more
    /// than the hashing of a short row).
    static func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, to hasher: inout SHA256) {
        withUnsafeTemporaryAllocation(byteCount: rowBytes(key, value), alignment: 8) { buffer in
            writeRow(key, value, into: buffer)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
        }
    }

    /// ``add(_:_:to:)`` of two arrays.
    static func add(_ key: [UInt8], _ value: [UInt8], to hasher: inout SHA256) {
        key.withUnsafeBytes { key in value.withUnsafeBytes { value in add(key, value, to: &hasher) } }
    }

    /// How many bytes a row is hashed as (``writeRow(_:_:into:)``).
    @inline(__always)
    static func rowBytes(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Int { 8 + key.count + value.count }

    /// Writes the bytes a row is hashed as, `u32 length ‖ key ‖ u32 length ‖ value`, at the start of
    /// `buffer`, which holds at least ``rowBytes(_:_:)``.
    @inline(__always)
    static func writeRow(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= rowBytes(key, value), "a row's bytes fit the buffer given")
        buffer.storeBytes(of: UInt32(key.count).bigEndian, toByteOffset: 0, as: UInt32.self)
        UnsafeMutableRawBufferPointer(rebasing: buffer[4..<(4 + key.count)]).copyMemory(from: key)
        buffer.storeBytes(of: UInt32(value.count).bigEndian, toByteOffset: 4 + key.count, as: UInt32.self)
        UnsafeMutableRawBufferPointer(rebasing: buffer[(8 + key.count)..<(8 + key.count + value.count)]).copyMemory(from: value)
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
    /// With `rowsKept` (by `projection/database`), only the rows whose keys pass the filter are made and
    /// kept in those databases; the others are neither written nor changed. Only for a database whose rows
    /// `apply` reads back for nothing but to change them (a counter: a week's adherence), and a query that
    /// reads only the rows it keeps (this week's adherence): an elders' list at a time keeps one week of
    /// the hundreds a delivery would otherwise count. A row left out is not checked either: a counter there
    /// that a forged event would overflow does not fail that event, as it would in a whole view.
    ///
    /// The rows held stay within `memoryBytesMax` (default: ``Options/replayMemoryBytesMax``).
    public func memoryProjections(
        upTo position: UInt64? = nil, occurredAtOrBefore time: Timestamp? = nil, projections names: Set<String>? = nil,
        appendOnly: AppendOnlyRows = .held, rowsKept: [String: RowKeyFilter] = [:], memoryBytesMax: Int? = nil,
        progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> MemoryProjections {
        let chosen = try currentSlots().map(\.projection).filter { names?.contains($0.name) ?? true }
        precondition(names.map { $0.count == chosen.count } ?? true, "every projection named is registered: \(names ?? [])")
        precondition(appendOnly != .digested, "a time-travel view holds or drops the append-only rows: its queries read them")
        let budget = memoryBytesMax ?? options.replayMemoryBytesMax
        // Only a replay up to a time redoes a chunk that failed, to leave out the events that depend on events
        // after the time; keeping chunks apart (a journal of every write) costs a third of the replay's time.
        // It is rare, so the replay first runs without it, and again with it only when an event failed. Up to
        // a position, a failure is the store's, and ends the replay.
        if time != nil {
            do {
                return try replayIntoMemory(
                    MemoryProjections(chosen, memoryBytesMax: budget, appendOnly: appendOnly, rowsKept: rowsKept), upTo: position, occurredAtOrBefore: time,
                    progress: progress)
            } catch LogError.corrupt {}
        }
        return try replayIntoMemory(
            MemoryProjections(chosen, memoryBytesMax: budget, appendOnly: appendOnly, keepingChunksApart: time != nil, rowsKept: rowsKept), upTo: position,
            occurredAtOrBefore: time, progress: progress)
    }

    /// Replays into `memory` (see ``memoryProjections(upTo:occurredAtOrBefore:projections:appendOnly:rowsKept:memoryBytesMax:progress:)``):
    /// an event that fails leaves out the events that depend on it when `memory` keeps its chunks apart,
    /// and ends the replay otherwise.
    private func replayIntoMemory(
        _ memory: MemoryProjections, upTo position: UInt64?, occurredAtOrBefore time: Timestamp?, progress: ((UInt64, UInt64) -> Void)?
    ) throws -> MemoryProjections {
        let redoesFailedChunks = memory.overlay.journaling
        let leftOutAfter = time?.epochMilliseconds
        // No transaction is held while the read-ahead runs: a map resize waits for every open transaction,
        // and the read-ahead's would wait for this one.
        let last = try environment.read { txn in min(try readHead(txn).position, position ?? .max) }
        guard last >= 1 else { return memory }
        let chunkEvents = options.replayChunkEvents
        // Read and decoded on the other core while this one applies.
        let readAhead = EventReadAhead(self, from: 1, to: last, cutAfter: { $0 % chunkEvents == 0 }, wants: { memory.wantsAny($0) })
        defer { readAhead.finish() }
        // The chunk's events kept, to redo it one at a time when one of them fails.
        var chunk: [RecordedEvent] = []
        var chunkFailed = false
        while var batch = try readAhead.next() {
            // Spent batches go back to the reading thread, which frees their events: freed here, they were a
            // tenth of the applying thread's work (callgrind).
            defer { readAhead.recycle(&batch) }
            // Filtered in place, and only when some event is after the time: a copy of the batch's events
            // was 2 % of a view's replay.
            if let leftOutAfter, batch.events.contains(where: { $0.occurredAt.epochMilliseconds > leftOutAfter }) {
                batch.events.removeAll { event in
                    guard event.occurredAt.epochMilliseconds > leftOutAfter else { return false }
                    memory.skipped.append(event.position)
                    return true
                }
            }
            // Read from the batch itself, not a copy of its array, so that the reading thread holds the last
            // reference when it is recycled.
            if redoesFailedChunks { chunk += batch.events }
            if !chunkFailed {
                do {
                    try memory.applyUncommitted(batch.events)
                } catch let error as LogError where redoesFailedChunks {
                    guard case .corrupt = error else { throw error }
                    chunkFailed = true
                }
            }
            guard batch.through % chunkEvents == 0 || batch.through == last else { continue }
            if chunkFailed {
                // Some kept event depends on a left-out one: one event at a time finds which.
                for event in chunk {
                    do {
                        try memory.apply([event])
                    } catch LogError.corrupt {
                        memory.skipped.append(event.position)
                    }
                }
            } else {
                try memory.commitChunk()
            }
            progress?(batch.through, last)
            chunk.removeAll(keepingCapacity: true)
            chunkFailed = false
        }
        memory.position = last
        memory.skipped.sort()
        memory.overlay.settleOrder()
        return memory
    }
}
