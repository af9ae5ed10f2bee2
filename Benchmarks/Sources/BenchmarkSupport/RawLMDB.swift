// The raw-LMDB baselines: the same work as Linli's, done with LMDB's C API directly, so that every
// Linli figure is reported as a ratio to what LMDB itself does on this machine in the same run.
import CLMDB
import Crypto
import Foundation
import LinliStore

/// A bare LMDB environment with one database, driven through the C API.
public final class RawLMDB: @unchecked Sendable {
    public let env: OpaquePointer
    public let dbi: MDB_dbi
    public let path: String

    public init(path: String, mapSizeBytes: Int = 8 << 30) {
        self.path = path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var env: OpaquePointer?
        precondition(mdb_env_create(&env) == 0)
        mdb_env_set_maxdbs(env, 4)
        mdb_env_set_mapsize(env, mapSizeBytes)
        precondition(mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o644) == 0)
        var txn: OpaquePointer?
        var dbi: MDB_dbi = 0
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        precondition(mdb_dbi_open(txn, "events", UInt32(MDB_CREATE), &dbi) == 0)
        precondition(mdb_txn_commit(txn) == 0)
        self.env = env!
        self.dbi = dbi
    }

    deinit { mdb_env_close(env) }

    /// The next position to append.
    public var nextPosition: UInt64 = 1
    /// The last hash, for chaining.
    public var previousHash = [UInt8](repeating: 0, count: 32)

    /// Appends `body`s as records `prevHash ‖ body ‖ SHA-256(prevHash ‖ body)` with `MDB_APPEND`, all in one
    /// transaction: what Linli's batched append does, without its indexes and projections.
    public func appendChained(_ bodies: [[UInt8]]) {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        var record: [UInt8] = []
        record.reserveCapacity(512)
        for body in bodies {
            record.removeAll(keepingCapacity: true)
            record.append(contentsOf: previousHash)
            record.append(contentsOf: body)
            let hash = record.withUnsafeBytes { Hash.sha256($0) }.bytes
            record.append(contentsOf: hash)
            previousHash = hash
            put(txn!, nextPosition, record, flags: UInt32(MDB_APPEND))
            nextPosition += 1
        }
        precondition(mdb_txn_commit(txn) == 0)
    }

    /// Appends whole records as they are, in one transaction.
    public func appendRecords(_ records: [[UInt8]]) {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        for record in records {
            put(txn!, nextPosition, record, flags: UInt32(MDB_APPEND))
            nextPosition += 1
        }
        precondition(mdb_txn_commit(txn) == 0)
    }

    /// Stores key/value pairs (in key order) in one transaction.
    public func putKeyed(_ pairs: [([UInt8], [UInt8])]) {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        for (key, value) in pairs {
            key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                    var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                    precondition(mdb_put(txn, dbi, &kv, &vv, 0) == 0)
                }
            }
        }
        precondition(mdb_txn_commit(txn) == 0)
    }

    /// A read transaction, one `mdb_get`, a copy of the value: the raw cost of a balance look-up.
    public func get(_ key: [UInt8]) -> [UInt8]? {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0)
        defer { mdb_txn_abort(txn) }
        return key.withUnsafeBytes { k -> [UInt8]? in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var vv = MDB_val()
            guard mdb_get(txn, dbi, &kv, &vv) == 0 else { return nil }
            return Array(UnsafeRawBufferPointer(start: vv.mv_data, count: vv.mv_size))
        }
    }

    /// One put and one durable commit: the raw cost of a single-event write.
    public func putAndCommit(_ value: [UInt8]) {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        put(txn!, nextPosition, value, flags: UInt32(MDB_APPEND))
        nextPosition += 1
        precondition(mdb_txn_commit(txn) == 0)
    }

    func put(_ txn: OpaquePointer, _ position: UInt64, _ value: [UInt8], flags: UInt32) {
        var keyBytes = position.bigEndian
        withUnsafeMutableBytes(of: &keyBytes) { key in
            value.withUnsafeBytes { bytes in
                var k = MDB_val(mv_size: 8, mv_data: key.baseAddress)
                var v = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                let rc = mdb_put(txn, dbi, &k, &v, flags)
                precondition(rc == 0, String(cString: mdb_strerror(rc)))
            }
        }
    }

    /// Walks every row with a cursor and hashes each one, key and value: the raw cost of reading a
    /// store's projection rows for a comparison. Returns how many rows it read.
    @discardableResult
    public func scanAndHashRows() -> Int {
        scan { key, value in
            var hasher = SHA256()
            hasher.update(bufferPointer: key)
            hasher.update(bufferPointer: value)
            return hasher.finalize().withUnsafeBytes { $0[0] }
        }
    }

    /// Walks every record with a cursor and hashes each one: the raw cost of a chain verification.
    /// Returns how many records it read.
    @discardableResult
    public func scanAndHash() -> Int {
        scan { _, record in Hash.sha256(UnsafeRawBufferPointer(rebasing: record[0..<(record.count - 32)])).bytes[0] }
    }

    /// One read transaction and a cursor over every row, `body` run on each key and value where they lie;
    /// the bytes it returns are folded together and kept, so that the work cannot be optimized away.
    private func scan(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> UInt8) -> Int {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0)
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        precondition(mdb_cursor_open(txn, dbi, &cursor) == 0)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        var count = 0
        var xor: UInt8 = 0
        var rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
        while rc == 0 {
            xor ^= body(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size), UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
            count += 1
            rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
        }
        precondition(rc == MDB_NOTFOUND)
        keep(xor)
        return count
    }
}

@inline(never)
func keep<T>(_ value: T) {}

/// A fresh temporary directory for a benchmark's store.
public func temporaryStorePath(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "linli-bench-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The temporary stores this process made, removed when it exits.
nonisolated(unsafe) var temporaryPaths: [String] = []

/// Registers a temporary store for removal at exit and returns its path.
public func tracked(_ path: String) -> String {
    if temporaryPaths.isEmpty {
        atexit { for path in temporaryPaths { try? FileManager.default.removeItem(atPath: path) } }
    }
    temporaryPaths.append(path)
    return path
}

/// Deterministic bytes of a given size (SplitMix64).
public func deterministicBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
}

extension RawLMDB {
    /// A read transaction, a cursor positioned at `from`, and `count` values copied out: the raw cost of
    /// reading one entity's consecutive rows (an elder's history).
    public func readRange(from key: [UInt8], count: Int) -> Int {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0)
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        precondition(mdb_cursor_open(txn, dbi, &cursor) == 0)
        defer { mdb_cursor_close(cursor) }
        return key.withUnsafeBytes { k -> Int in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var vv = MDB_val()
            var read = 0
            var bytes = 0
            var rc = mdb_cursor_get(cursor, &kv, &vv, MDB_SET_RANGE)
            while rc == 0 && read < count {
                let value = Array(UnsafeRawBufferPointer(start: vv.mv_data, count: vv.mv_size))
                bytes &+= value.count
                read += 1
                rc = mdb_cursor_get(cursor, &kv, &vv, MDB_NEXT)
            }
            keep(bytes)
            return read
        }
    }

    /// Reads the records at `positions` (one `mdb_get` each, a copy of each value) in one read transaction:
    /// the raw cost of reading one stream's events back.
    public func readPositions(_ positions: [UInt64]) -> Int {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0)
        defer { mdb_txn_abort(txn) }
        var bytes = 0
        for position in positions {
            var keyBytes = position.bigEndian
            withUnsafeMutableBytes(of: &keyBytes) { key in
                var kv = MDB_val(mv_size: 8, mv_data: key.baseAddress)
                var vv = MDB_val()
                precondition(mdb_get(txn, dbi, &kv, &vv) == 0)
                bytes &+= Array(UnsafeRawBufferPointer(start: vv.mv_data, count: vv.mv_size)).count
            }
        }
        keep(bytes)
        return positions.count
    }

    /// Reads every record with a cursor and writes each into `target` under the same key, committing every
    /// `chunk` records: the raw cost of a replay that writes as much as it reads.
    public func copyAll(into target: RawLMDB, chunk: Int = 50_000) {
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0)
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        precondition(mdb_cursor_open(txn, dbi, &cursor) == 0)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        var writeTxn: OpaquePointer?
        precondition(mdb_txn_begin(target.env, nil, 0, &writeTxn) == 0)
        var inChunk = 0
        var rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
        while rc == 0 {
            precondition(mdb_put(writeTxn, target.dbi, &key, &value, UInt32(MDB_APPEND)) == 0)
            inChunk += 1
            if inChunk == chunk {
                precondition(mdb_txn_commit(writeTxn) == 0)
                precondition(mdb_txn_begin(target.env, nil, 0, &writeTxn) == 0)
                inChunk = 0
            }
            rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
        }
        precondition(mdb_txn_commit(writeTxn) == 0)
    }
}
