/// Rows changed in memory above what LMDB stores, for the databases that carry an overlay slot
/// (``Database/overlaySlot``): the projections' databases of a log.
///
/// A transaction that carries an overlay sees, for such a database, its own changes (``top``) over the
/// changes its process published before it began (``below``) over LMDB's rows: a look-up, a walk and a
/// count give the merged rows, and a put or a delete goes to ``top`` only. LMDB never sees those writes:
/// the log folds them into a checkpoint (``EventLog/checkpoint()``) at intervals. A transaction's ``top``
/// is published only after LMDB's commit succeeds, so nothing an aborted transaction did survives it.
public final class RowOverlay: @unchecked Sendable {
    /// One database's changes: a key's new value, or nil for a deleted row.
    public typealias Changes = [RowKey: [UInt8]?]

    /// The published changes, by overlay slot: read-only here (other transactions share them).
    public internal(set) var below: [Changes]
    /// This transaction's changes, by overlay slot.
    public internal(set) var top: [Changes]

    /// An overlay over `below` with no changes of its own.
    init(below: [Changes]) {
        self.below = below
        self.top = []
    }

    /// How many rows this transaction changed.
    public var topRowsCount: Int { top.reduce(0) { $0 + $1.count } }

    /// Whether slot `slot` has no changed rows at all: a look-up then goes straight to LMDB, without
    /// copying its key (after a checkpoint, the usual case for a query).
    @inline(__always)
    func isEmpty(_ slot: Int) -> Bool { (top.isEmpty || top[slot].isEmpty) && (below.isEmpty || below[slot].isEmpty) }

    /// The overlay's word on `key` in `slot`: `.some(nil)` for a deleted row, nil when it has none.
    @inline(__always)
    func lookUp(_ slot: Int, _ key: [UInt8]) -> [UInt8]?? {
        let key = RowKey(key)
        if !top.isEmpty, let mine = top[slot][key] { return .some(mine) }
        if !below.isEmpty, let published = below[slot][key] { return .some(published) }
        return nil
    }

    func set(_ slot: Int, _ key: [UInt8], _ value: [UInt8]?) {
        // The top is made on the first write: a read-only transaction never allocates one.
        if top.isEmpty { top = Array(repeating: [:], count: below.count) }
        top[slot].updateValue(value, forKey: RowKey(key))
    }

    /// The overlay's rows of `slot` that a walk from `start` meets, in the walk's order, with nil for a
    /// deleted row. A walk sorts the changed keys of its database each time: changes are few between two
    /// checkpoints, and walks of projection rows serve queries, not the command path (which only walks the
    /// small rates table).
    func entries(_ slot: Int, from start: [UInt8]?, reverse: Bool) -> [(key: [UInt8], value: [UInt8]?)] {
        var merged: [(key: [UInt8], value: [UInt8]?)] = []
        if isEmpty(slot) { return [] }
        let top = self.top.isEmpty ? [:] : self.top[slot], below = self.below.isEmpty ? [:] : self.below[slot]
        merged.reserveCapacity(top.count + below.count)
        func inRange(_ key: [UInt8]) -> Bool {
            guard let start else { return true }
            return reverse ? !start.lexicographicallyPrecedes(key) : !key.lexicographicallyPrecedes(start)
        }
        for (key, value) in top where inRange(key.bytes) { merged.append((key.bytes, value)) }
        for (key, value) in below where top[key] == nil && inRange(key.bytes) { merged.append((key.bytes, value)) }
        merged.sort { reverse ? $1.key.lexicographicallyPrecedes($0.key) : $0.key.lexicographicallyPrecedes($1.key) }
        return merged
    }
}

/// A row's key in an overlay. Hashed as one run of bytes: `[UInt8]`'s own hashing feeds the hasher a byte
/// at a time, which was 10k instructions of a ledger command.
public struct RowKey: Hashable, Sendable {
    /// The key's bytes.
    public let bytes: [UInt8]

    /// A key of these bytes.
    @inline(__always)
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: RowKey, rhs: RowKey) -> Bool { lhs.bytes == rhs.bytes }
}

extension Database {
    /// Whether rows of this database are seen through a transaction's overlay.
    @inline(__always)
    var overlaid: Bool { overlaySlot >= 0 }
}
