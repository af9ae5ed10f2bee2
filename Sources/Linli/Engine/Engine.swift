import Foundation
import LinliStore

/// The databases of every domain's projection, in the generation in use.
public struct Tables: Sendable {
    let registry: ProjectionDatabases
    let ledger: ProjectionDatabases
    let deliberation: ProjectionDatabases
    let mediation: ProjectionDatabases
    let elders: ProjectionDatabases
    /// In a write transaction: what its commands look up again and again; nil elsewhere.
    let cache: TransactionCache?

    init(cache: TransactionCache? = nil, _ lookup: (String) -> ProjectionDatabases) {
        registry = lookup("registry")
        ledger = lookup("ledger")
        deliberation = lookup("deliberation")
        mediation = lookup("mediation")
        elders = lookup("elders")
        self.cache = cache
    }
}

/// Look-ups that one write transaction repeats for many commands, kept for that transaction only: it
/// is the only writer while it lasts, and nothing it caches outlives it (an aborted transaction's rows
/// cannot leak into the next). Each entry carries what proves it current.
final class TransactionCache: @unchecked Sendable {
    /// Rate schedules by key prefix (community, scope), with the rates table's row count when read: rates
    /// are only ever added, so an unchanged count means an unchanged schedule.
    var rateSchedules: [[UInt8]: (rowsCount: Int, schedule: [(atMs: Int64, rate: Rate)])] = [:]
}

/// What happened to one command.
public enum CommandOutcome: Sendable, Equatable {
    /// Accepted: its events are at these positions.
    case applied(firstPosition: UInt64, lastPosition: UInt64)
    /// The same command (same id, same body) was applied before: nothing new was written.
    case duplicate(firstPosition: UInt64, lastPosition: UInt64)
    /// Refused; nothing was written for it. Boxed: a batch keeps one outcome per line, and a rejection is
    /// rare but large (three strings); unboxed, it would make every line's outcome 64 bytes rather than 24
    /// (Hexi's year, 1.1 million lines, held 200 MB of outcomes while their array grew).
    indirect case rejected(Rejection)
    /// An empty line of a batch, skipped.
    case skipped

    /// The rejection, if any.
    public var rejection: Rejection? {
        if case .rejected(let rejection) = self { return rejection }
        return nil
    }
}

/// How a batch treats rejected lines.
public enum BatchMode: Sendable {
    /// All or nothing: if any line is rejected, nothing is written (every rejected line is still reported).
    case atomic
    /// The valid lines are committed; the rejected ones are reported.
    case continueOnRejection
}

/// The result of a batch: one outcome per line, in order, and what was written.
public struct BatchReport: Sendable {
    /// One outcome per input line (1-based line n is `outcomes[n-1]`).
    public var outcomes: [CommandOutcome]
    /// Events appended (0 when an atomic batch had a rejection).
    public var eventsAppended: UInt64
    /// The log's head after the batch.
    public var head: LogHead
    /// Whether anything was committed.
    public var committed: Bool

    /// Lines applied (duplicates count as applied: they are no-op successes).
    public var applied: Int {
        outcomes.lazy.filter {
            if case .applied = $0 { return true }; if case .duplicate = $0 { return true }; return false
        }.count
    }
    /// Lines rejected.
    public var rejected: Int { outcomes.lazy.filter { $0.rejection != nil }.count }
    /// The rejected lines with their 1-based numbers.
    public var rejections: [(line: Int, rejection: Rejection)] {
        outcomes.enumerated().compactMap { index, outcome in outcome.rejection.map { (index + 1, $0) } }
    }
}

/// Linli's engine: a store, the domains' rules and projections, and the queries over them.
///
/// ```swift
/// let engine = try Engine.create(at: "/var/lib/linli/store", admin: "admin-1")
/// try engine.execute(Command("community.register", id: "c-1", actor: "admin-1", at: now,
///                            ["community": "jiangshan", "name": "市中心社区", "district": "虎山街道"]))
/// let balance = try engine.balance(of: "resident:r-12")
/// ```
public final class Engine: @unchecked Sendable {
    /// How to open an engine.
    public struct Options: Sendable {
        /// The clock that stamps recorded times.
        public var clock: @Sendable () -> Timestamp = EventLog.Options().clock
        /// The initial LMDB map size; the map grows by itself, so this only matters to tests.
        public var initialMapSizeBytes: Int? = nil
        /// Open without the ability to write.
        public var readOnly = false
        /// Told how the one-time upgrade of a store written by an older layout advances.
        public var upgradeProgress: (@Sendable (UInt64, UInt64) -> Void)? = nil
        /// Whether an audit replays the ledger in its parts (``EventLog/Options/replayInParts``): nil lets it
        /// decide; tests force it.
        package var replayInParts: Bool? = nil

        /// The defaults.
        public init() {}
    }

    /// The event log.
    public let log: EventLog

    /// The projections every engine registers, in the order they apply an event.
    static func makeProjections() -> [any Projection] {
        [RegistryProjection(), LedgerProjection(), DeliberationProjection(), MediationProjection(), EldersProjection()]
    }

    static func logOptions(_ options: Options) -> EventLog.Options {
        var logOptions = EventLog.Options()
        logOptions.clock = options.clock
        logOptions.projections = makeProjections()
        logOptions.readOnly = options.readOnly
        logOptions.upgradeProgress = options.upgradeProgress
        logOptions.replayInParts = options.replayInParts
        logOptions.prepareEvent = { DomainEvent.Prepared(checking: $0) }
        if let bytes = options.initialMapSizeBytes { logOptions.environment.initialMapSizeBytes = bytes }
        return logOptions
    }

    /// Projections replayed in memory from part of the log, for a time-travel view (nil: the live store).
    let history: MemoryProjections?

    init(log: EventLog, history: MemoryProjections? = nil) {
        self.log = log
        self.history = history
    }

    /// Whether this engine is a time-travel view (see ``asOf(_:position:)``): it answers queries and
    /// refuses commands.
    public var isHistoricalView: Bool { history != nil }

    /// Creates a store at `path` whose first event makes `admin` an administrator of every community.
    public static func create(at path: String, admin: String, at: Timestamp? = nil, options: Options = Options()) throws -> Engine {
        // Checked before anything is created, so that a bad id leaves no half-made store behind.
        guard (try? Validation.id(.string(admin), "admin")) != nil else { throw Rejection.invalid("admin", "\"\(admin)\" is not a valid identifier") }
        let log: EventLog
        do {
            log = try EventLog.create(at: path, options: logOptions(options))
        } catch LogError.storeExists(let existing) {
            // An init killed after the store was made but before its first event: finish it. A store
            // that holds events is never initialised again, nor opened for writing (which could upgrade it).
            guard EventLog.holdsNoEvents(at: path) else { throw LogError.storeExists(path: existing) }
            log = try EventLog.open(at: path, options: logOptions(options))
            guard try log.head.position == 0 else { throw LogError.storeExists(path: existing) }
        }
        let engine = Engine(log: log)
        let occurred = at ?? options.clock().inOffset(Timestamp.shanghaiOffsetMinutes)
        let payload: JSONValue = ["admin": .string(admin), "formatVersion": 1]
        _ = try log.append(
            AppendCommand(
                commandId: "init", requestDigest: Hash.sha256(payload.canonicalText), actor: admin,
                occurredAt: occurred,
                events: [
                    NewEvent(
                        stream: "store", expectedVersion: .noStream,
                        type: EventType.registry(.storeInitialized).rawValue, payload: CBOR.encode(payload))
                ]))
        try log.checkpoint()
        return engine
    }

    /// Opens the store at `path` and catches its projections up.
    public static func open(at path: String, options: Options = Options()) throws -> Engine {
        Engine(log: try EventLog.open(at: path, options: logOptions(options)))
    }

    // MARK: Executing

    /// Executes one command: appends its events atomically, or throws the ``Rejection`` and writes nothing.
    @discardableResult
    public func execute(_ command: Command) throws -> CommandOutcome {
        precondition(history == nil, "a time-travel view takes no commands")
        var pending: ParsedLines? = ParsedLines(parsed: [.success(command)])
        let report = try run(mode: .atomic) {
            defer { pending = nil }; return pending
        }
        if let rejection = report.outcomes[0].rejection { throw rejection }
        return report.outcomes[0]
    }

    /// Executes one NDJSON line.
    @discardableResult
    public func execute(line: String) throws -> CommandOutcome {
        let report = try apply(lines: [Array(line.utf8)], mode: .atomic)
        if let rejection = report.outcomes[0].rejection { throw rejection }
        return report.outcomes[0]
    }

    /// Lines per write transaction when a batch is not atomic: large enough that commits are rare, small
    /// enough that a transaction's dirty pages stay few (LMDB's cost per dirty page grows with their number).
    public static let continueChunkLines = 5_000

    /// Applies NDJSON lines (one command each; a trailing CR is ignored; empty lines are skipped).
    ///
    /// Atomic by default: one write transaction, all or nothing. With `.continueOnRejection` the valid lines
    /// are committed in transactions of ``continueChunkLines`` lines (each command is still atomic on its
    /// own), and `progress(linesDone, linesTotal)` is called after each.
    public func apply(lines: [[UInt8]], mode: BatchMode = .atomic, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> BatchReport {
        let report = try apply(streaming: lines, mode: mode) { done in progress?(done, UInt64(lines.count)) }
        return report
    }

    /// Applies NDJSON lines as ``apply(lines:mode:progress:)`` does, taking them from `lines` as they are
    /// needed: see ``apply(readingLines:mode:progress:)``.
    public func apply(streaming lines: some Sequence<[UInt8]>, mode: BatchMode = .atomic, progress: ((UInt64) -> Void)? = nil) throws -> BatchReport {
        var iterator = lines.makeIterator()
        return try apply(readingLines: { iterator.next() }, mode: mode, progress: progress)
    }

    /// Applies NDJSON lines as ``apply(lines:mode:progress:)`` does, taking each from `nextLine` (nil at the
    /// end). `progress(linesDone)` is called after each ``continueChunkLines`` lines.
    ///
    /// Reading may fail (a file's or a pipe's read); the error is thrown as it is. An atomic batch reads
    /// every line before its write transaction begins, so that reading never holds the writer lock (a slow
    /// producer on a pipe would hold every writer of every process back) and a failed read writes nothing.
    /// With `.continueOnRejection` one chunk is read at a time, between transactions, so a file of millions
    /// of commands is never held whole; a failed read keeps the chunks committed before it (running the
    /// whole input again is safe: commands already applied are duplicates, no-ops).
    public func apply(readingLines nextLine: () throws -> [UInt8]?, mode: BatchMode = .atomic, progress: ((UInt64) -> Void)? = nil) throws -> BatchReport {
        precondition(history == nil, "a time-travel view takes no commands")
        func nextChunk() throws -> [[UInt8]]? {
            var chunk: [[UInt8]] = []
            while chunk.count < Self.continueChunkLines, let line = try nextLine() { chunk.append(line) }
            return chunk.isEmpty ? nil : chunk
        }
        var pages = BatchPages()
        var done: UInt64 = 0
        guard mode == .continueOnRejection else {
            var chunks: [[[UInt8]]] = []
            while let chunk = try nextChunk() { chunks.append(chunk) }
            var index = 0
            return try run(mode: mode, everyCommand: { pages.step(log.environment, linesDone: done) }) {
                guard index < chunks.count else { return nil }
                defer {
                    done += UInt64(chunks[index].count)
                    chunks[index] = []  // parsed now, and kept parsed by `run` for a re-run
                    index += 1
                    progress?(done)
                }
                return Self.parse(chunks[index][...])
            }
        }
        // Each chunk is a transaction of its own, so only one chunk is held at a time; an empty input is
        // one empty transaction, as an atomic batch's.
        guard var pending = try nextChunk() else { return try run(mode: mode) { nil } }
        var total = BatchReport(outcomes: [], eventsAppended: 0, head: .empty, committed: false)
        while true {
            var handOver: ParsedLines? = Self.parse(pending[...])
            let report = try run(mode: mode, everyCommand: { pages.step(log.environment, linesDone: done) }) {
                defer { handOver = nil }
                return handOver
            }
            total.outcomes += report.outcomes
            total.eventsAppended += report.eventsAppended
            total.head = report.head
            total.committed = total.committed || report.committed
            done += UInt64(pending.count)
            progress?(done)
            guard let next = try nextChunk() else { return total }
            pending = next
        }
    }

    /// A long batch reads pages of every projection tree and of the log: the maps' pages count as the
    /// process's resident memory (Hexi's year reached 1.2 GB, 0.2 GB of it the process's own). From the
    /// second chunk on they are kept within a budget, measured every 64 commands as a replay's every 64
    /// events (once a chunk let them grow by 100 MB between two measurements); a short batch never pays
    /// for it. Stepped inside the write transaction, so the map cannot move.
    private struct BatchPages {
        var budget: MappedPagesBudget?

        mutating func step(_ environment: Environment, linesDone: UInt64) {
            guard linesDone >= UInt64(Engine.continueChunkLines) else { return }
            if budget == nil { budget = MappedPagesBudget(releasingFirst: environment) }
            budget?.step(environment)
        }
    }

    /// Batches at least this long are parsed on a thread of their own while they are applied.
    static let pipelinedParseLinesMin = 64

    /// Parses lines into commands. Parsing and validating a line reads no state, so a batch is parsed on
    /// another core while the write transaction decides and appends the lines already parsed (parsing was
    /// a fifth of a ledger command's time); what is decided and appended, and in which order, does not change.
    static func parse(_ lines: ArraySlice<[UInt8]>) -> ParsedLines {
        ParsedLines(lines, pipelined: lines.count >= pipelinedParseLinesMin && ProcessInfo.processInfo.activeProcessorCount > 1)
    }

    /// Parses one NDJSON line into a command, or the rejection that says why not; nil for an empty line.
    static func parse(_ raw: [UInt8]) -> Result<Command, Rejection>? {
        var line = raw[...]
        if line.last == 0x0D { line = line.dropLast() }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        do {
            let json = try JSONParser.parse(Array(line))
            return .success(try Command(json: json))
        } catch let error as JSONSyntaxError {
            return .failure(Rejection(.invalidJSON, field: error.field, error.description))
        } catch let rejection as Rejection {
            return .failure(rejection)
        } catch {
            return .failure(Rejection(.invalidJSON, "\(error)"))
        }
    }

    /// Decides and appends, in one write transaction, the lines of every chunk `nextChunk` hands over
    /// until it returns nil. The transaction may run again after the map grows, so the chunks are taken
    /// once and kept for a re-run: an atomic batch holds its parsed commands (not their lines) to the end.
    /// `everyCommand` runs after each command, inside the transaction (to keep the mapped pages within budget).
    private func run(mode: BatchMode, everyCommand: () -> Void = {}, _ nextChunk: () -> ParsedLines?) throws -> BatchReport {
        var report = BatchReport(outcomes: [], eventsAppended: 0, head: .empty, committed: false)
        var taken: [ParsedLines] = []
        var exhausted = false
        do {
            report = try log.write { writer -> BatchReport in
                let start = writer.head.position
                let tables = Tables(cache: TransactionCache()) { writer.databases(of: $0) }
                var outcomes: [CommandOutcome] = []
                var chunkIndex = 0
                while true {
                    if chunkIndex == taken.count {
                        guard !exhausted, let chunk = nextChunk() else { exhausted = true; break }
                        taken.append(chunk)
                    }
                    let parsed = taken[chunkIndex]
                    chunkIndex += 1
                    outcomes.reserveCapacity(outcomes.count + parsed.count)
                    for index in 0..<parsed.count {
                        guard let item = parsed[index] else { outcomes.append(.skipped); continue }
                        switch item {
                        case .failure(let rejection): outcomes.append(.rejected(rejection))
                        case .success(let command):
                            outcomes.append(try execute(command, writer, tables))
                            everyCommand()
                        }
                    }
                }
                let result = BatchReport(outcomes: outcomes, eventsAppended: writer.head.position - start, head: writer.head, committed: true)
                if mode == .atomic && result.rejected > 0 {
                    // Abort the transaction, keeping the outcomes to report.
                    throw RollbackWith(report: result)
                }
                return result
            }
        } catch let rollback as RollbackWith {
            report = rollback.report
            report.eventsAppended = 0
            report.committed = false
            report.head = try log.head
        }
        return report
    }

    private struct RollbackWith: Error { let report: BatchReport }

    private func execute(_ command: Command, _ writer: borrowing LogWriter, _ tables: Tables) throws -> CommandOutcome {
        let digest = command.digest
        if let earlier = try writer.commandRecord(command.id) {
            guard earlier.digest == digest else {
                return .rejected(Rejection(.duplicateCommandId, field: "id", "id: \(command.id) was used at position \(earlier.first) for a different command"))
            }
            return .duplicate(firstPosition: earlier.first, lastPosition: earlier.last)
        }
        guard let handler = CommandCatalog.handlers[command.name] else {
            return .rejected(Rejection(.unknownCommand, field: "command", "command: unknown command \"\(command.name)\""))
        }
        let decision = Decision(command: command, tables: tables)
        do {
            try writer.withTransaction { txn in try handler.decide(decision, txn) }
            precondition(!decision.events.isEmpty, "\(command.name) accepted without events")
            let result = try writer.append(
                AppendCommand(
                    commandId: command.id, requestDigest: digest, actor: command.actor,
                    occurredAt: command.at, events: decision.events))
            return .applied(firstPosition: result.firstPosition, lastPosition: result.lastPosition)
        } catch let rejection as Rejection {
            return .rejected(rejection)
        } catch let error as LogError {
            switch error {
            case .versionConflict(let stream, _, _):
                return .rejected(Rejection(.duplicateId, "\(stream) exists already"))
            case .invalid(let field, let reason):
                return .rejected(Rejection(.invalidField, field: field, "\(field): \(reason)"))
            default:
                throw error
            }
        }
    }

    // MARK: Reading

    /// Runs `body` over one consistent snapshot of the live log and every live projection.
    public func read<R>(_ body: (borrowing LogReader, Tables) throws -> R) throws -> R {
        try log.read { reader in try body(reader, Tables { reader.databases(of: $0) }) }
    }

    /// Runs `body` over one consistent snapshot of the projections the queries read: the live ones, or in
    /// a time-travel view the ones it replayed in memory.
    func view<R>(_ body: (borrowing ReadTransaction, Tables) throws -> R) throws -> R {
        if let history {
            let tables = Tables { name in
                history.databases[name] ?? .absent(name, reason: "this time-travel view did not replay it; name it in asOf(projections:)")
            }
            return try history.read { txn in try body(txn, tables) }
        }
        return try log.read { reader in
            let tables = Tables { reader.databases(of: $0) }
            return try reader.withTransaction { txn in try body(txn, tables) }
        }
    }

    // MARK: Time travel

    /// A read-only view of the projections as they stood at an occurred time (every event that occurred at
    /// or before `time`), or at a position (every event up to it), or both. Built by replaying that part of
    /// the log into memory; the store is only read and nothing is written anywhere. Every query of the view
    /// answers for then.
    ///
    /// With `projections`, only those are replayed (a query of one domain needs its own projection and the
    /// registry's: see ``ProjectionName/read(byQueriesOf:)``); a query of the view that reads another one
    /// stops the program, as a programming error.
    ///
    /// With `appendOnly: .dropped`, statements, fund movements, timelines, surveys and elder histories are
    /// not kept: enough for ``balance(of:)``, ``balances()``, ``stock(community:)``, ``wishes(state:)`` and
    /// ``elders(tier:behindPlan:now:)``, in less time and memory; any query that reads them stops the
    /// program. With `appendOnly: .heldFor(entities: [account])`, only that account's statement (or that
    /// fund's movements) is kept: enough for ``statement(of:)`` or ``fund(_:)`` of it; another account's
    /// statement on such a view is empty.
    public func asOf(
        _ time: Timestamp? = nil, position: UInt64? = nil, projections: Set<ProjectionName>? = nil, appendOnly: AppendOnlyRows = .held,
        rowsKept: [String: RowKeyFilter] = [:], progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> Engine {
        Engine(
            log: log,
            history: try log.memoryProjections(
                upTo: position, occurredAtOrBefore: time, projections: projections.map { Set($0.map(\.rawValue)) }, appendOnly: appendOnly,
                rowsKept: rowsKept, progress: progress))
    }

    /// For a time-travel view: the last position replayed, and the events left out.
    public var historicalScope: (position: UInt64, replayed: UInt64, skipped: [UInt64])? {
        history.map { ($0.position, $0.replayed, $0.skipped) }
    }
}

/// A batch's lines parsed into commands, in order. Pipelined, a thread of its own parses them a block at
/// a time while the reader (the write transaction) takes each as soon as it is ready; reading a line that
/// is not parsed yet waits for it. Lines read once can be read again (a write that grows the map re-runs).
final class ParsedLines: @unchecked Sendable {
    /// How many lines.
    let count: Int
    /// One slot per line, written once by the parser before `parsed` passes it; a buffer, not an array,
    /// so that the parser writing one slot and the reader reading another never access one value at once.
    private let items: UnsafeMutableBufferPointer<Result<Command, Rejection>??>
    /// Lines parsed so far, under `condition`.
    private var parsed = 0
    /// What the reader last saw of `parsed`: below it, the slots are written and no lock is needed.
    private var seen = 0
    private let condition = NSCondition()
    /// Lines parsed between two hand-overs to the reader.
    static let blockLines = 16

    /// Lines parsed already.
    init(parsed: [Result<Command, Rejection>?]) {
        count = parsed.count
        items = .allocate(capacity: count)
        _ = items.initialize(from: parsed.map { .some($0) })
        self.parsed = count
        seen = count
    }

    /// Parses `lines`, on a thread of its own when `pipelined`, else at once.
    init(_ lines: ArraySlice<[UInt8]>, pipelined: Bool) {
        count = lines.count
        items = .allocate(capacity: count)
        guard pipelined else {
            _ = items.initialize(from: lines.map { .some(Engine.parse($0)) })
            parsed = count
            seen = count
            return
        }
        items.initialize(repeating: nil)
        let lines = Array(lines)
        Thread.detachNewThread { [self] in
            var start = 0
            while start < lines.count {
                let end = min(lines.count, start + Self.blockLines)
                for index in start..<end { items[index] = .some(Engine.parse(lines[index])) }
                condition.lock()
                parsed = end
                condition.broadcast()
                condition.unlock()
                start = end
            }
        }
    }

    deinit {
        items.deinitialize()
        items.deallocate()
    }

    /// Line `index` parsed (nil for an empty line), waiting for it if need be.
    subscript(_ index: Int) -> Result<Command, Rejection>? {
        precondition(index < count, "line \(index) of \(count)")
        if index >= seen {
            condition.lock()
            while parsed <= index { condition.wait() }
            seen = parsed
            condition.unlock()
        }
        guard let item = items[index] else { preconditionFailure("line \(index) read before it was parsed") }
        return item
    }
}
