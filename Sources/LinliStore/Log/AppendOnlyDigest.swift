import Crypto
import Foundation

/// The digest of an append-only projection database (``Projection/appendOnlyDatabases``), computable from
/// its rows as they are added, without holding them: an audit's replay folds a statement, a history or a
/// timeline into 100-odd bytes an entity, and a table of one row per key into 16 bytes a row, instead of
/// keeping every row in memory.
///
/// With an entity layout (``AppendOnlyLayout/entityThenPosition``, ``AppendOnlyLayout/entityThenOrderThenPosition``),
/// asserted where rows are added, a key is `entity ‖ 0x00 ‖ … ‖ position`: the entity holds no zero byte and
/// the last 8 bytes are the big-endian position of the event that added the row, so an entity's rows are one
/// run in key order and a row's position says when it came. An entity's digest is SHA-256 over its rows in
/// the order of their positions (rows of one position in key order), each row as
/// `u32 length ‖ key ‖ u32 length ‖ value`; the database's digest is SHA-256 over
/// `u32 length ‖ entity ‖ entity digest` for every entity in byte order.
///
/// With ``AppendOnlyLayout/oneRowPerKey`` each row's fingerprint is the first 16 bytes of SHA-256 over
/// `u32 length ‖ key ‖ u32 length ‖ value`, and the database's digest is SHA-256 over the fingerprints in
/// ascending order: the same set of rows gives the same digest in whatever order they came (docs/AUDIT.md
/// says what that proves).
final class AppendOnlyDigest {
    /// One entity's rows so far: hashed up to `position`, and the rows of `position` itself not yet
    /// (several rows of one event are hashed in key order, whatever order `apply` put them in).
    private struct Entity {
        var hasher = SHA256()
        var position: UInt64 = 0
        var pending: [(key: [UInt8], value: [UInt8])] = []

        /// Adds a row; false when it comes before the entity's last position, which a replay in log order
        /// never gives (the caller then counts it as an entity of its own, as the stored side does).
        mutating func append(_ key: [UInt8], _ value: [UInt8], at position: UInt64) -> Bool {
            guard position >= self.position else { return false }
            if position != self.position { flush() }
            self.position = position
            pending.append((key, value))
            return true
        }

        mutating func flush() {
            pending.sort { $0.key.lexicographicallyPrecedes($1.key) }
            for row in pending { AppendOnlyDigest.add(row.key, row.value, to: &hasher) }
            pending.removeAll()
        }
    }

    /// A row's fingerprint in a table of one row per key.
    struct Fingerprint: Hashable, Comparable {
        let high: UInt64
        let low: UInt64

        init(_ key: some DataProtocol, _ value: some DataProtocol) {
            var hasher = SHA256()
            AppendOnlyDigest.add(key, value, to: &hasher)
            let words = hasher.finalize().withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            (high, low) = (UInt64(bigEndian: words.0), UInt64(bigEndian: words.1))
        }

        /// Its 16 bytes, as ``Summary/differing(from:)`` names parts.
        var bytes: [UInt8] { bigEndianKey(high) + bigEndianKey(low) }

        static func < (a: Fingerprint, b: Fingerprint) -> Bool { (a.high, a.low) < (b.high, b.low) }
    }

    /// What a database's rows come to: the digest, and its parts — each entity's digest, or every row's
    /// fingerprint in ascending order.
    struct Summary {
        var digest: Hash
        var entities: [[UInt8]: Hash] = [:]
        var fingerprints: [Fingerprint] = []

        /// The parts that differ from `other`'s, as bytes: entities, or fingerprints that one side holds more
        /// often than the other (a row put twice by a forged event counts twice).
        func differing(from other: Summary) -> Set<[UInt8]> {
            var out = Set(Set(entities.keys).union(other.entities.keys).filter { entities[$0] != other.entities[$0] })
            // Both lists are sorted: one merge walk finds where their counts differ.
            var mine = fingerprints[...], theirs = other.fingerprints[...]
            while let next = [mine.first, theirs.first].compactMap({ $0 }).min() {
                let a = mine.prefix { $0 == next }.count, b = theirs.prefix { $0 == next }.count
                if a != b { out.insert(next.bytes) }
                mine = mine.dropFirst(a)
                theirs = theirs.dropFirst(b)
            }
            return out
        }
    }

    let layout: AppendOnlyLayout
    /// By entity, under the overlay's key (``RowKey``): an array's own hash feeds the hasher a byte at a
    /// time, 2.6 % of an audit (perf).
    private var entities: [RowKey: Entity] = [:]
    private var fingerprints: [Fingerprint] = []
    /// Parts whose rows are also kept, by key (a second replay that names the rows where the parts
    /// differed: entities, or fingerprints' bytes); nil keeps none.
    private let keeping: Set<[UInt8]>?
    /// The rows of the parts in ``keeping``.
    private(set) var kept: [[UInt8]: [UInt8]] = [:]

    init(_ layout: AppendOnlyLayout, keeping: Set<[UInt8]>? = nil) {
        self.layout = layout
        self.keeping = keeping
    }

    /// About how much memory it holds: an entity's state and key, a row's fingerprint, and the rows kept.
    var approximateBytes: Int {
        entities.count * 160 + entities.keys.reduce(0) { $0 + $1.bytes.count } + fingerprints.capacity * 16
            + kept.reduce(0) { $0 + $1.key.count + $1.value.count + 64 }
    }

    /// Adds a row, which `apply` puts once and never reads back. Rows come in log order.
    func add(_ key: [UInt8], _ value: [UInt8]) {
        let part: [UInt8]
        if layout == .oneRowPerKey {
            let fingerprint = Fingerprint(key, value)
            fingerprints.append(fingerprint)
            guard keeping != nil else { return }
            part = fingerprint.bytes
        } else {
            // A key outside the layout comes only from an event Linli did not write (an export's verification
            // replays what it is given): an entity of its own, as the stored side counts it, never a trap.
            if let (entity, position) = Self.layout(key, layout), entities[RowKey(Array(entity)), default: Entity()].append(key, value, at: position) {
                part = Array(entity)
            } else {
                part = key
                _ = entities[RowKey(key), default: Entity()].append(key, value, at: 0)
            }
        }
        // A key put twice (by a forged event) keeps its last value, as the store would.
        if let keeping, keeping.contains(part) { kept[key] = value }
    }

    /// What the rows added come to.
    func summary() -> Summary {
        if layout == .oneRowPerKey {
            fingerprints.sort()
            return Summary(digest: Self.combine(fingerprints), fingerprints: fingerprints)
        }
        var out: [[UInt8]: Hash] = [:]
        out.reserveCapacity(entities.count)
        for (entity, var state) in entities {
            state.flush()
            out[entity.bytes] = state.hasher.finalize().withUnsafeBytes { Hash($0) }
        }
        return Summary(digest: Self.combine(out), entities: out)
    }

    private static func combine(_ entityDigests: [[UInt8]: Hash]) -> Hash {
        var hasher = SHA256()
        for entity in entityDigests.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            addLength(entity.count, to: &hasher)
            hasher.update(data: entity)
            entityDigests[entity]!.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().withUnsafeBytes { Hash($0) }
    }

    private static func combine(_ sorted: [Fingerprint]) -> Hash {
        var hasher = SHA256()
        for fingerprint in sorted {
            withUnsafeBytes(of: fingerprint.high.bigEndian) { hasher.update(bufferPointer: $0) }
            withUnsafeBytes(of: fingerprint.low.bigEndian) { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().withUnsafeBytes { Hash($0) }
    }

    /// What a database's rows come to, walked in key order (stored, or held in memory). With
    /// ``AppendOnlyLayout/entityThenPosition`` an entity's rows are hashed as they are walked (its run can be
    /// long: a community's issuance account; keys of exactly `entity ‖ 0 ‖ position` are in log order);
    /// with ``AppendOnlyLayout/entityThenOrderThenPosition`` one entity's run is held and sorted by position.
    /// A key not in the layout (a forged row) is an entity of its own, so that it differs from whatever a
    /// replay gives rather than stopping the walk.
    static func of(
        _ database: Database, layout: AppendOnlyLayout, _ txn: borrowing some TransactionReading & ~Copyable, everyRow: () -> Void = {}
    ) throws -> Summary {
        if layout == .oneRowPerKey {
            var fingerprints: [Fingerprint] = []
            try txn.walk(database) { key, value in
                fingerprints.append(Fingerprint(key, value))
                everyRow()
                return true
            }
            fingerprints.sort()
            return Summary(digest: combine(fingerprints), fingerprints: fingerprints)
        }
        var digests: [[UInt8]: Hash] = [:]
        var run: [(position: UInt64, key: [UInt8], value: [UInt8])] = []
        var runEntity: [UInt8]? = nil
        var hasher = SHA256()
        func finishRun() {
            guard let entity = runEntity else { return }
            run.sort { $0.position != $1.position ? $0.position < $1.position : $0.key.lexicographicallyPrecedes($1.key) }
            for row in run { add(row.key, row.value, to: &hasher) }
            digests[entity] = hasher.finalize().withUnsafeBytes { Hash($0) }
            run.removeAll(keepingCapacity: true)
            hasher = SHA256()
        }
        try txn.walk(database) { rawKey, rawValue in
            let key = Array(rawKey)
            let (entity, position) = Self.layout(key, layout) ?? (key[...], 0)
            if runEntity.map({ !$0.elementsEqual(entity) }) ?? true {
                finishRun()
                runEntity = Array(entity)
            }
            if layout == .entityThenPosition {
                add(key, rawValue, to: &hasher)
            } else {
                run.append((position, key, Array(rawValue)))
            }
            everyRow()
            return true
        }
        finishRun()
        return Summary(digest: combine(digests), entities: digests)
    }

    /// A key's entity and position, or nil when the key is not in `layout` (which is an entity layout):
    /// `entity ‖ 0 ‖ position` exactly, or `entity ‖ 0 ‖ … ‖ position`, with an entity of one byte or more.
    static func layout(_ key: [UInt8], _ layout: AppendOnlyLayout) -> (entity: ArraySlice<UInt8>, position: UInt64)? {
        guard let zero = key.firstIndex(of: 0), zero > 0 else { return nil }
        guard layout == .entityThenPosition ? key.count == zero + 1 + 8 : key.count >= zero + 1 + 8 else { return nil }
        let position = key.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (key[..<zero], position)
    }

    /// A row as every projection digest hashes it: ``ProjectionDigest/add(_:_:to:)``.
    fileprivate static func add(_ key: some DataProtocol, _ value: some DataProtocol, to hasher: inout SHA256) {
        ProjectionDigest.add(key, value, to: &hasher)
    }

    private static func addLength(_ count: Int, to hasher: inout SHA256) {
        withUnsafeBytes(of: UInt32(count).bigEndian) { hasher.update(bufferPointer: $0) }
    }
}
