import CLMDB

/// What read-only and read-write transactions share: look-ups and cursor walks. Every pointer into the
/// map is handed out only inside a closure and must not escape it: LMDB's memory for a value is valid
/// only until the transaction ends or the next write to the database.
public protocol TransactionReading: ~Copyable {
    /// The C handle; internal use only.
    var handle: OpaquePointer { get }
}

/// A read-only transaction: a consistent snapshot of the environment. Borrowed inside
/// ``Environment/read(_:)``; it cannot be copied, stored or held across an `await`.
public struct ReadTransaction: ~Copyable, TransactionReading {
    public let handle: OpaquePointer
    /// False for a view that the log lends inside a closure of its own; only the owner aborts.
    let owned: Bool

    init(handle: OpaquePointer) { self.handle = handle; self.owned = true }
    /// A view of a transaction owned elsewhere, lent only inside that owner's closure.
    init(borrowing handle: OpaquePointer) { self.handle = handle; self.owned = false }

    deinit { if owned { mdb_txn_abort(handle) } }
}

/// The one write transaction. Borrowed inside ``Environment/write(_:)``, which commits it when the closure
/// returns and aborts it when the closure throws; it cannot be copied, stored or held across an `await`.
public struct WriteTransaction: ~Copyable, TransactionReading {
    public let handle: OpaquePointer
    /// False for a view that the log lends inside a closure of its own; only the owner commits or aborts.
    let owned: Bool

    init(handle: OpaquePointer) { self.handle = handle; self.owned = true }
    /// A view of a transaction owned elsewhere, lent only inside that owner's closure.
    init(borrowing handle: OpaquePointer) { self.handle = handle; self.owned = false }

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
        precondition(!key.isEmpty, "LMDB keys are never empty")
        var data = MDB_val()
        let rc = LinliStore.withValue(key) { mdb_get(handle, database.dbi, &$0, &data) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get(\(database))")
        return try body(buffer(data))
    }

    /// Looks `key` up and returns a copy of its value, or nil.
    public func value(in database: Database, key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { key in try withValue(in: database, key: key) { Array($0) } }
    }

    /// Walks the database with a cursor from `start` (the first key at or after it; for a reverse walk, the
    /// last key at or before it), or from the first (last) key when `start` is nil. `body` gets each key
    /// and value, valid only inside the call, and returns false to stop. Returns how many pairs it visited.
    @discardableResult
    public func walk(_ database: Database, from start: [UInt8]? = nil, reverse: Bool = false,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Int {
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

    /// How many entries the database holds (`mdb_stat`).
    public func count(_ database: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle, database.dbi, &stat), "mdb_stat(\(database))")
        return stat.ms_entries
    }
}

extension WriteTransaction {
    /// Stores `value` under `key`.
    public func put(_ database: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: PutFlags = []) throws(LMDBError) {
        precondition(!key.isEmpty, "LMDB keys are never empty")
        var data = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = LinliStore.withValue(key) { mdb_put(handle, database.dbi, &$0, &data, flags.rawValue) }
        try check(rc, "mdb_put(\(database))")
    }

    /// Stores `value` under `key`.
    public func put(_ database: Database, key: [UInt8], value: [UInt8], flags: PutFlags = []) throws {
        try key.withUnsafeBytes { key in
            try value.withUnsafeBytes { value in
                try put(database, key: key, value: value, flags: flags)
            }
        }
    }

    /// Deletes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ database: Database, key: [UInt8]) throws -> Bool {
        let rc = key.withUnsafeBytes { bytes in
            LinliStore.withValue(bytes) { mdb_del(handle, database.dbi, &$0, nil) }
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del(\(database))")
        return true
    }

    /// Empties the database, keeping it.
    public func empty(_ database: Database) throws {
        try check(mdb_drop(handle, database.dbi, 0), "mdb_drop(\(database), empty)")
    }
}
