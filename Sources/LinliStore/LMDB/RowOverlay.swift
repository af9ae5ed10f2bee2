import Glibc

/// Rows changed in memory above what LMDB stores, for the databases that carry an overlay slot
/// (``Database/overlaySlot``): the projections' databases of a log.
///
/// A transaction that carries an overlay sees, for such a database, its own changes (``top``) over the
/// changes its process published before it began (``below``) over LMDB's rows: a look-up, a walk and a
/// count give the merged rows, and a put or a delete goes to ``top`` only. LMDB never sees those writes:
/// the log folds them into a checkpoint (``EventLog/checkpoint()``) at intervals. A transaction's ``top``
/// is published only after LMDB's commit succeeds, so nothing an aborted transaction did survives it.
///
/// One thread at a time changes an overlay (its transaction's, or its replay's); a replay's settled one is
/// then only read. Its stored properties are therefore not checked for exclusive access at run time
/// (`@exclusivity(unchecked)`): those checks were three calls in every look-up and put, 4 % of a delivery's
/// replay (callgrind). No method of the overlay calls out to code that could reach it again while it
/// changes a property, except ``modify(_:_:stored:_:)``, whose `body` must not.
public final class RowOverlay: @unchecked Sendable {
    /// One database's changes.
    public typealias Changes = ChangedRows

    /// The published changes, by overlay slot: read-only here (other transactions share them).
    @exclusivity(unchecked) public internal(set) var below: [Changes]
    /// This transaction's changes, by overlay slot.
    @exclusivity(unchecked) public internal(set) var top: [Changes]
    /// For a replay into memory that digests append-only databases: their sinks, by overlay slot (nil for
    /// the others); empty elsewhere. They cannot be rolled back: only a replay that fails whole uses them.
    @exclusivity(unchecked) var appendOnly: [AppendOnlyDigest?] = []
    /// For a replay into memory that holds append-only rows for some entities only
    /// (``AppendOnlyRows/heldFor(entities:)``): those entities by overlay slot (nil for a slot that keeps
    /// every row); empty elsewhere.
    @exclusivity(unchecked) var keptEntities: [Set<[UInt8]>?] = []
    /// For an audit's replay: the rows of each retirable database it has folded away
    /// (``Projection/retirableDatabases``), by overlay slot (nil for the others); empty elsewhere.
    @exclusivity(unchecked) var retired: [RetiredRows?] = []
    /// For a time-travel view that keeps some rows of a counted database only (``RowKeyFilter``): the
    /// filter by overlay slot (nil for a slot that keeps every row); empty elsewhere.
    @exclusivity(unchecked) var keyFilters: [RowKeyFilter?] = []

    /// For a replay into memory that keeps its chunks apart (a time-travel view's): every write of this
    /// chunk with the row's change before it, in order, so that ``rollBack()`` can restore them. Nil
    /// elsewhere: a live transaction drops its whole ``top`` instead.
    @exclusivity(unchecked) private var journal: [(slot: Int, key: [UInt8], previous: [UInt8]??)]?
    /// Whether this overlay keeps chunks apart (``commitChunk()``, ``rollBack()``).
    var journaling: Bool { journal != nil }

    /// An overlay over `below` with no changes of its own.
    init(below: [Changes]) {
        self.below = below
        self.top = []
    }

    /// A single layer of `slots` databases for a replay into memory, which owns it: no published changes
    /// below, so nothing is ever merged (folding each chunk into a layer below re-hashed and re-ordered
    /// every row the replay held: a quarter of a time-travel view's time). With `journaling`, the chunks
    /// are kept apart by ``commitChunk()`` and ``rollBack()``.
    init(memorySlots slots: Int, journaling: Bool) {
        self.below = []
        self.top = Array(repeating: ChangedRows(orderedLazily: true), count: slots)
        self.journal = journaling ? [] : nil
    }

    /// How many rows this transaction changed.
    public var topRowsCount: Int { top.reduce(0) { $0 + $1.count } }

    /// About how much memory all the changed rows take, published and this transaction's.
    public var approximateBytes: Int {
        top.reduce(0) { $0 + $1.approximateBytes } + below.reduce(0) { $0 + $1.approximateBytes } + appendOnly.reduce(0) { $0 + ($1?.approximateBytes ?? 0) }
            + retired.reduce(0) { $0 + ($1?.approximateBytes ?? 0) }
    }

    /// Whether slot `slot` has no changed rows at all: a look-up then goes straight to LMDB, without
    /// copying its key (after a checkpoint, the usual case for a query).
    @inline(__always)
    func isEmpty(_ slot: Int) -> Bool {
        // A slot with retired rows is never empty: a look-up must reach ``noteMiss(_:_:)``.
        (top.isEmpty || top[slot].isEmpty) && (below.isEmpty || below[slot].isEmpty) && (retired.isEmpty || retired[slot] == nil)
    }

    /// The overlay's word on `key` in `slot`: `.some(nil)` for a deleted row, nil when it has none.
    @inline(__always)
    func lookUp(_ slot: Int, _ key: [UInt8]) -> [UInt8]?? {
        let rowKey = RowKey(key)
        if !top.isEmpty, let mine = top[slot][rowKey] { return .some(mine) }
        if !below.isEmpty, let published = below[slot][rowKey] { return .some(published) }
        noteMiss(slot, key)
        return nil
    }

    /// A key this overlay does not hold was reached: if its row was retired, the replay is marked as one
    /// whose sums cannot be trusted (``RetiredRows/reached``).
    @inline(__always)
    func noteMiss(_ slot: Int, _ key: [UInt8]) {
        guard !retired.isEmpty, let rows = retired[slot] else { return }
        rows.noteMiss(key)
    }

    /// Folds the rows of the retirable databases last written before `position` into their sums, and
    /// forgets them (an audit's replay, between chunks).
    func retire(writtenBefore position: UInt64) {
        for slot in retired.indices {
            guard let rows = retired[slot] else { continue }
            var gone = Set<RowKey>()
            for (key, value) in top[slot].values {
                guard let value, let written = value.withUnsafeBytes({ bigEndianValue($0) }), written < position else { continue }
                rows.add(key.bytes, value)
                gone.insert(key)
            }
            top[slot].remove(gone)
            rows.settle()
        }
    }

    /// Whether a row put under `key` in `slot` is kept by a view's key filter (``RowKeyFilter``); true in a
    /// slot with none. Only for whole keys: a filter reads the key's layout.
    @inline(__always)
    func filterKeeps(_ slot: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard !keyFilters.isEmpty, let filter = keyFilters[slot] else { return true }
        return filter(key)
    }

    /// Whether a row put under `key` in `slot` is kept: false only for another entity's row in an
    /// append-only database held for some entities only.
    @inline(__always)
    func keeps(_ slot: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard !keptEntities.isEmpty, let entities = keptEntities[slot] else { return true }
        let end = key.firstIndex(of: 0) ?? key.count
        return entities.contains(Array(key[..<end]))
    }

    func set(_ slot: Int, _ key: [UInt8], _ value: [UInt8]?) {
        // The top is made on the first write: a read-only transaction never allocates one.
        if top.isEmpty { top = Array(repeating: ChangedRows(orderedLazily: true), count: below.count) }
        let previous = top[slot].set(key, value)
        if case .none = previous { noteMiss(slot, key) }
        journal?.append((slot, key, previous))
    }

    /// Changes `key`'s row in `slot` with one look-up of this transaction's changes (a counter's
    /// read-modify-write, which a look-up and a put hashed the key for twice): `body` gets the row as the
    /// transaction sees it — its own change, else the published one, else `stored()` (LMDB's) — and leaves
    /// the new row (nil: deleted). When `body` throws, nothing changes. `body` must not reach this overlay.
    func modify(_ slot: Int, _ key: [UInt8], stored: () throws -> [UInt8]?, _ body: (inout [UInt8]?) throws -> Void) rethrows {
        if top.isEmpty { top = Array(repeating: ChangedRows(orderedLazily: true), count: below.count) }
        let previous = try top[slot].modify(
            key, keepingPrevious: journal != nil,
            ifUnchanged: {
                if !below.isEmpty, let published = below[slot][RowKey(key)] { return published }
                noteMiss(slot, key)
                return try stored()
            }, body)
        if let previous { journal?.append((slot, key, previous)) }
    }

    /// Puts every slot's keys in order: a replay into memory calls it when it ends, after which walks only
    /// read the overlay (a time-travel view may be queried from several threads at once).
    func settleOrder() {
        for slot in top.indices where top[slot].hasKeysOutOfOrder { top[slot].settleOrder() }
    }

    /// Keeps every row written since the last chunk (a journaling overlay).
    func commitChunk() {
        precondition(journal != nil, "only a journaling overlay keeps chunks apart")
        journal!.removeAll(keepingCapacity: true)
    }

    /// Restores every row written since the last ``commitChunk()`` (a journaling overlay): rows that were
    /// new are removed, the others get back their earlier change.
    func rollBack() {
        precondition(journal != nil, "only a journaling overlay rolls a chunk back")
        var added = Array(repeating: Set<RowKey>(), count: top.count)
        // Newest first, so that each key ends with its change from before the chunk's first write to it.
        for (slot, key, previous) in journal!.reversed() {
            if let previous {
                top[slot].set(key, previous)
                added[slot].remove(RowKey(key))
            } else {
                added[slot].insert(RowKey(key))
            }
        }
        for slot in added.indices { top[slot].remove(added[slot]) }
        journal!.removeAll(keepingCapacity: true)
    }

    /// The overlay's rows of `slot` in a walk's order from `start`, the transaction's own over the published
    /// ones, with nil for a deleted row: a cursor over the keys both keep in order, so a walk that stops
    /// early costs a binary search and the rows it visits, however many rows have changed.
    func cursor(_ slot: Int, from start: [UInt8]?, reverse: Bool) -> OverlayCursor {
        // A transaction's top is its own (never shared between threads): its order is settled here. A
        // replay into memory settles its one layer when it ends (``settleOrder()``), so that the view's
        // readers, on any threads, only read it.
        if !top.isEmpty, top[slot].hasKeysOutOfOrder { top[slot].settleOrder() }
        // A walk would miss the rows retired: the sums are not to be trusted.
        if !retired.isEmpty, let rows = retired[slot], rows.count > 0 { rows.reached = true }
        return OverlayCursor(
            top: top.isEmpty ? nil : top[slot].cursor(from: start, reverse: reverse),
            below: below.isEmpty ? nil : below[slot].cursor(from: start, reverse: reverse), reverse: reverse)
    }
}

/// The rows one transaction (or one process, published) changed in one database: a key's new value, or nil
/// for a deleted row, with the keys also kept in order for walks and checkpoints.
///
/// The order costs little to keep: most keys sit in one sorted array, the newest in a short sorted one
/// that is merged into it once it grows past a fraction of it (so a new key costs a binary search, a short
/// move and, amortized, a few comparisons). Sorting every changed key at each walk, as the first overlay
/// did, made a deliberation batch three times slower: a meeting's close walks its votes.
public struct ChangedRows: Sendable {
    /// The changed rows by key.
    public private(set) var values: [RowKey: [UInt8]?] = [:]
    /// Most of the keys, in order.
    private var ordered: [[UInt8]] = []
    /// The newest keys, in order; never more than a fraction of `ordered` (and a small floor).
    private var recent: [[UInt8]] = []
    /// Keys not yet placed in order, for a change set that orders its keys only when walked: a
    /// transaction's own (an audit's replay puts millions of history rows no walk reads before the end).
    private var unordered: [[UInt8]] = []
    private var orderedLazily: Bool
    /// About how much memory the rows take: their bytes and a fixed cost a row for the arrays and the
    /// table that hold them. A replay into memory keeps this within its budget.
    public private(set) var approximateBytes = 0

    /// No changes. `orderedLazily`: keys are put in order at the first walk after they came, not as they
    /// come — only for a change set that one thread owns, since a walk then changes it.
    public init(orderedLazily: Bool = false) { self.orderedLazily = orderedLazily }

    /// How many rows changed (deletions included).
    public var count: Int { values.count }
    /// Whether no row changed.
    public var isEmpty: Bool { values.isEmpty }

    /// The change to `key`: `.some(nil)` for a deleted row, nil when the key did not change.
    @inline(__always)
    public subscript(key: RowKey) -> [UInt8]?? { values[key] }

    /// Records `value` (nil: deleted) as `key`'s row; returns the key's change before (nil when it had none).
    @discardableResult
    mutating func set(_ key: [UInt8], _ value: [UInt8]?) -> [UInt8]?? {
        let old = values.updateValue(value, forKey: RowKey(key))
        approximateBytes += (value?.count ?? 0)
        guard case .none = old else {
            approximateBytes -= (old! ?? []).count
            return old
        }
        approximateBytes += key.count + Self.rowOverheadBytes
        if orderedLazily { unordered.append(key) } else { place(key) }
        return nil
    }

    /// Changes `key`'s row with one look-up of the table when the key has a change here (see
    /// ``RowOverlay/modify(_:_:stored:_:)``); `ifUnchanged` gives the row below this change set when it has
    /// none. Unless `keepingPrevious`, a row changed here is handed to `body` as the only reference to its
    /// bytes, so that `body` can change them in place (a counter of the same width) without a copy; a
    /// `body` that throws must not have changed them, since no copy is kept to restore. Returns, when a change was recorded, the key's
    /// change before it (nil when it had none), for a journal — with `keepingPrevious` only: otherwise a
    /// row changed here is given as deleted; nil when nothing was recorded (the row was and stayed absent).
    mutating func modify(
        _ key: [UInt8], keepingPrevious: Bool, ifUnchanged: () throws -> [UInt8]?, _ body: (inout [UInt8]?) throws -> Void
    ) rethrows -> [UInt8]??? {
        let rowKey = RowKey(key)
        if let index = values.index(forKey: rowKey) {
            // Taken out of the table through the index (the key is hashed once), so that `row` holds the only
            // reference to the bytes, and put back there.
            var row = values.values[index]
            values.values[index] = nil
            // The change before, for a journal: a second reference, so only when one is kept.
            let previous: [UInt8]? = keepingPrevious ? row : nil
            let before = row?.count ?? 0
            do {
                try body(&row)
            } catch {
                values.values[index] = row
                approximateBytes += (row?.count ?? 0) - before
                throw error
            }
            approximateBytes += (row?.count ?? 0) - before
            values.values[index] = row
            return .some(.some(previous))
        }
        let stored = try ifUnchanged()
        var row = stored
        try body(&row)
        if stored == nil && row == nil { return nil }
        values[rowKey] = .some(row)
        approximateBytes += (row?.count ?? 0) + key.count + Self.rowOverheadBytes
        if orderedLazily { unordered.append(key) } else { place(key) }
        return .some(nil)
    }

    /// Forgets the changes of `keys` altogether, as if they had never been made (a chunk rolled back).
    mutating func remove(_ keys: Set<RowKey>) {
        guard !keys.isEmpty else { return }
        for key in keys {
            guard let old = values.removeValue(forKey: key) else { preconditionFailure("a key removed was changed") }
            approximateBytes -= key.bytes.count + Self.rowOverheadBytes + (old ?? []).count
        }
        ordered.removeAll { keys.contains(RowKey($0)) }
        recent.removeAll { keys.contains(RowKey($0)) }
        unordered.removeAll { keys.contains(RowKey($0)) }
        precondition(ordered.count + recent.count + unordered.count == values.count, "every changed key is placed once")
    }

    /// Puts `key` in order. The recent run is kept near twice the square root of all the keys, which
    /// balances its moves against the folds (each copies every key).
    private mutating func place(_ key: [UInt8]) {
        recent.insert(key, at: Self.firstIndex(notBefore: key, in: recent))
        if recent.count > max(Self.recentFloor, 2 * Int(Double(ordered.count).squareRoot())) { foldRecent() }
    }

    /// Whether some keys came since the last walk and are not in order yet (a change set ordered lazily).
    var hasKeysOutOfOrder: Bool { !unordered.isEmpty }

    /// Places the keys that came since the last walk (for a change set ordered lazily).
    mutating func settleOrder() {
        guard !unordered.isEmpty else { return }
        if unordered.count > recent.count + Self.recentFloor {
            // Many: sorted once and merged in with everything else.
            recent.append(contentsOf: unordered)
            recent.sort { compareBytes($0, $1) < 0 }
            foldRecent()
        } else {
            for key in unordered { place(key) }
        }
        unordered.removeAll(keepingCapacity: true)
    }

    /// Records every change of `newer` over these.
    mutating func merge(_ newer: ChangedRows) {
        guard !values.isEmpty else {
            // Nothing to merge with (a read-only open folding the tail after a checkpoint): taken whole and
            // sorted once. Placed one key at a time, the 320,000 rows of 64,000 ledger events were folded
            // into the ordered run a few hundred times over.
            let lazily = orderedLazily
            self = newer
            orderedLazily = lazily
            settleOrder()
            return
        }
        // The keys new here are sorted once and merged into the recent run in one pass, and the recent run
        // is folded into the ordered one at most once: placed one at a time, a batch's 5,000 rows folded
        // the 300,000 published ones several times per write.
        var added: [[UInt8]] = []
        for (key, value) in newer.values {
            let old = values.updateValue(value, forKey: key)
            approximateBytes += value?.count ?? 0
            if case .some(let previous) = old {
                approximateBytes -= previous?.count ?? 0
            } else {
                approximateBytes += key.bytes.count + Self.rowOverheadBytes
                added.append(key.bytes)
            }
        }
        guard !added.isEmpty else { return }
        if orderedLazily {
            unordered.append(contentsOf: added)
            return
        }
        added.sort { compareBytes($0, $1) < 0 }
        recent = Self.mergedRuns(recent, added)
        // A merged batch may leave the recent run longer than one key at a time would (a walk merges the
        // two runs as it reads, whatever their lengths); it is folded once it is an eighth of the rest.
        if recent.count > max(Self.recentFloor, ordered.count / 8) { foldRecent() }
    }

    /// Every change in key order.
    func forEachInOrder(_ body: ([UInt8], [UInt8]?) throws -> Void) rethrows {
        var rows = self
        rows.settleOrder()
        var cursor = rows.cursor(from: nil, reverse: false)
        while let key = cursor.peek() {
            try body(key, values[RowKey(key)]!)
            cursor.advance()
        }
    }

    /// A cursor over the keys from `start` (the first at or after it; reverse: the last at or before it).
    func cursor(from start: [UInt8]?, reverse: Bool) -> KeyCursor {
        precondition(unordered.isEmpty, "a change set is walked once its keys are in order")
        return KeyCursor(
            rows: self, ordered: Self.startIndex(start, in: ordered, reverse: reverse),
            recent: Self.startIndex(start, in: recent, reverse: reverse), reverse: reverse)
    }

    private static let recentFloor = 256
    /// Two array headers, a table entry and an index entry, measured near 120 bytes with small keys.
    static let rowOverheadBytes = 120

    private mutating func foldRecent() {
        ordered = Self.mergedRuns(ordered, recent)
        recent.removeAll(keepingCapacity: true)
    }

    /// Two sorted runs of distinct keys, none in both, as one sorted run.
    private static func mergedRuns(_ a: [[UInt8]], _ b: [[UInt8]]) -> [[UInt8]] {
        var merged: [[UInt8]] = []
        merged.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count, j < b.count {
            if compareBytes(a[i], b[j]) < 0 { merged.append(a[i]); i += 1 } else { merged.append(b[j]); j += 1 }
        }
        merged.append(contentsOf: a[i...])
        merged.append(contentsOf: b[j...])
        return merged
    }

    /// The index of the first key in `keys` (sorted) that does not precede `key`.
    static func firstIndex(notBefore key: [UInt8], in keys: [[UInt8]]) -> Int {
        var low = 0, high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if compareBytes(keys[middle], key) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Where a walk from `start` begins in `keys`: for a reverse walk, the index of the last key at or
    /// before `start` (−1 for none).
    private static func startIndex(_ start: [UInt8]?, in keys: [[UInt8]], reverse: Bool) -> Int {
        guard let start else { return reverse ? keys.count - 1 : 0 }
        let first = firstIndex(notBefore: start, in: keys)
        guard reverse else { return first }
        return first < keys.count && compareBytes(keys[first], start) == 0 ? first : first - 1
    }

    /// Keys of one ``ChangedRows`` in a walk's order: its two sorted runs merged as they are read.
    struct KeyCursor {
        let rows: ChangedRows
        var ordered: Int
        var recent: Int
        let reverse: Bool

        /// The next key, or nil at the end.
        func peek() -> [UInt8]? { next()?.key }

        /// Moves past the key `peek` gave.
        mutating func advance() {
            guard let (_, fromOrdered) = next() else { return }
            if fromOrdered { ordered += reverse ? -1 : 1 } else { recent += reverse ? -1 : 1 }
        }

        /// The next key of the two runs, and whether it comes from `ordered`.
        private func next() -> (key: [UInt8], fromOrdered: Bool)? {
            let a = ordered >= 0 && ordered < rows.ordered.count ? rows.ordered[ordered] : nil
            let b = recent >= 0 && recent < rows.recent.count ? rows.recent[recent] : nil
            guard let a else { return b.map { ($0, false) } }
            guard let b else { return (a, true) }
            return (compareBytes(a, b) < 0) != reverse ? (a, true) : (b, false)
        }

        /// The change to `key` (a key `peek` gave).
        func value(_ key: [UInt8]) -> [UInt8]? { rows.values[RowKey(key)]! }
    }
}

/// The overlay's rows of one database in a walk's order: a transaction's own changes over the published
/// ones (where both changed a key, the transaction's wins).
struct OverlayCursor {
    var top: ChangedRows.KeyCursor?
    var below: ChangedRows.KeyCursor?
    let reverse: Bool

    /// The next changed row (its value nil for a deletion), or nil at the end.
    mutating func next() -> (key: [UInt8], value: [UInt8]?)? {
        // A published key that the transaction changed too is skipped: the transaction's change wins.
        while let key = below?.peek(), let topRows = top?.rows, case .some = topRows[RowKey(key)] { below!.advance() }
        let mine = top?.peek(), published = below?.peek()
        if let mine, published == nil || (compareBytes(mine, published!) < 0) != reverse {
            top!.advance()
            return (mine, top!.value(mine))
        }
        guard let published else { return nil }
        below!.advance()
        return (published, below!.value(published))
    }
}

/// memcmp order of two byte strings, as LMDB orders keys: negative, zero or positive.
@inline(__always)
func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { a in b.withUnsafeBytes { b in compareBytes(a, b) } }
}

/// memcmp order of two byte strings, as LMDB orders keys: negative, zero or positive. Inlinable, so that
/// the canonical JSON's key sort (LinliCodec) inlines it as this module does: called across the module
/// boundary it cost 658 instructions a ledger command (callgrind).
@inlinable @inline(__always)
package func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    if common > 0, let pa = a.baseAddress, let pb = b.baseAddress {
        let order = memcmp(pa, pb, common)
        if order != 0 { return Int(order) }
    }
    return a.count - b.count
}

/// A row's key in an overlay. Hashed as one run of bytes: `[UInt8]`'s own hashing feeds the hasher a byte
/// at a time, which was 10k instructions of a ledger command.
public struct RowKey: Hashable, Sendable {
    /// The key's bytes.
    public let bytes: [UInt8]

    /// A key of these bytes.
    @inline(__always)
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The key's bytes folded eight at a time into one word (multiply and shift, as FxHash and wyhash
    /// do), which the table's seeded hasher then mixes: SipHash over every byte of a 30-byte key was 430
    /// instructions of each look-up (callgrind), three of them a delivery. The fold is not meant to resist
    /// keys chosen to collide; the keys are the store's own ids, and the table's seed still varies per
    /// process.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(Self.fold(bytes))
    }

    @inline(__always)
    static func fold(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
            var hash = UInt64(raw.count) &* multiplier
            var offset = 0
            while offset + 8 <= raw.count {
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* multiplier
                hash ^= hash >> 32
                offset += 8
            }
            var tail: UInt64 = 0
            while offset < raw.count {
                tail = tail << 8 | UInt64(raw[offset])
                offset += 1
            }
            hash = (hash ^ tail) &* multiplier
            return hash ^ (hash >> 29)
        }
    }

    /// Byte for byte, by `memcmp` (the arrays' `==` compares element by element).
    public static func == (lhs: RowKey, rhs: RowKey) -> Bool {
        lhs.bytes.count == rhs.bytes.count
            && lhs.bytes.withUnsafeBytes { a in rhs.bytes.withUnsafeBytes { b in a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
    }
}

extension Database {
    /// Whether rows of this database are seen through a transaction's overlay.
    @inline(__always)
    var overlaid: Bool { overlaySlot >= 0 }
}

/// The rows of one retirable database that an audit's replay has folded away
/// (``Projection/retirableDatabases``): their sum, and the keys' keyed 64-bit hashes, sorted, so that a
/// later event that reaches one of them is noticed (``reached``) and the replay's sums are not trusted. A
/// new key whose hash equals a retired one's (about n²/2^65 for n keys) is noticed too: it only costs the
/// audit a second replay.
final class RetiredRows {
    /// The hash of the keys: keyed, so that no stored data can aim at it.
    private static let keyHash = SipHash24.random()
    /// What the retired rows come to.
    private(set) var sum = RowSetSum()
    /// The retired keys' hashes, in order.
    private var hashes: [UInt64] = []
    /// The ones retired since the last ``settle()``.
    private var fresh: [UInt64] = []
    /// Whether the replay reached a retired row (or walked the database once some were retired).
    var reached = false

    /// Rows retired.
    var count: Int { hashes.count + fresh.count }
    /// About how much memory it holds.
    var approximateBytes: Int { RowSetSum.bucketCount * 16 + 8 * (hashes.capacity + fresh.capacity) }

    private static func hash(_ key: [UInt8]) -> UInt64 { key.withUnsafeBytes { keyHash.hash($0) } }

    /// Folds a row into the sum and remembers its key.
    func add(_ key: [UInt8], _ value: [UInt8]) {
        sum.add(RowSetSum.Fingerprint(key, value))
        fresh.append(Self.hash(key))
    }

    /// Merges the keys retired since the last call into the sorted ones.
    func settle() {
        guard !fresh.isEmpty else { return }
        fresh.sort()
        // One merge of two sorted runs, not a sort of every key retired so far.
        var merged: [UInt64] = []
        merged.reserveCapacity(hashes.count + fresh.count)
        var old = 0, new = 0
        while old < hashes.count || new < fresh.count {
            if new == fresh.count || (old < hashes.count && hashes[old] <= fresh[new]) {
                merged.append(hashes[old])
                old += 1
            } else {
                merged.append(fresh[new])
                new += 1
            }
        }
        hashes = merged
        fresh.removeAll()
    }

    /// Notes a key the overlay does not hold: reached if it was retired.
    func noteMiss(_ key: [UInt8]) {
        guard !hashes.isEmpty, !reached else { return }
        let hash = Self.hash(key)
        var low = 0, high = hashes.count
        while low < high {
            let middle = (low + high) / 2
            if hashes[middle] < hash { low = middle + 1 } else { high = middle }
        }
        if low < hashes.count && hashes[low] == hash { reached = true }
    }
}
