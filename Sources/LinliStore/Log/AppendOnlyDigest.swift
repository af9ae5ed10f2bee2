import Crypto

/// The digest of an append-only projection database (``Projection/appendOnlyDatabases``), computable from
/// its rows as they are added, one SHA-256 per entity, without holding them: an audit's replay folds a
/// statement, a history or a timeline into 100-odd bytes an entity instead of keeping every row in memory.
///
/// The layout it relies on, asserted where rows are added: a key is `entity ‖ 0x00 ‖ … ‖ position`, where
/// the entity holds no zero byte and the last 8 bytes are the big-endian position of the event that added
/// the row. An entity's rows are then one run in key order, and a row's position says when it came.
///
/// An entity's digest is SHA-256 over its rows in the order of their positions (rows of one position in
/// key order), each row as `u32 length ‖ key ‖ u32 length ‖ value`; the database's digest is SHA-256 over
/// `u32 length ‖ entity ‖ entity digest` for every entity in byte order. The stored side reads one entity's
/// run at a time and sorts it by position; the replay adds rows in log order, as they come.
final class AppendOnlyDigest {
    /// One entity's rows so far: hashed up to `position`, and the rows of `position` itself not yet
    /// (several rows of one event are hashed in key order, whatever order `apply` put them in).
    private struct Entity {
        var hasher = SHA256()
        var position: UInt64 = 0
        var pending: [(key: [UInt8], value: [UInt8])] = []

        mutating func append(_ key: [UInt8], _ value: [UInt8], at position: UInt64) {
            precondition(position >= self.position, "rows of one entity come in log order (position \(position) after \(self.position))")
            if position != self.position { flush() }
            self.position = position
            pending.append((key, value))
        }

        mutating func flush() {
            pending.sort { $0.key.lexicographicallyPrecedes($1.key) }
            for row in pending { AppendOnlyDigest.add(row.key, row.value, to: &hasher) }
            pending.removeAll()
        }
    }

    private var entities: [[UInt8]: Entity] = [:]
    /// Entities whose rows are also kept, by key (a second replay that names the rows of the entities whose
    /// digests differed); nil keeps none.
    private let keeping: Set<[UInt8]>?
    /// The rows of the entities in ``keeping``.
    private(set) var kept: [[UInt8]: [UInt8]] = [:]
    /// Rows added.
    private(set) var rowsCount = 0

    init(keeping: Set<[UInt8]>? = nil) { self.keeping = keeping }

    /// About how much memory it holds: an entity's state and key, and the rows kept.
    var approximateBytes: Int {
        entities.count * 160 + entities.keys.reduce(0) { $0 + $1.count } + kept.reduce(0) { $0 + $1.key.count + $1.value.count + 64 }
    }

    /// Adds a row, which `apply` puts once and never reads back. Rows come in log order.
    func add(_ key: [UInt8], _ value: [UInt8]) {
        guard let (entity, position) = Self.layout(key) else {
            preconditionFailure("an append-only database's key is entity ‖ 0 ‖ … ‖ position; \(key) is not")
        }
        let entityKey = Array(entity)
        entities[entityKey, default: Entity()].append(key, value, at: position)
        rowsCount += 1
        if let keeping, keeping.contains(entityKey) {
            precondition(kept.updateValue(value, forKey: key) == nil, "an append-only row is put once")
        }
    }

    /// Each entity's digest, by entity.
    func entityDigests() -> [[UInt8]: Hash] {
        var out: [[UInt8]: Hash] = [:]
        out.reserveCapacity(entities.count)
        for (entity, var state) in entities {
            state.flush()
            out[entity] = state.hasher.finalize().withUnsafeBytes { Hash($0) }
        }
        return out
    }

    /// The database's digest, from each entity's.
    static func combine(_ entityDigests: [[UInt8]: Hash]) -> Hash {
        var hasher = SHA256()
        for entity in entityDigests.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            addLength(entity.count, to: &hasher)
            hasher.update(data: entity)
            entityDigests[entity]!.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().withUnsafeBytes { Hash($0) }
    }

    /// The digest of a database's rows as walked in key order (stored, or held in memory), and each
    /// entity's. With ``AppendOnlyLayout/entityThenPosition`` an entity's rows are hashed as they are walked
    /// (its run can be long: a community's issuance account); otherwise one entity's run is held and sorted
    /// by position. A key not in the layout, or out of log order where the layout says key order is log
    /// order (a forged row), is an entity of its own, so that it differs from whatever a replay gives
    /// rather than stopping the walk.
    static func of(
        _ database: Database, layout: AppendOnlyLayout, _ txn: borrowing some TransactionReading & ~Copyable, everyRow: () -> Void = {}
    ) throws -> (digest: Hash, entities: [[UInt8]: Hash]) {
        var digests: [[UInt8]: Hash] = [:]
        var run: [(position: UInt64, key: [UInt8], value: [UInt8])] = []
        var runEntity: [UInt8]? = nil
        var hasher = SHA256()
        var lastPosition: UInt64 = 0
        func finishRun() {
            guard let entity = runEntity else { return }
            run.sort { $0.position != $1.position ? $0.position < $1.position : $0.key.lexicographicallyPrecedes($1.key) }
            for row in run { add(row.key, row.value, to: &hasher) }
            digests[entity] = hasher.finalize().withUnsafeBytes { Hash($0) }
            run.removeAll(keepingCapacity: true)
            hasher = SHA256()
            lastPosition = 0
        }
        try txn.walk(database) { rawKey, rawValue in
            let key = Array(rawKey)
            var (entity, position) = Self.layout(key) ?? (key[...], 0)
            if layout == .entityThenPosition, runEntity.map({ $0.elementsEqual(entity) }) == true, position <= lastPosition {
                (entity, position) = (key[...], 0)
            }
            if runEntity.map({ !$0.elementsEqual(entity) }) ?? true {
                finishRun()
                runEntity = Array(entity)
            }
            if layout == .entityThenPosition {
                add(key, Array(rawValue), to: &hasher)
                lastPosition = position
            } else {
                run.append((position, key, Array(rawValue)))
            }
            everyRow()
            return true
        }
        finishRun()
        return (combine(digests), digests)
    }

    /// A key's entity and position, or nil when the key is not in the layout.
    static func layout(_ key: [UInt8]) -> (entity: ArraySlice<UInt8>, position: UInt64)? {
        guard let zero = key.firstIndex(of: 0), zero > 0, key.count >= zero + 1 + 8 else { return nil }
        let position = key.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (key[..<zero], position)
    }

    fileprivate static func add(_ key: [UInt8], _ value: [UInt8], to hasher: inout SHA256) {
        addLength(key.count, to: &hasher)
        hasher.update(data: key)
        addLength(value.count, to: &hasher)
        hasher.update(data: value)
    }

    private static func addLength(_ count: Int, to hasher: inout SHA256) {
        withUnsafeBytes(of: UInt32(count).bigEndian) { hasher.update(bufferPointer: $0) }
    }
}
