import Foundation
/// A view of the log kept in LMDB databases of its own, as checkpointed state: the stored rows are the
/// fold of the log up to the checkpoint's position, and the events after it are folded in memory.
///
/// The log applies every appended event to every registered projection inside the write transaction that
/// appends it, but the rows it writes go to the transaction's ``RowOverlay``, published to the process when
/// LMDB's commit succeeds; every few thousand events (and when asked, ``EventLog/checkpoint()``) the rows
/// changed in memory are written to LMDB with the checkpoint, in one transaction. Every transaction first
/// folds in the events after what its process holds (appended by other processes). A projection is rebuilt
/// from position 1 into its other set of databases when its ``version`` changes or when asked, and swapped in
/// at the end.
///
/// `apply` must be deterministic: the same events in the same order give the same bytes, or a rebuild
/// would not equal the live state and an audit would report it.
public protocol Projection: AnyObject, Sendable {
    /// A unique name: lower-case letters, digits, dots and dashes.
    var name: String { get }
    /// Bump it when `apply` changes meaning: a store opened with another version rebuilds the projection.
    var version: UInt32 { get }
    /// The names of the projection's databases; the log opens one LMDB database for each.
    var databaseNames: [String] { get }
    /// Applies one event. Called inside the write transaction that appended it (or that replays it).
    func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws
    /// The event types `apply` acts on, or nil (the default) for every type. Only events of these types
    /// reach `apply`, when appended and when replayed alike; a replay does not even decode an event that
    /// none of the projections it rebuilds wants (most of a store's events concern one domain, and an audit
    /// replays each projection on its own).
    var eventTypes: Set<String>? { get }
    /// The databases whose rows `apply` only adds — each put once, never read, overwritten or deleted by
    /// `apply` — with their key layout: statements, histories, timelines. An audit's replay then folds their
    /// rows into a digest per entity as they come instead of holding them (``AppendOnlyDigest``), so that
    /// its memory does not grow with the log; reading one of them while replaying stops the program. Queries
    /// read them as any other. Default: none.
    var appendOnlyDatabases: [String: AppendOnlyLayout] { get }
    /// Databases whose rows `apply` writes for a while and then, as a rule, leaves alone for good: an hours
    /// log once decided, a week's adherence once the week is past. Their digest is a sum over their rows
    /// (``RowSetSum``), whatever order they come in, so that an audit's replay can fold a row nobody has
    /// written for ``EventLog/Options/replayRetireAfterEvents`` events into that sum and forget it. When a
    /// later event reaches a row it forgot (a delivery back-dated by months), the replay's sum is not to be
    /// trusted: the audit replays the projection again holding every row. Default: none.
    var retirableDatabases: Set<String> { get }
    /// Parts an audit may replay side by side instead of the whole projection, when the projection is most
    /// of the audit's work (it holds more rows than all the others together): each part replays every
    /// event of its ``ReplayPart/eventTypes``, gives the digests of the databases it compares, and drops the
    /// databases it names — their rows are neither held nor read (``WriteTransaction/drops(_:)`` is true
    /// for them; reading one stops the program), so `apply` must skip the work they alone need. The parts'
    /// compared sets must partition ``databaseNames``, and every check `apply` makes (every finding it
    /// throws) must still run in some part that replays the event and keeps what the check reads, or the
    /// parts would accept a log a whole replay rejects. The same instance applies both parts, on two
    /// threads at once. An audit whose parts disagree with the store, stop on an impossible event, or reach
    /// a retired row, replays the projection again whole. Default: none (replayed whole).
    var replayParts: [ReplayPart] { get }
}

/// One part of a projection's replay (``Projection/replayParts``): the databases whose digests it gives,
/// those whose rows it drops, and the event types it needs.
public struct ReplayPart: Sendable, Equatable {
    /// The databases compared from this part.
    public var compared: Set<String>
    /// The databases this part neither holds nor reads: `apply` skips them. None of them is compared here.
    public var dropped: Set<String>
    /// The event types this part replays, among the projection's (nil: all of the projection's): a type
    /// left out must write nothing but rows of dropped databases, or the part's digests differ from the
    /// store's and the projection is replayed again whole.
    public var eventTypes: Set<String>?

    /// A part comparing `compared`, dropping `dropped`, replaying `eventTypes` (nil: every type the
    /// projection acts on).
    public init(compared: Set<String>, dropped: Set<String>, eventTypes: Set<String>? = nil) {
        precondition(compared.isDisjoint(with: dropped), "a part compares no database it drops: \(compared.intersection(dropped).sorted())")
        self.compared = compared
        self.dropped = dropped
        self.eventTypes = eventTypes
    }
}

/// A projection as one part of its replay sees it: the same `apply`, for the part's event types only.
final class PartProjection: Projection {
    let base: any Projection
    let eventTypes: Set<String>?

    init(_ base: any Projection, _ part: ReplayPart) {
        precondition(
            part.eventTypes.map { types in base.eventTypes.map { types.isSubset(of: $0) } ?? true } ?? true,
            "a part of \(base.name)'s replay replays only types the projection acts on")
        self.base = base
        self.eventTypes = part.eventTypes ?? base.eventTypes
    }

    var name: String { base.name }
    var version: UInt32 { base.version }
    var databaseNames: [String] { base.databaseNames }
    var appendOnlyDatabases: [String: AppendOnlyLayout] { base.appendOnlyDatabases }
    var retirableDatabases: Set<String> { base.retirableDatabases }
    func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws {
        try base.apply(event, in: transaction, databases: databases)
    }
}

extension Projection {
    /// Every type.
    public var eventTypes: Set<String>? { nil }
    /// None.
    public var appendOnlyDatabases: [String: AppendOnlyLayout] { [:] }
    /// None.
    public var retirableDatabases: Set<String> { [] }
    /// None: replayed whole.
    public var replayParts: [ReplayPart] { [] }
}

/// The key layout of an append-only projection database (``Projection/appendOnlyDatabases``): a key starts
/// with the entity it is about (no zero byte in it) and a zero byte, and ends with the big-endian position
/// of the event that added the row; or, for a table of one row per key, anything.
public enum AppendOnlyLayout: Sendable, Equatable {
    /// `entity ‖ 0 ‖ position`: an entity's rows in key order are in log order (a statement, a timeline).
    case entityThenPosition
    /// `entity ‖ 0 ‖ … ‖ position`, something between (an occurred time): an entity's rows in key order
    /// need not be in log order (a history ordered by when things occurred).
    case entityThenOrderThenPosition
    /// Any key, one row each, never put twice (a delivery by its id): rows are fingerprinted one by one.
    case oneRowPerKey
}

/// Which projections want an event, by its type's bytes: an append's and every replay's one rule (a replay
/// reads the type from the record in place, and decodes the record only when some projection wants it).
struct EventTypeFilter {
    /// For each projection, its types' UTF-8 bytes, or nil for every type.
    private let wanted: [[[UInt8]]?]

    init(_ slots: [ProjectionSlot]) {
        wanted = slots.map { slot in slot.projection.eventTypes.map { types in types.map { Array($0.utf8) } } }
    }

    /// Applies `event` to each projection of `slots` (the slots this filter was made from) that wants it.
    func apply(_ event: RecordedEvent, to slots: [ProjectionSlot], in transaction: borrowing WriteTransaction) throws {
        var type = event.type
        try type.withUTF8 { type in
            for (index, slot) in slots.enumerated() where wants(index, UnsafeRawBufferPointer(type)) {
                try slot.projection.apply(event, in: transaction, databases: slot.databases)
            }
        }
    }

    /// Whether projection `index` wants an event of `type` (nil: the type could not be read, so the
    /// record is decoded and its error reported).
    func wants(_ index: Int, _ type: UnsafeRawBufferPointer?) -> Bool {
        guard let types = wanted[index], let type else { return true }
        for candidate in types where candidate.count == type.count {
            if candidate.withUnsafeBytes({ memcmp($0.baseAddress!, type.baseAddress!, type.count) }) == 0 { return true }
        }
        return false
    }
}

/// The LMDB databases of one projection, by the names it declared, in one generation.
public struct ProjectionDatabases: Sendable {
    /// The projection's name.
    public let projection: String
    /// The generation: 1 at creation, one more at each rebuild.
    public let generation: UInt32
    /// The databases in the order the projection declares them (``Projection/databaseNames``): reached by
    /// place through a ``ProjectionTable``, or by name, comparing a handful of short names. Kept apart from
    /// their names (``names``), so that the subscript by place copies a database alone (a copy of an entry
    /// with its name was 150 instructions a row, callgrind).
    @usableFromInline let byPlace: [Database]
    /// The declared names, in the same order.
    @usableFromInline let names: [String]
    /// Why this projection has no databases here (a time-travel view that did not replay it), if so.
    @usableFromInline var absence: String? = nil

    /// A projection a time-travel view did not replay: reading any of its databases is a programming
    /// error (the view was asked for the wrong projections), stopped with `reason`.
    public static func absent(_ projection: String, reason: String) -> ProjectionDatabases {
        var databases = ProjectionDatabases(projection: projection, generation: 0, byName: [:], declared: [])
        databases.absence = reason
        return databases
    }

    /// The databases `byName`, which holds every name in `declared` (the projection's ``Projection/databaseNames``).
    init(projection: String, generation: UInt32, byName: [String: Database], declared: [String]) {
        precondition(declared.count == byName.count, "projection \(projection): every database opened is declared")
        let databases = declared.map { name in
            guard let database = byName[name] else { preconditionFailure("projection \(projection): database \(name) was opened") }
            return database
        }
        self.init(projection: projection, generation: generation, names: declared, byPlace: databases)
    }

    private init(projection: String, generation: UInt32, names: [String], byPlace: [Database]) {
        precondition(names.count == byPlace.count, "projection \(projection): a name for every database")
        self.projection = projection
        self.generation = generation
        self.names = names
        self.byPlace = byPlace
    }

    /// The same databases, labelled with `generation` (one of the generations that use this set).
    func inGeneration(_ generation: UInt32) -> ProjectionDatabases {
        ProjectionDatabases(projection: projection, generation: generation, names: names, byPlace: byPlace)
    }

    /// The database declared `index`-th in the projection's ``Projection/databaseNames``, found without
    /// comparing names: a projection reaches its databases this way through a ``ProjectionTable`` (the
    /// look-up by name compared a few names for each of an event's rows: 4 % of an elder replay's
    /// instructions, callgrind).
    /// Inlinable, so that a projection's call is specialized and inlined where it is made: across the
    /// module boundary, the generic call by table cost 130 instructions a row (callgrind).
    @inlinable @inline(__always)
    public subscript(declared index: Int) -> Database {
        guard index < byPlace.count else {
            if let absence { preconditionFailure("projection \(projection), database \(index): \(absence)") }
            preconditionFailure("projection \(projection) declared no database \(index)")
        }
        return byPlace[index]
    }

    /// The database of `table`, by its place in the declaration.
    @inlinable @inline(__always)
    public subscript<Table: ProjectionTable>(_ table: Table) -> Database {
        // Another projection's table would compile, and name whatever this projection declared at its place.
        assert(names.isEmpty || names[table.rawValue] == table.name, "\(table.name) is not a database of projection \(projection)")
        return self[declared: table.rawValue]
    }

    /// The database declared under `name`. Asking for an undeclared name is a programming error.
    public subscript(_ name: String) -> Database {
        if let index = names.firstIndex(of: name) { return byPlace[index] }
        if let absence { preconditionFailure("projection \(projection), database \(name): \(absence)") }
        preconditionFailure("projection \(projection) declared no database \(name)")
    }

    /// Every database with its declared name, in declared order.
    public var all: [(name: String, database: Database)] { Array(zip(names, byPlace)) }

    /// The LMDB name of a projection's database in the generations of one parity: `p/NAME/DATABASE#0`
    /// for even generations, `#1` for odd ones.
    public static func lmdbName(projection: String, database: String, parity: Int) -> String {
        precondition(parity == 0 || parity == 1, "generations alternate between two sets")
        return "p/\(projection)/\(database)#\(parity)"
    }
}

/// A projection's databases as a type: an enumeration whose cases are the databases in the order the
/// projection declares them, so that its ``Projection/databaseNames`` is ``declaredNames`` and a database is
/// found by its place (``ProjectionDatabases``' subscript by table); a misspelt database does not compile.
public protocol ProjectionTable: CaseIterable, RawRepresentable where RawValue == Int {
    /// The database's name, as stored (`p/PROJECTION/NAME#parity`).
    var name: String { get }
}

extension ProjectionTable {
    /// Every case's name, in order: the projection's ``Projection/databaseNames``.
    public static var declaredNames: [String] {
        precondition(allCases.enumerated().allSatisfy { $0.offset == $0.element.rawValue }, "\(Self.self)'s raw values are its places, from 0")
        return allCases.map(\.name)
    }
}

/// Where a projection's stored rows stand: the fold of log positions 1 … ``position``, written with the
/// hash of the event at that position so that rows and log can be proven to belong together.
public struct ProjectionCheckpoint: Sendable, Equatable {
    /// The version of the projection's code that built it.
    public var version: UInt32
    /// The generation of its databases.
    public var generation: UInt32
    /// The last position folded into the stored rows.
    public var position: UInt64
    /// The hash of the event at ``position`` (``Hash/genesis`` at 0).
    public var hash: Hash

    static let encodedBytes = 48

    var encoded: [UInt8] {
        var writer = ByteWriter(capacity: Self.encodedBytes)
        writer.write(version)
        writer.write(generation)
        writer.write(position)
        hash.withUnsafeBytes { writer.write($0) }
        assert(writer.bytes.count == Self.encodedBytes, "a checkpoint is 48 bytes")
        return writer.bytes
    }

    init(version: UInt32, generation: UInt32, position: UInt64, hash: Hash) {
        self.version = version
        self.generation = generation
        self.position = position
        self.hash = hash
    }

    init?(_ bytes: UnsafeRawBufferPointer) {
        var reader = ByteReader(bytes)
        guard bytes.count == Self.encodedBytes, let version = try? reader.readUInt32(), let generation = try? reader.readUInt32(),
            let position = try? reader.readUInt64()
        else { return nil }
        self.init(version: version, generation: generation, position: position, hash: Hash(UnsafeRawBufferPointer(rebasing: bytes[16..<48])))
    }

    /// The generation of a checkpoint written by the layout before this one (16 bytes: version,
    /// generation, position, with rows written in every command's transaction), or nil.
    static func legacyGeneration(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        var reader = ByteReader(bytes)
        guard bytes.count == 16, (try? reader.readUInt32()) != nil, let generation = try? reader.readUInt32() else { return nil }
        return generation
    }
}

/// A checkpoint as the meta database holds it.
enum StoredCheckpoint: Equatable {
    /// Written by this layout.
    case current(ProjectionCheckpoint)
    /// Written by the layout before it: the projection is rebuilt once.
    case legacy(generation: UInt32)
}
