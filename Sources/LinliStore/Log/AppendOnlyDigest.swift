import Crypto
import Foundation

/// The digest of an append-only projection database (``Projection/appendOnlyDatabases``), computable from
/// its rows as they are added, without holding them: an audit's replay folds a statement, a history or a
/// timeline into 100-odd bytes an entity, and a table of one row per key into sums of a fixed size
/// (``RowSetSum``), instead of keeping every row in memory.
///
/// With an entity layout (``AppendOnlyLayout/entityThenPosition``, ``AppendOnlyLayout/entityThenOrderThenPosition``),
/// asserted where rows are added, a key is `entity ‖ 0x00 ‖ … ‖ position`: the entity holds no zero byte and
/// the last 8 bytes are the big-endian position of the event that added the row, so an entity's rows are one
/// run in key order and a row's position says when it came. An entity's digest is SHA-256 over its rows in
/// the order of their positions (rows of one position in key order), each row as
/// `u32 length ‖ key ‖ u32 length ‖ value`; the database's digest is SHA-256 over
/// `u32 length ‖ entity ‖ entity digest` for every entity in byte order.
///
/// With ``AppendOnlyLayout/oneRowPerKey`` each row is fingerprinted and added to a ``RowSetSum``: the same
/// set of rows gives the same sums in whatever order they came (docs/AUDIT.md says what that proves).
final class AppendOnlyDigest {
    /// One entity's rows so far: hashed up to `position`, and the rows of `position` itself not yet
    /// (several rows of one event are hashed in key order, whatever order `apply` put them in).
    private struct Entity {
        var hasher = SHA256()
        var position: UInt64 = 0
        /// The rows of `position`, each as it is hashed (`u32 length ‖ key ‖ u32 length ‖ value`), one after
        /// the other: one buffer, and one update of the hasher when the position had one row (the usual
        /// case), where a pair of arrays a row and four updates had cost more than the hashing (perf).
        var pending: [UInt8] = []
        /// How many rows `pending` holds.
        var pendingCount = 0

        /// Adds a row; false when it comes before the entity's last position, which a replay in log order
        /// never gives (the caller then counts it as an entity of its own, as the stored side does).
        mutating func append(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, at position: UInt64) -> Bool {
            guard position >= self.position else { return false }
            if position != self.position { flush() }
            self.position = position
            pendingCount += 1
            let start = pending.count
            pending.append(contentsOf: repeatElement(0, count: ProjectionDigest.rowBytes(key, value)))
            pending.withUnsafeMutableBytes { ProjectionDigest.writeRow(key, value, into: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
            return true
        }

        mutating func flush() {
            guard pendingCount > 0 else { return }
            pending.withUnsafeBytes { all in
                guard pendingCount > 1 else { return hasher.update(bufferPointer: all) }
                // Several rows of one position: hashed in key order.
                var rows: [(row: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer)] = []
                var offset = 0
                while offset < all.count {
                    let keyCount = Int(UInt32(bigEndian: all.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                    let valueAt = offset + 4 + keyCount
                    let end = valueAt + 4 + Int(UInt32(bigEndian: all.loadUnaligned(fromByteOffset: valueAt, as: UInt32.self)))
                    rows.append((UnsafeRawBufferPointer(rebasing: all[offset..<end]), UnsafeRawBufferPointer(rebasing: all[(offset + 4)..<valueAt])))
                    offset = end
                }
                precondition(rows.count == pendingCount, "the pending rows parse back as they were written")
                rows.sort { $0.key.lexicographicallyPrecedes($1.key) }
                for row in rows { hasher.update(bufferPointer: row.row) }
            }
            // Freed: an entity waits for its next event holding only its hash state.
            pending = []
            pendingCount = 0
        }
    }

    /// What a database's rows come to: the digest, and its parts — each entity's digest, or, for a table
    /// of one row per key, the sums of its rows.
    struct Summary {
        var digest: Hash
        var entities: [[UInt8]: Hash] = [:]
        var sum: RowSetSum? = nil

        /// Whether the parts that only this process can check agree with `other`'s (a table of one row per
        /// key: the keyed sums); the digests are compared on their own.
        func sumsAgree(with other: Summary) -> Bool { sum == other.sum }

        /// The parts that differ from `other`'s, as bytes: entities, or the buckets of rows whose keyed sums
        /// differ (``RowSetSum/part(_:)``).
        func differing(from other: Summary) -> Set<[UInt8]> {
            var out = Set(Set(entities.keys).union(other.entities.keys).filter { entities[$0] != other.entities[$0] })
            if let sum, let theirs = other.sum { out.formUnion(sum.differing(from: theirs)) }
            return out
        }

        /// The summary without its per-entity parts, which can be large (a side compared later holds only
        /// what it must); a table's sums are 64 KB whatever its size, and stay.
        var withoutEntities: Summary { Summary(digest: digest, sum: sum) }
    }

    let layout: AppendOnlyLayout
    /// By entity, under the overlay's key (``RowKey``): an array's own hash feeds the hasher a byte at a
    /// time, 2.6 % of an audit (perf).
    private var entities: [RowKey: Entity] = [:]
    /// A table of one row per key's sums (64 KB: made for that layout only).
    private var sum: RowSetSum
    /// Parts whose rows are also kept, by key (a second replay that names the rows where the parts
    /// differed: entities, or the buckets of a table of one row per key); nil keeps none.
    private let keeping: Set<[UInt8]>?
    /// The rows of the parts in ``keeping``.
    private(set) var kept: [[UInt8]: [UInt8]] = [:]

    init(_ layout: AppendOnlyLayout, keeping: Set<[UInt8]>? = nil) {
        self.layout = layout
        self.sum = layout == .oneRowPerKey ? RowSetSum() : RowSetSum(empty: ())
        self.keeping = keeping
    }

    /// About how much memory it holds: an entity's state and key, a table's sums, and the rows kept.
    var approximateBytes: Int {
        entities.count * 160 + entities.keys.reduce(0) { $0 + $1.bytes.count } + sum.approximateBytes
            + kept.reduce(0) { $0 + $1.key.count + $1.value.count + 64 }
    }

    /// Adds a row, which `apply` puts once and never reads back. Rows come in log order.
    func add(_ key: [UInt8], _ value: [UInt8]) {
        key.withUnsafeBytes { key in value.withUnsafeBytes { value in add(key, value) } }
    }

    /// Adds a row where its bytes lie (a put's key and value): copied only into the entity's pending run.
    func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        var part: [UInt8]? = nil
        if layout == .oneRowPerKey {
            let fingerprint = RowSetSum.Fingerprint(key, value)
            sum.add(fingerprint)
            guard keeping != nil else { return }
            part = RowSetSum.part(fingerprint.bucket)
        } else if let (entity, position) = Self.layout(key, layout) {
            let entityBytes = Array(entity)
            if entities[RowKey(entityBytes), default: Entity()].append(key, value, at: position) {
                if keeping != nil { part = entityBytes }
            } else {
                // Before the entity's last position: only a forged event gives it. An entity of its own.
                _ = entities[RowKey(Array(key)), default: Entity()].append(key, value, at: 0)
                part = Array(key)
            }
        } else {
            // A key outside the layout comes only from an event Linli did not write (an export's verification
            // replays what it is given): an entity of its own, as the stored side counts it, never a trap.
            _ = entities[RowKey(Array(key)), default: Entity()].append(key, value, at: 0)
            part = Array(key)
        }
        // A key put twice (by a forged event) keeps its last value, as the store would.
        if let keeping, let part, keeping.contains(part) { kept[Array(key)] = Array(value) }
    }

    /// What the rows added come to.
    func summary() -> Summary {
        if layout == .oneRowPerKey { return Summary(digest: sum.digest, sum: sum) }
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
            var sum = RowSetSum()
            try txn.walk(database) { key, value in
                sum.add(RowSetSum.Fingerprint(key, value))
                everyRow()
                return true
            }
            return Summary(digest: sum.digest, sum: sum)
        }
        var digests: [[UInt8]: Hash] = [:]
        var run: [(position: UInt64, key: [UInt8], value: [UInt8])] = []
        var runEntity: [UInt8]? = nil
        var hasher = SHA256()
        func finishRun() {
            guard let entity = runEntity else { return }
            run.sort { $0.position != $1.position ? $0.position < $1.position : $0.key.lexicographicallyPrecedes($1.key) }
            for row in run { ProjectionDigest.add(row.key, row.value, to: &hasher) }
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
                ProjectionDigest.add(rawKey, rawValue, to: &hasher)
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
        guard let (entity, position) = key.withUnsafeBytes({ Self.layout($0, layout) }) else { return nil }
        return (key[..<entity.count], position)
    }

    /// ``layout(_:_:)`` of a key where it lies.
    static func layout(_ key: UnsafeRawBufferPointer, _ layout: AppendOnlyLayout) -> (entity: UnsafeRawBufferPointer, position: UInt64)? {
        guard let zero = key.firstIndex(of: 0), zero > 0 else { return nil }
        guard layout == .entityThenPosition ? key.count == zero + 1 + 8 : key.count >= zero + 1 + 8 else { return nil }
        guard let position = bigEndianValue(UnsafeRawBufferPointer(rebasing: key[(key.count - 8)...])) else { return nil }
        return (UnsafeRawBufferPointer(rebasing: key[..<zero]), position)
    }

    private static func addLength(_ count: Int, to hasher: inout SHA256) {
        withUnsafeBytes(of: UInt32(count).bigEndian) { hasher.update(bufferPointer: $0) }
    }
}
