import CLMDB

/// What read-only and read-write transactions share: look-ups and cursor walks. Every pointer into the
/// map is handed out only inside a closure and must not escape it: LMDB's memory for a value is valid
/// only until the transaction ends or the next write to the database.
public protocol TransactionReading: ~Copyable {
    /// The C handle; internal use only.
    var handle: OpaquePointer { get }
    /// The rows changed in memory above LMDB's, for the databases that have an overlay slot; nil for a
    /// transaction that sees LMDB's rows only.
    var rows: RowOverlay? { get }
}

/// A read-only transaction: a consistent snapshot of the environment. Borrowed inside
/// ``Environment/read(_:)``; it cannot be copied, stored or held across an `await`.
public struct ReadTransaction: ~Copyable, TransactionReading {
    public let handle: OpaquePointer
    public let rows: RowOverlay?
    /// False for a view that the log lends inside a closure of its own; only the owner aborts.
    let owned: Bool

    init(handle: OpaquePointer) { self.handle = handle; self.owned = true; self.rows = nil }
    /// A view of a transaction owned elsewhere, lent only inside that owner's closure, seeing `rows` above LMDB.
    init(borrowing handle: OpaquePointer, rows: RowOverlay? = nil) { self.handle = handle; self.owned = false; self.rows = rows }

    deinit { if owned { mdb_txn_abort(handle) } }
}

/// The one write transaction. Borrowed inside ``Environment/write(_:)``, which commits it when the closure
/// returns and aborts it when the closure throws; it cannot be copied, stored or held across an `await`.
///
/// With an overlay (``rows``), a put or delete in a projection's database changes the overlay only. A log
/// replaying the tail of its log in memory lends such a view over a *read* snapshot (`overlayOnly`): it
/// may then write projection rows only, to the overlay, and any other put is a programming error.
public struct WriteTransaction: ~Copyable, TransactionReading {
    public let handle: OpaquePointer
    /// Unretained, so that `commit` can `discard` the value: only views carry an overlay, and the lender
    /// keeps it alive for as long as it lends the view (inside its own closure).
    private let rowsReference: Unmanaged<RowOverlay>?
    public var rows: RowOverlay? { rowsReference?.takeUnretainedValue() }
    /// False for a view that the log lends inside a closure of its own; only the owner commits or aborts.
    let owned: Bool
    /// True for a view over a read snapshot: only overlaid databases may be written.
    let overlayOnly: Bool

    init(handle: OpaquePointer) { self.handle = handle; self.owned = true; self.rowsReference = nil; self.overlayOnly = false }
    /// A view of a transaction owned elsewhere, lent only inside that owner's closure, writing projection
    /// rows to `rows` when given.
    init(borrowing handle: OpaquePointer, rows: RowOverlay? = nil, overlayOnly: Bool = false) {
        precondition(!overlayOnly || rows != nil, "an overlay-only view needs an overlay")
        self.handle = handle
        self.owned = false
        self.rowsReference = rows.map { Unmanaged.passUnretained($0) }
        self.overlayOnly = overlayOnly
    }

    /// Commits. LMDB frees the transaction's handle even when the commit fails, so this consumes the
    /// value without running `deinit`: an abort after a failed commit would be a double free.
    consuming func commit() throws(LMDBError) {
        precondition(owned, "only the owner of a transaction commits it")
        let handle = self.handle
        discard self
        try check(mdb_txn_commit(handle), "mdb_txn_commit")
    }

    deinit { if owned { mdb_txn_abort(handle) } }
}

/// The handle of a transaction that has no LMDB transaction under it: a replay into memory writes and reads
/// databases that exist only in its overlay (``Database/inMemory``), and any LMDB call through it is a
/// programming error, caught by a precondition before it reaches LMDB.
nonisolated(unsafe) let detachedHandle = OpaquePointer(bitPattern: 0xDE7A_C4ED)!

extension ReadTransaction {
    /// A view with no LMDB transaction under it, reading the databases in memory in `rows`.
    static func detached(rows: RowOverlay) -> ReadTransaction { ReadTransaction(borrowing: detachedHandle, rows: rows) }
}

extension WriteTransaction {
    /// A view with no LMDB transaction under it, writing the databases in memory in `rows` only.
    static func detached(rows: RowOverlay) -> WriteTransaction { WriteTransaction(borrowing: detachedHandle, rows: rows, overlayOnly: true) }
}

/// Flags for ``WriteTransaction/put(_:key:value:flags:)``.
public struct PutFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `MDB_NOOVERWRITE`: fail with ``LMDBError/Code/keyExist`` when the key exists.
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// `MDB_APPEND`: the key is greater than every key in the database; LMDB checks this and fails with
    /// ``LMDBError/Code/keyExist`` on a key out of order.
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
}

@inline(__always)
func withValue<R>(_ bytes: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws -> R) rethrows -> R {
    var value = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    return try body(&value)
}

@inline(__always)
func buffer(_ value: MDB_val) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
}

extension TransactionReading where Self: ~Copyable {
    /// Looks `key` up and passes LMDB's bytes for its value to `body`; returns nil when there is none.
    /// The bytes live in the map: do not let them escape `body`.
    public func withValue<R>(in database: Database, key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        switch overlayValue(database, key.count, Array(key)) {
        case .some(let found): return try found?.withUnsafeBytes { try body($0) }
        case .none: return try storedValue(in: database, key: key, body)
        }
    }

    /// Looks `key` up and passes the bytes of its value to `body`; returns nil when there is none. The same
    /// as the look-up by a buffer, but a key already in an array is looked up in the overlay as it is, not
    /// copied (two of a ledger command's look-ups in three find their row there).
    public func withValue<R>(in database: Database, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        switch overlayValue(database, key.count, key) {
        case .some(let found): return try found?.withUnsafeBytes { try body($0) }
        case .none: return try key.withUnsafeBytes { key in try storedValue(in: database, key: key, body) }
        }
    }

    /// The overlay's word on a key of `count` bytes, checked as every look-up is: `.some(nil)` for a
    /// deleted row (or a database in memory without it), nil when LMDB's rows answer. The key is made
    /// only when the overlay holds changes of the database.
    @inline(__always)
    private func overlayValue(_ database: Database, _ count: Int, _ key: @autoclosure () -> [UInt8]) -> [UInt8]?? {
        precondition(count > 0, "LMDB keys are never empty")
        precondition(!database.writeOnly, "\(database) holds no rows in this replay (append-only, or dropped): apply must not read it")
        if database.overlaid, let rows, !rows.isEmpty(database.overlaySlot), let found = rows.lookUp(database.overlaySlot, key()) { return found }
        return database.inMemory ? .some(nil) : nil
    }

    /// LMDB's row of `key`, below any overlay.
    fileprivate func storedValue<R>(in database: Database, key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        precondition(handle != detachedHandle, "a transaction without LMDB reads databases in memory only")
        var data = MDB_val()
        let rc = LinliStore.withValue(key) { mdb_get(handle, database.dbi, &$0, &data) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get(\(database))")
        return try body(buffer(data))
    }

    /// Looks `key` up and returns a copy of its value, or nil.
    public func value(in database: Database, key: [UInt8]) throws -> [UInt8]? {
        try withValue(in: database, key: key) { Array($0) }
    }

    /// Walks the database with a cursor from `start` (the first key at or after it; for a reverse walk, the
    /// last key at or before it), or from the first (last) key when `start` is nil. `body` gets each key
    /// and value, valid only inside the call, and returns false to stop. Returns how many pairs it visited.
    @discardableResult
    public func walk(
        _ database: Database, from start: [UInt8]? = nil, reverse: Bool = false,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws -> Int {
        precondition(!database.writeOnly, "\(database) holds no rows in this replay (append-only, or dropped): apply must not read it")
        guard database.overlaid, let rows else { return try walkStored(database, from: start, reverse: reverse, body) }
        guard !rows.isEmpty(database.overlaySlot) else { return try walkStored(database, from: start, reverse: reverse, body) }
        return try walkMerged(database, rows.cursor(database.overlaySlot, from: start, reverse: reverse), from: start, reverse: reverse, body)
    }

    /// A walk of LMDB's rows and the overlay's together, in key order: where both hold a key the overlay's
    /// row (or its deletion) wins.
    private func walkMerged(
        _ database: Database, _ changes: OverlayCursor, from start: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws -> Int {
        var changes = changes
        var pending = changes.next()
        var visited = 0
        var stopped = false
        // Calls `body` with the pending overlay row (none for a deletion) and takes the next; false when
        // `body` asked to stop.
        func emit() throws -> Bool {
            let change = pending!
            pending = changes.next()
            guard let value = change.value else { return true }
            visited += 1
            return try change.key.withUnsafeBytes { key in try value.withUnsafeBytes { try body(key, $0) } }
        }
        func order(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Int {
            let order = a.withUnsafeBytes { compareBytes($0, b) }
            return reverse ? -order : order
        }
        _ = try walkStored(database, from: start, reverse: reverse) { key, value in
            while let change = pending {
                let position = order(change.key, key)
                if position > 0 { break }
                guard try emit() else { stopped = true; return false }
                // The overlay's row replaces LMDB's row of the same key.
                if position == 0 { return true }
            }
            visited += 1
            guard try body(key, value) else { stopped = true; return false }
            return true
        }
        while !stopped, pending != nil {
            guard try emit() else { break }
        }
        return visited
    }

    private func walkStored(
        _ database: Database, from start: [UInt8]?, reverse: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws -> Int {
        if database.inMemory { return 0 }
        precondition(handle != detachedHandle, "a transaction without LMDB reads databases in memory only")
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, database.dbi, &cursor), "mdb_cursor_open(\(database))")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var data = MDB_val()
        var rc: Int32
        if let start {
            rc = start.withUnsafeBytes { bytes in
                LinliStore.withValue(bytes) { probe in
                    let found = mdb_cursor_get(cursor, &probe, &data, MDB_SET_RANGE)
                    key = probe
                    return found
                }
            }
            if reverse {
                if rc == MDB_NOTFOUND {
                    rc = mdb_cursor_get(cursor, &key, &data, MDB_LAST)
                } else if rc == 0, !buffer(key).elementsEqual(start) {
                    rc = mdb_cursor_get(cursor, &key, &data, MDB_PREV)
                }
            }
        } else {
            rc = mdb_cursor_get(cursor, &key, &data, reverse ? MDB_LAST : MDB_FIRST)
        }
        var visited = 0
        while rc == 0 {
            visited += 1
            guard try body(buffer(key), buffer(data)) else { return visited }
            rc = mdb_cursor_get(cursor, &key, &data, reverse ? MDB_PREV : MDB_NEXT)
        }
        guard rc == MDB_NOTFOUND else { throw LMDBError(rc, "mdb_cursor_get(\(database))") }
        return visited
    }

    /// The snapshot's transaction id (`mdb_txn_id`): the id of the last commit it sees (a write
    /// transaction's is one more). Equal ids mean the same committed state.
    public var snapshotId: Int { Int(mdb_txn_id(handle)) }

    /// How many entries the database holds (`mdb_stat`). For an overlaid database, a merged walk counts
    /// them: only the command path's rates table is counted while changes are in memory, and it is small.
    public func count(_ database: Database) throws -> Int {
        precondition(!database.writeOnly, "\(database) holds no rows in this replay (append-only, or dropped): apply must not read it")
        if database.overlaid, let rows, !rows.isEmpty(database.overlaySlot) {
            return try walk(database) { _, _ in true }
        }
        if database.inMemory { return 0 }
        var stat = MDB_stat()
        try check(mdb_stat(handle, database.dbi, &stat), "mdb_stat(\(database))")
        return stat.ms_entries
    }
}

extension WriteTransaction {
    /// Stores `value` under `key`.
    public func put(_ database: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: PutFlags = []) throws(LMDBError) {
        precondition(!key.isEmpty, "LMDB keys are never empty")
        if database.writeOnly, let rows {
            rows.appendOnly[database.overlaySlot]?.add(key, value)
            return
        }
        if database.overlaid, let rows {
            precondition(flags.isEmpty, "projection rows are put without flags")
            if rows.keeps(database.overlaySlot, key) && rows.filterKeeps(database.overlaySlot, key) {
                rows.set(database.overlaySlot, Array(key), Array(value))
            }
            return
        }
        precondition(!overlayOnly, "a replay in a read snapshot writes projection rows only")
        var data = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = LinliStore.withValue(key) { mdb_put(handle, database.dbi, &$0, &data, flags.rawValue) }
        try check(rc, "mdb_put(\(database))")
    }

    /// Whether rows put into `database` go nowhere: an append-only database of a time-travel view whose
    /// queries read none of them (``AppendOnlyRows/dropped``), or a database an audit's part of a replay
    /// drops (``Projection/replayParts``). A projection may skip making such rows, and must not read them.
    @inline(__always)
    public func drops(_ database: Database) -> Bool {
        database.writeOnly && rows.map { $0.appendOnly[database.overlaySlot] == nil } ?? false
    }

    /// Whether rows of `entity` (a key's bytes before its first zero) put into `database` are kept: false
    /// when the database is dropped, or held for other entities only (``AppendOnlyRows/heldFor(entities:)``).
    /// A projection may skip making rows that would not be kept.
    @inline(__always)
    public func keepsRows(of entity: [UInt8], in database: Database) -> Bool {
        guard !drops(database) else { return false }
        guard database.overlaid, let rows else { return true }
        return entity.withUnsafeBytes { rows.keeps(database.overlaySlot, $0) }
    }

    /// Stores `value` under `key`. A projection's row goes to the overlay as the arrays it is given, not
    /// copied again.
    public func put(_ database: Database, key: [UInt8], value: [UInt8], flags: PutFlags = []) throws {
        if database.overlaid, !database.writeOnly, let rows {
            precondition(!key.isEmpty, "LMDB keys are never empty")
            precondition(flags.isEmpty, "projection rows are put without flags")
            if key.withUnsafeBytes({ rows.keeps(database.overlaySlot, $0) && rows.filterKeeps(database.overlaySlot, $0) }) {
                rows.set(database.overlaySlot, key, value)
            }
            return
        }
        try key.withUnsafeBytes { key in
            try value.withUnsafeBytes { value in
                try put(database, key: key, value: value, flags: flags)
            }
        }
    }

    /// Changes `key`'s row: `body` gets its bytes (nil: none) and leaves the new ones (nil: deleted), in
    /// place if it likes: it holds the only reference to them unless a replay's journal keeps the old ones.
    /// A `body` that throws must leave them as they were; nothing changes then. A projection's counter (a week's adherence, a station's deliveries)
    /// goes through here: in an overlay the row is found and replaced with one look-up of the changes
    /// instead of a look-up and a put, each hashing the key. `body` must not use the transaction.
    public func modify(_ database: Database, key: [UInt8], _ body: (inout [UInt8]?) throws -> Void) throws {
        precondition(!key.isEmpty, "LMDB keys are never empty")
        precondition(!database.writeOnly, "\(database) holds no rows in this replay (append-only, or dropped): apply must not read it")
        if database.overlaid, let rows {
            precondition(
                rows.keptEntities.isEmpty || rows.keptEntities[database.overlaySlot] == nil,
                "\(database) keeps some entities' rows only: its rows are put, not changed")
            // A row a view's key filter leaves out is not made: it is neither read nor changed.
            if !rows.keyFilters.isEmpty, !key.withUnsafeBytes({ rows.filterKeeps(database.overlaySlot, $0) }) { return }
            return try rows.modify(
                database.overlaySlot, key,
                stored: {
                    database.inMemory ? nil : try key.withUnsafeBytes { key in try storedValue(in: database, key: key) { Array($0) } }
                }, body)
        }
        var row = try value(in: database, key: key)
        let existed = row != nil
        try body(&row)
        if let row { try put(database, key: key, value: row) } else if existed { try delete(database, key: key) }
    }

    /// Deletes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ database: Database, key: [UInt8]) throws -> Bool {
        precondition(!database.writeOnly, "\(database) is append-only: apply must not delete its rows")
        if database.overlaid, let rows {
            let existed = try key.withUnsafeBytes { try withValue(in: database, key: $0) { _ in true } } ?? false
            rows.set(database.overlaySlot, key, nil)
            return existed
        }
        precondition(!overlayOnly, "a replay in a read snapshot writes projection rows only")
        let rc = key.withUnsafeBytes { bytes in
            LinliStore.withValue(bytes) { mdb_del(handle, database.dbi, &$0, nil) }
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del(\(database))")
        return true
    }

    /// Empties the database, keeping it.
    public func empty(_ database: Database) throws {
        precondition(!database.overlaid || rows == nil, "a projection's database is emptied only below its overlay")
        try check(mdb_drop(handle, database.dbi, 0), "mdb_drop(\(database), empty)")
    }
}
