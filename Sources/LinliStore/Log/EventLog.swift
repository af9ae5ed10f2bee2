import CLMDB
import Foundation

/// An event to append: its stream, the version the stream must be at, its type and payload.
public struct NewEvent: Sendable, Equatable {
    /// The stream (an entity, such as `resident:r-12`). No NUL bytes; at most ``LogLimits/streamBytesMax`` bytes.
    public var stream: String
    /// The version the stream must be at before this event; checked atomically with the append.
    public var expectedVersion: ExpectedVersion
    /// The event type.
    public var type: String
    /// The payload's schema version.
    public var schemaVersion: UInt16
    /// The payload.
    public var payload: [UInt8]

    /// An event for `stream`.
    public init(stream: String, expectedVersion: ExpectedVersion = .any, type: String, schemaVersion: UInt16 = 1, payload: [UInt8]) {
        self.stream = stream
        self.expectedVersion = expectedVersion
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
    }
}

/// A command's events, appended atomically, with the command id that makes the append idempotent.
public struct AppendCommand: Sendable, Equatable {
    /// The command's unique id.
    public var commandId: String
    /// A digest of the request's bytes. The same id with the same digest appends nothing and returns the
    /// original positions; the same id with another digest is ``LogError/commandIdReused(commandId:firstPosition:)``.
    public var requestDigest: Hash
    /// Who did it.
    public var actor: String
    /// When it happened.
    public var occurredAt: Timestamp
    /// One or more events.
    public var events: [NewEvent]

    /// A command.
    public init(commandId: String, requestDigest: Hash, actor: String, occurredAt: Timestamp, events: [NewEvent]) {
        self.commandId = commandId
        self.requestDigest = requestDigest
        self.actor = actor
        self.occurredAt = occurredAt
        self.events = events
    }
}

/// Where a command's events landed.
public struct AppendResult: Sendable, Equatable {
    /// The first event's position.
    public var firstPosition: UInt64
    /// The last event's position.
    public var lastPosition: UInt64
    /// True when the command id had been appended before with the same request: nothing new was written.
    public var duplicate: Bool

    /// A result.
    public init(firstPosition: UInt64, lastPosition: UInt64, duplicate: Bool) {
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.duplicate = duplicate
    }
}

/// The last event: its position (0 for an empty log) and hash (``Hash/genesis`` for an empty log).
public struct LogHead: Sendable, Equatable {
    /// The last position.
    public var position: UInt64
    /// The last record's hash.
    public var hash: Hash

    /// The head of an empty log.
    public static let empty = LogHead(position: 0, hash: .genesis)

    /// A head.
    public init(position: UInt64, hash: Hash) {
        self.position = position
        self.hash = hash
    }

    var encoded: [UInt8] {
        var writer = ByteWriter(capacity: 40)
        writer.write(position)
        hash.withUnsafeBytes { writer.write($0) }
        return writer.bytes
    }

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 40, let position = bigEndianValue(bytes) else { return nil }
        self.init(position: position, hash: Hash(UnsafeRawBufferPointer(rebasing: bytes[8..<40])))
    }
}

/// The names of the log's own databases and meta keys (docs/FORMAT.md).
enum StoreLayout {
    static let events = "events"
    static let streamHeads = "stream-heads"
    static let commands = "commands"
    static let meta = "meta"
    static let magicKey = Array("magic".utf8)
    static let magicValue = Array("linli-store".utf8)
    static let formatKey = Array("format".utf8)
    static let formatVersion: UInt32 = 1
    static let headKey = Array("head".utf8)
    /// Present while an import fills a new store, from its first transaction to its last: a store that
    /// holds it was refused or interrupted and does not open.
    static let importIncompleteKey = Array("import-incomplete".utf8)
    /// On a replica: who it follows, as the operator named the source (UTF-8).
    static let replicaOfKey = Array("replica-of".utf8)
    static func projectionKey(_ name: String) -> [UInt8] { Array("projection/\(name)".utf8) }
}

/// The append-only, hash-chained event log of a Linli store, in one LMDB environment.
///
/// Appends are atomic per write: every command's events, the stream index, the command-id index and the
/// chain head are written in one LMDB transaction, so a crash at any moment leaves either all of a write
/// or none of it. Positions run from 1 without gaps; each record carries the hash of its predecessor and
/// its own hash, SHA-256(previous hash ‖ record body).
///
/// The log is the projections' write-ahead log: their stored rows are the fold of positions 1 … P, stored
/// with P (a checkpoint), and every read and every decision sees P+1 … head folded in first, in memory.
/// A crash loses at most the rows changed in memory since the last checkpoint, which the next transaction
/// folds in again from the log.
public final class EventLog: @unchecked Sendable {
    /// How to open a log.
    public struct Options: Sendable {
        /// The clock that stamps recorded times. Tests inject a fixed one.
        public var clock: @Sendable () -> Timestamp = { Timestamp(epochMilliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }
        /// The LMDB environment's options (initial map size, …).
        public var environment = Environment.Options()
        /// The projections kept beside the log.
        public var projections: [any Projection] = []
        /// Open without the ability to write.
        public var readOnly = false
        /// Events replayed per write transaction during catch-up, rebuild and audit: small enough that a
        /// transaction's dirty pages stay well under LMDB's limit, large enough that commits do not dominate.
        public var replayChunkEvents: UInt64 = 50_000
        /// The most memory, in bytes, a replay into memory (``memoryProjections(upTo:occurredAtOrBefore:progress:)``,
        /// an audit's replay) may hold in rows before it stops with ``LogError/replayTooLarge(bytes:bytesMax:)``.
        public var replayMemoryBytesMax = 4 << 30
        /// An audit's replay folds a row of a retirable database (``Projection/retirableDatabases``) into the
        /// database's sum and forgets it once this many events have passed without writing it (looked for
        /// every half of this): about 57 days of Hexi's deliveries, so that the rows it holds are the weeks
        /// and the hours logs still under way.
        public var replayRetireAfterEvents: UInt64 = 250_000
        /// A write that leaves this many events or more folded in memory since the last checkpoint writes a
        /// checkpoint in its own transaction: it bounds the memory a process holds and the tail a reader
        /// replays on open (64k events replay in well under half a second).
        public var checkpointEvents: UInt64 = 65_536
        /// A write transaction whose own changed rows reach this count writes a checkpoint in the middle,
        /// so that one large atomic batch does not hold all its rows in memory.
        public var checkpointRowsMax: Int = 200_000
        /// Told how an upgrade of a store written by an older layout advances (its projections are rebuilt
        /// once when it is first opened for writing).
        public var upgradeProgress: (@Sendable (UInt64, UInt64) -> Void)? = nil

        /// Whether an audit replays a projection that declares parts (``Projection/replayParts``) in its parts:
        /// nil (the default) when it is most of the work and the machine has more than one core; tests force
        /// it either way.
        package var replayInParts: Bool? = nil

        /// Run on a replay's read-ahead thread for each event it hands over, the result kept in
        /// ``RecordedEvent/prepared``: the engine checks an event's type and payload there, on the other
        /// core, rather than on the thread that applies the events (nil: nothing is prepared).
        public var prepareEvent: (@Sendable (RecordedEvent) -> (any AnyObject & Sendable)?)? = nil

        /// The defaults: the system clock, no projections.
        public init() {}
    }

    /// The LMDB environment.
    public let environment: Environment
    /// The store's directory.
    public let path: String
    /// The options the log was opened with.
    public let options: Options
    let events: Database
    let streamHeads: Database
    let commands: Database
    let meta: Database
    /// The projections, with the sets of their databases opened so far (under `stateLock`).
    var registeredStorage: [RegisteredProjection] = []
    var registered: [RegisteredProjection] { stateLock.withLock { registeredStorage } }
    let stateLock = NSLock()
    /// Who this store follows, when it is a replica (set once, while it opens; a store never stops being one).
    public private(set) var replicaSource: String?
    /// What this process holds of the projections in memory (under `stateLock`).
    var published = ProjectionState(bases: [], applied: [], changes: [], slots: [])
    private let subscribersLock = NSLock()
    private var subscribers: [UUID: Subscriber] = [:]
    /// Held by every write of this process from its transaction's start to its events' delivery, so that
    /// subscribers see commits in position order: LMDB orders the commits, but the delivery after a commit
    /// ran outside any lock, and a second thread's commit could be delivered first. Writes of one process
    /// wait for each other on LMDB's writer lock anyway; this lock adds no waiting of its own.
    private let writeDeliveryLock = NSLock()

    /// Creates a new, empty store in `path` (a directory that does not exist or is empty); what an
    /// interrupted creation left is finished. A store there already is refused (``LogError/storeExists(path:)``)
    /// without being opened for writing; ``holdsNoEvents(at:)`` tells whether it is one to open and go on with.
    public static func create(at path: String, options: Options = Options()) throws -> EventLog {
        try StorePath.prepareForCreate(path)
        return try EventLog(path: path, options: options, creating: true)
    }

    /// Whether the folder at `path` holds a store without a single event (a creation interrupted after
    /// the store was made, before its first append). Read-only: nothing in the folder is changed; false
    /// for anything else, or for a store that cannot be read.
    public static func holdsNoEvents(at path: String) -> Bool {
        (try? StorePath.checkExisting(path)) != nil && StorePath.holdsNoEvents(path)
    }

    /// Opens the store in `path`; catches its projections up with the log.
    public static func open(at path: String, options: Options = Options()) throws -> EventLog {
        try StorePath.checkExisting(path)
        return try EventLog(path: path, options: options, creating: false)
    }

    /// Opens the environment at `path` as a store without the folder checks of ``open(at:options:)``: a
    /// backup's copy, a single file opened with ``Environment/Options/noSubdirectory``.
    static func openUnchecked(at path: String, options: Options) throws -> EventLog {
        try EventLog(path: path, options: options, creating: false)
    }

    /// Creates a new, empty store to receive another store's records (``LogWriter/appendRecorded(_:)``):
    /// marked incomplete until ``finishImport()``, so that a refused or killed import leaves no store that
    /// opens; with `replicaOf`, marked as a replica of that source for good (it then takes no commands).
    public static func createForImport(at path: String, replicaOf source: String?, options: Options = Options()) throws -> EventLog {
        precondition(!options.readOnly, "an import writes")
        try StorePath.prepareForCreate(path)
        var marks = [(StoreLayout.importIncompleteKey, [UInt8]())]
        if let source { marks.append((StoreLayout.replicaOfKey, Array(source.utf8))) }
        return try EventLog(path: path, options: options, creating: true, marks: marks)
    }

    private init(path: String, options: Options, creating: Bool, marks: [([UInt8], [UInt8])] = []) throws {
        var environmentOptions = options.environment
        environmentOptions.readOnly = options.readOnly
        environment = try Environment(path: path, options: environmentOptions)
        self.path = path
        self.options = options
        let create = creating && !options.readOnly
        if create {
            // The meta database is written last, in the same transaction as its magic, so a store whose
            // creation was interrupted has no magic and is recognised as not (yet) a store.
            events = try environment.database(named: StoreLayout.events, create: true)
            streamHeads = try environment.database(named: StoreLayout.streamHeads, create: true)
            commands = try environment.database(named: StoreLayout.commands, create: true)
            meta = try environment.database(named: StoreLayout.meta, create: true)
            try environment.write { txn in
                try txn.put(meta, key: StoreLayout.magicKey, value: StoreLayout.magicValue)
                try txn.put(meta, key: StoreLayout.formatKey, value: Array(bigEndianKey(UInt64(StoreLayout.formatVersion)).suffix(4)))
                try txn.put(meta, key: StoreLayout.headKey, value: LogHead.empty.encoded)
                for (key, value) in marks { try txn.put(meta, key: key, value: value) }
            }
        } else {
            do {
                meta = try environment.database(named: StoreLayout.meta, create: false)
                events = try environment.database(named: StoreLayout.events, create: false)
                streamHeads = try environment.database(named: StoreLayout.streamHeads, create: false)
                commands = try environment.database(named: StoreLayout.commands, create: false)
            } catch LMDBError.Code.notFound {
                throw LogError.notAStore(path: path, reason: "an LMDB environment without Linli's databases")
            }
        }
        try checkFormat(importing: !marks.isEmpty)
        try openProjections(options.projections)
    }

    private func checkFormat(importing: Bool) throws {
        try environment.read { txn in
            if !importing, try txn.value(in: meta, key: StoreLayout.importIncompleteKey) != nil { throw LogError.importIncomplete(path: path) }
            replicaSource = try txn.value(in: meta, key: StoreLayout.replicaOfKey).map { String(decoding: $0, as: UTF8.self) }
            guard try txn.value(in: meta, key: StoreLayout.magicKey) == StoreLayout.magicValue else {
                throw LogError.notAStore(path: path, reason: "its meta database has no Linli magic")
            }
            guard let format = try txn.value(in: meta, key: StoreLayout.formatKey), format.count == 4 else {
                throw LogError.notAStore(path: path, reason: "no format version")
            }
            let version = format.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard version == StoreLayout.formatVersion else { throw LogError.unsupportedFormat(path: path, version: version) }
        }
    }

    // MARK: Reading the head

    /// The last event's position and hash, as stored.
    public var head: LogHead {
        get throws { try environment.read { txn in try readHead(txn) } }
    }

    func readHead(_ txn: borrowing some TransactionReading & ~Copyable) throws -> LogHead {
        let head = try StoreLayout.headKey.withUnsafeBytes { key in try txn.withValue(in: meta, key: key) { LogHead($0) } }
        guard let head, let head else { throw LogError.corrupt(position: 0, reason: "the stored head is missing or malformed") }
        return head
    }

    // MARK: Writing

    /// Appends commands in one write transaction: all of them or, if any fails, none.
    public func append(_ commands: [AppendCommand]) throws -> [AppendResult] {
        try write { writer in try commands.map { try writer.append($0) } }
    }

    /// Appends one command.
    public func append(_ command: AppendCommand) throws -> AppendResult {
        try append([command])[0]
    }

    /// Runs `body` in the log's one write transaction. Everything `body` appends through the writer, and
    /// every projection's update, commits together when it returns; nothing does when it throws.
    ///
    /// `body` may run more than once (when the map must grow, or another process rebuilt a projection):
    /// it must not have effects outside the transaction that cannot be repeated.
    public func write<R>(_ body: (borrowing LogWriter) throws -> R) throws -> R {
        precondition(!options.readOnly, "write on a read-only log")
        writeDeliveryLock.lock()
        defer { writeDeliveryLock.unlock() }
        var (result, appended, view, head) = try openingMissingSets {
            try environment.write { txn -> (R, [RecordedEvent], ProjectionView, LogHead) in
                let view = try projectionView(txn)
                let session = WriteSession(view: view)
                let writer = LogWriter(log: self, transaction: WriteTransaction(borrowing: txn.handle, rows: view.overlay), session: session)
                let result = try body(writer)
                try finish(session, txn)
                // A write that appended nothing commits no new snapshot (LMDB writes no meta page), so its id
                // names no state this process could later recognise.
                if session.appended.isEmpty { session.view.snapshotId = 0 }
                return (result, session.appended, session.view, session.head)
            }
        }
        // Only now, with the commit done, is what the transaction folded in published to the process.
        publishCommitted(&view, head: head)
        if !appended.isEmpty { notify(appended) }
        appended = []
        return result
    }

    /// Writes what a write session accumulated: the head and the stream heads, and a checkpoint when the
    /// events folded in memory since the last one reach ``Options/checkpointEvents``.
    private func finish(_ session: WriteSession, _ txn: borrowing WriteTransaction) throws {
        guard !session.appended.isEmpty else { return }
        for stream in session.touchedStreams.sorted() {
            guard let head = session.streams[stream] else { continue }
            try txn.put(streamHeads, key: Array(stream.utf8), value: head.encoded)
        }
        try txn.put(meta, key: StoreLayout.headKey, value: session.head.encoded)
        let oldest = session.view.state.bases.map(\.position).min() ?? session.head.position
        if session.head.position - oldest >= options.checkpointEvents {
            try writeCheckpoints(&session.view, at: session.head, txn)
        }
    }

    // MARK: Reading

    /// Runs `body` in a read-only snapshot of the log and its projections. Readers never block writers.
    public func read<R>(_ body: (borrowing LogReader) throws -> R) throws -> R {
        while true {
            do {
                return try environment.read { txn in
                    let view = try projectionView(txn)
                    if view.state.checkedSnapshot?.id != view.snapshotId { publishCaughtUp(view) }
                    let reader = LogReader(log: self, transaction: ReadTransaction(borrowing: txn.handle, rows: view.overlay), slots: view.state.slots)
                    return try body(reader)
                }
            } catch let missing as MissingDatabases {
                // Another process rebuilt into the set of databases this process had not opened.
                try openSet(missing)
            }
        }
    }

    /// The event at `position`, or nil.
    public func event(at position: UInt64) throws -> RecordedEvent? {
        try read { try $0.event(at: position) }
    }

    /// Every event from `position` on (backward with `reverse`), until `body` returns false or `limit` events.
    public func events(from position: UInt64 = 1, reverse: Bool = false, limit: Int = .max) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try read { reader in
            try reader.forEachEvent(from: position, reverse: reverse) { event in
                out.append(event)
                return out.count < limit
            }
        }
        return out
    }

    /// Every event of `stream` from `version` on.
    public func events(inStream stream: String, fromVersion version: UInt64 = 1) throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        try read { reader in
            try reader.forEachEvent(inStream: stream, fromVersion: version) {
                out.append($0); return true
            }
        }
        return out
    }

    // MARK: Subscriptions

    /// One subscription: its stream's continuation, and the last position it was handed.
    private struct Subscriber {
        let continuation: AsyncThrowingStream<RecordedEvent, any Error>.Continuation
        let bufferEvents: Int
        var lastDelivered: UInt64
    }

    /// The events this process appends from now on, in position order (across the process's threads too),
    /// delivered after each commit. Events appended by other processes are not seen here; read them with
    /// ``events(from:reverse:limit:)``.
    ///
    /// At most `bufferEvents` events wait for a slow consumer. One more, and the stream delivers what it
    /// holds and then ends with ``LogError/subscriberBehind(lastDelivered:bufferEvents:)``: the consumer
    /// reads on from the log and subscribes again. A stream never silently skips an event, and a writer
    /// never waits for a consumer.
    public func newEvents(bufferEvents: Int = 65_536) -> AsyncThrowingStream<RecordedEvent, any Error> {
        precondition(bufferEvents > 0, "a subscription buffers at least one event")
        let (stream, continuation) = AsyncThrowingStream<RecordedEvent, any Error>.makeStream(bufferingPolicy: .bufferingOldest(bufferEvents))
        let id = UUID()
        subscribersLock.withLock { subscribers[id] = Subscriber(continuation: continuation, bufferEvents: bufferEvents, lastDelivered: 0) }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.subscribersLock.withLock { _ = self.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Hands one commit's events to every subscriber, under ``writeDeliveryLock``.
    private func notify(_ appended: [RecordedEvent]) {
        // Finishing a stream runs its termination handler, which takes `subscribersLock`: the ones that
        // fell behind are finished after it is released.
        let behind = subscribersLock.withLock { () -> [Subscriber] in
            var behind: [Subscriber] = []
            for (id, var subscriber) in subscribers {
                var dropped = false
                for event in appended {
                    precondition(event.position > subscriber.lastDelivered, "events are delivered in position order")
                    if case .dropped = subscriber.continuation.yield(event) { dropped = true; break }
                    subscriber.lastDelivered = event.position
                }
                if dropped { behind.append(subscriber); subscribers[id] = nil } else { subscribers[id] = subscriber }
            }
            return behind
        }
        for subscriber in behind {
            subscriber.continuation.finish(throwing: LogError.subscriberBehind(lastDelivered: subscriber.lastDelivered, bufferEvents: subscriber.bufferEvents))
        }
    }

    deinit {
        for subscriber in subscribers.values { subscriber.continuation.finish() }
    }
}

/// A write session's running state: the head, stream versions and events appended so far, and the
/// projections' view the transaction folds its events into.
final class WriteSession {
    var head: LogHead
    var view: ProjectionView
    let slots: [ProjectionSlot]
    var streams: [String: StreamHead] = [:]
    var touchedStreams: Set<String> = []
    var appended: [RecordedEvent] = []
    var recordBuffer = ByteWriter(capacity: 512)
    /// A command id this write looked up and found unused, until the next append: the engine checks an
    /// id before deciding, and the append need not look it up again (nothing else writes in between).
    var commandIdFoundUnused: String?
    /// Which projections each appended event goes to: the same rule as a replay's, so that the live
    /// projections and a rebuild see the same events.
    let filter: EventTypeFilter

    init(view: ProjectionView) {
        self.head = view.head
        self.view = view
        self.slots = view.state.slots
        self.filter = EventTypeFilter(slots)
    }
}

/// Appends inside ``EventLog/write(_:)``. Borrowed for the closure's duration only.
public struct LogWriter: ~Copyable {
    let log: EventLog
    let transaction: WriteTransaction
    let session: WriteSession

    /// The head as of the events appended so far in this write.
    public var head: LogHead { session.head }

    /// Runs `body` with the write transaction, to read or write the projections' databases.
    public func withTransaction<R>(_ body: (borrowing WriteTransaction) throws -> R) rethrows -> R {
        try body(transaction)
    }

    /// The databases of the projection named `name`, in the generation now in use.
    public func databases(of name: String) -> ProjectionDatabases {
        guard let slot = session.slots.first(where: { $0.projection.name == name }) else {
            preconditionFailure("no projection named \(name) is registered")
        }
        return slot.databases
    }

    /// The current version of `stream` (0 when it has no events), counting this write's appends.
    public func streamVersion(_ stream: String) throws -> UInt64 {
        try streamHead(stream).version
    }

    func streamHead(_ stream: String) throws -> StreamHead {
        if let cached = session.streams[stream] { return cached }
        let stored = try log.storedStreamHead(stream, transaction)
        session.streams[stream] = stored
        return stored
    }

    /// The positions of an earlier command with this id, and its request digest, if any.
    public func commandRecord(_ commandId: String) throws -> (first: UInt64, last: UInt64, digest: Hash)? {
        let record = try log.commandRecord(commandId, transaction)
        session.commandIdFoundUnused = record == nil ? commandId : nil
        return record
    }

    /// Appends one command's events and applies them to every projection. Either every event is appended
    /// or, when a check fails, none is and the error says why.
    public func append(_ command: AppendCommand) throws -> AppendResult {
        if let source = log.replicaSource { throw LogError.replica(path: log.path, source: source) }
        try log.validate(command, alreadyAppended: session.appended.count)
        // The command table is written with `.noOverwrite` below as well, so a reused id can never
        // overwrite a record even if this shortcut were wrong.
        let checkedUnused = session.commandIdFoundUnused == command.commandId
        session.commandIdFoundUnused = nil
        if !checkedUnused, let earlier = try log.commandRecord(command.commandId, transaction) {
            guard earlier.digest == command.requestDigest else {
                throw LogError.commandIdReused(commandId: command.commandId, firstPosition: earlier.first)
            }
            return AppendResult(firstPosition: earlier.first, lastPosition: earlier.last, duplicate: true)
        }
        // Check every expected version before writing anything, so a conflict leaves nothing behind. Each
        // event's version and its stream's previous position are kept, so the writing loop below hashes no
        // stream id again.
        var local: [String: StreamHead] = [:]
        var links: [StreamHead] = []
        links.reserveCapacity(command.events.count)
        for (index, event) in command.events.enumerated() {
            let current = try local[event.stream] ?? streamHead(event.stream)
            switch event.expectedVersion {
            case .any: break
            case .noStream where current.version == 0: break
            case .exactly(let expected) where expected == current.version: break
            default: throw LogError.versionConflict(stream: event.stream, expected: event.expectedVersion, actual: current.version)
            }
            links.append(current)
            local[event.stream] = StreamHead(version: current.version + 1, lastPosition: session.head.position + 1 + UInt64(index))
        }
        let recordedAt = log.options.clock()
        let first = session.head.position + 1
        for (index, event) in command.events.enumerated() {
            let position = session.head.position + 1
            let streamVersion = links[index].version + 1
            let previousInStream = links[index].lastPosition
            let hash = event.payload.withUnsafeBytes { payload in
                RecordCodec.encode(
                    position: position, stream: event.stream, streamVersion: streamVersion, previousInStream: previousInStream, type: event.type,
                    schemaVersion: event.schemaVersion, commandId: command.commandId, actor: command.actor,
                    occurredAt: command.occurredAt, recordedAt: recordedAt, payload: payload,
                    previousHash: session.head.hash, into: &session.recordBuffer)
            }
            try withUnsafeBytes(of: position.bigEndian) { key in
                try session.recordBuffer.bytes.withUnsafeBytes { record in
                    try transaction.put(log.events, key: key, value: record, flags: .append)
                }
            }
            session.appended.append(
                RecordedEvent(
                    position: position, stream: event.stream, streamVersion: streamVersion,
                    previousPositionInStream: previousInStream, type: event.type,
                    schemaVersion: event.schemaVersion, commandId: command.commandId, actor: command.actor,
                    occurredAt: command.occurredAt, recordedAt: recordedAt, payload: event.payload,
                    previousHash: session.head.hash, hash: hash))
            session.head = LogHead(position: position, hash: hash)
        }
        for (stream, head) in local {
            session.streams[stream] = head
            session.touchedStreams.insert(stream)
        }
        try finishCommand(command.commandId, digest: command.requestDigest, first: first, eventsCount: command.events.count)
        return AppendResult(firstPosition: first, lastPosition: session.head.position, duplicate: false)
    }

    /// What every command's append ends with, once its events are in the events table: its command record,
    /// its events applied to every projection, and a checkpoint when the transaction's rows grew too many.
    func finishCommand(_ commandId: String, digest: Hash, first: UInt64, eventsCount: Int) throws {
        var value = ByteWriter(capacity: 48)
        value.write(first)
        value.write(session.head.position)
        digest.withUnsafeBytes { value.write($0) }
        try transaction.put(log.commands, key: Array(commandId.utf8), value: value.bytes, flags: .noOverwrite)
        for recorded in session.appended[(session.appended.count - eventsCount)...] {
            try session.filter.apply(recorded, to: session.slots, in: transaction)
        }
        if session.view.overlay.topRowsCount >= log.options.checkpointRowsMax {
            // Inside the same LMDB transaction as the events: the rows and their checkpoint commit with them.
            try log.writeCheckpoints(&session.view, at: session.head, WriteTransaction(borrowing: transaction.handle))
        }
    }
}

/// Reads inside ``EventLog/read(_:)``. Borrowed for the closure's duration only.
public struct LogReader: ~Copyable {
    let log: EventLog
    let transaction: ReadTransaction
    let slots: [ProjectionSlot]

    /// The head in this snapshot.
    public var head: LogHead { get throws { try log.readHead(transaction) } }

    /// Runs `body` with the read transaction, to read the projections' databases.
    public func withTransaction<R>(_ body: (borrowing ReadTransaction) throws -> R) rethrows -> R {
        try body(transaction)
    }

    /// The databases of the projection named `name`.
    public func databases(of name: String) -> ProjectionDatabases { slot(named: name).databases }

    /// This snapshot's slot of `slot`'s projection: the generation this snapshot reads (another process
    /// may have rebuilt the projection since `slot` was read).
    func slot(of slot: ProjectionSlot) -> ProjectionSlot { self.slot(named: slot.projection.name) }

    private func slot(named name: String) -> ProjectionSlot {
        guard let slot = slots.first(where: { $0.projection.name == name }) else {
            preconditionFailure("no projection named \(name) is registered")
        }
        return slot
    }

    /// Where each projection's stored rows stand, by name (the events after a checkpoint are folded in
    /// memory, so a query sees the head all the same).
    public func checkpoints() throws -> [String: ProjectionCheckpoint] {
        var out: [String: ProjectionCheckpoint] = [:]
        for slot in slots {
            if case .current(let checkpoint) = try log.readCheckpoint(slot.projection.name, transaction) { out[slot.projection.name] = checkpoint }
        }
        return out
    }

    /// The event at `position`, or nil when there is none.
    public func event(at position: UInt64) throws -> RecordedEvent? {
        let key = bigEndianKey(position)
        return try key.withUnsafeBytes { key in
            try transaction.withValue(in: log.events, key: key) { record in
                try RecordCodec.decode(record, expectedPosition: position)
            }
        }
    }

    /// Calls `body` with each event from `position` on (backward with `reverse`) until it returns false.
    public func forEachEvent(from position: UInt64, reverse: Bool = false, _ body: (RecordedEvent) throws -> Bool) throws {
        try transaction.walk(log.events, from: bigEndianKey(position), reverse: reverse) { key, record in
            guard let stored = bigEndianValue(key) else { throw LogError.corrupt(position: 0, reason: "an events key is not 8 bytes") }
            return try body(try RecordCodec.decode(record, expectedPosition: stored))
        }
    }

    /// Calls `body` with each event of `stream` from `version` on until it returns false. The stream is
    /// found by following each record's link to its stream's previous event back from the stream's head.
    public func forEachEvent(inStream stream: String, fromVersion version: UInt64 = 1, _ body: (RecordedEvent) throws -> Bool) throws {
        let head = try log.storedStreamHead(stream, transaction)
        var positions: [UInt64] = []
        var next = head.lastPosition
        var expectedVersion = head.version
        while next != 0, expectedVersion >= max(version, 1) {
            let link = try bigEndianKey(next).withUnsafeBytes { key in
                try transaction.withValue(in: log.events, key: key) { RecordCodec.streamLink(of: $0) }
            }
            guard let found = link, let (storedVersion, previous) = found, storedVersion == expectedVersion, previous < next else {
                throw LogError.corrupt(position: next, reason: "the stream link of \(stream) at version \(expectedVersion) is broken")
            }
            positions.append(next)
            next = previous
            expectedVersion -= 1
        }
        for position in positions.reversed() {
            guard let event = try event(at: position) else { throw LogError.corrupt(position: position, reason: "missing from stream \(stream)") }
            guard try body(event) else { return }
        }
    }

    /// The current version of `stream` (0 when it has none).
    public func streamVersion(_ stream: String) throws -> UInt64 {
        try log.storedStreamHead(stream, transaction).version
    }

    /// The positions of an earlier command with this id, and its request digest, if any.
    public func commandRecord(_ commandId: String) throws -> (first: UInt64, last: UInt64, digest: Hash)? {
        try log.commandRecord(commandId, transaction)
    }
}

/// A stream's head as stored in `stream-heads`: its version and the position of its last event.
struct StreamHead: Equatable {
    var version: UInt64
    var lastPosition: UInt64

    static let empty = StreamHead(version: 0, lastPosition: 0)

    var encoded: [UInt8] {
        var writer = ByteWriter(capacity: 16)
        writer.write(version)
        writer.write(lastPosition)
        return writer.bytes
    }
}

extension EventLog {
    func storedStreamHead(_ stream: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> StreamHead {
        guard !stream.isEmpty, stream.utf8.count <= LogLimits.streamBytesMax else { return .empty }
        let key = Array(stream.utf8)
        let head = try key.withUnsafeBytes { key in
            try txn.withValue(in: streamHeads, key: key) { value -> StreamHead? in
                guard value.count == 16, let version = bigEndianValue(value),
                    let last = bigEndianValue(UnsafeRawBufferPointer(rebasing: value[8..<16]))
                else { return nil }
                return StreamHead(version: version, lastPosition: last)
            }
        }
        guard let head else { return .empty }
        guard let head else { throw LogError.corrupt(position: 0, reason: "the stream head of \(stream) is malformed") }
        return head
    }

    func commandRecord(_ commandId: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> (first: UInt64, last: UInt64, digest: Hash)? {
        guard !commandId.isEmpty, commandId.utf8.count <= LogLimits.nameBytesMax else { return nil }
        let key = Array(commandId.utf8)
        let record = try key.withUnsafeBytes { key in
            try txn.withValue(in: commands, key: key) { value -> (UInt64, UInt64, Hash)? in
                guard value.count == 48, let first = bigEndianValue(value),
                    let last = bigEndianValue(UnsafeRawBufferPointer(rebasing: value[8..<16]))
                else { return nil }
                return (first, last, Hash(UnsafeRawBufferPointer(rebasing: value[16..<48])))
            }
        }
        guard let record else { return nil }
        guard let record else { throw LogError.corrupt(position: 0, reason: "the command record of \(commandId) is malformed") }
        return (record.0, record.1, record.2)
    }

    /// Checks a command against the log's limits before anything is written.
    func validate(_ command: AppendCommand, alreadyAppended: Int) throws {
        func name(_ value: String, _ field: String) throws {
            guard !value.isEmpty else { throw LogError.invalid(field: field, reason: "is empty") }
            guard value.utf8.count <= LogLimits.nameBytesMax else {
                throw LogError.invalid(field: field, reason: "is \(value.utf8.count) bytes; the limit is \(LogLimits.nameBytesMax)")
            }
        }
        try name(command.commandId, "commandId")
        try name(command.actor, "actor")
        guard !command.events.isEmpty else { throw LogError.invalid(field: "events", reason: "a command appends at least one event") }
        guard command.events.count <= LogLimits.commandEventsMax else {
            throw LogError.invalid(field: "events", reason: "\(command.events.count) events; the limit per command is \(LogLimits.commandEventsMax)")
        }
        guard alreadyAppended + command.events.count <= LogLimits.batchEventsMax else {
            throw LogError.invalid(field: "batch", reason: "more than \(LogLimits.batchEventsMax) events in one write")
        }
        for event in command.events {
            guard !event.stream.isEmpty, !event.stream.utf8.contains(0) else {
                throw LogError.invalid(field: "stream", reason: "must be non-empty and hold no NUL byte")
            }
            guard event.stream.utf8.count <= LogLimits.streamBytesMax else {
                throw LogError.invalid(field: "stream", reason: "is \(event.stream.utf8.count) bytes; the limit is \(LogLimits.streamBytesMax)")
            }
            try name(event.type, "type")
            guard event.payload.count <= LogLimits.payloadBytesMax else {
                throw LogError.invalid(field: "payload", reason: "is \(event.payload.count) bytes; the limit is \(LogLimits.payloadBytesMax)")
            }
        }
    }
}
