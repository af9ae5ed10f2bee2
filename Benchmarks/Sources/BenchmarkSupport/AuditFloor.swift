// The floor of an audit of this layout: what `audit verify` cannot avoid doing, done with LMDB's C API on
// prepared bytes, on every core at once. The chain pass is a cursor scan with SHA-256 of each record; the
// rebuild is every row the stored projections hold put once into a fresh environment, in the order of the
// position that last wrote it (as a replay would leave it — a replay also writes every row's earlier
// versions, so it can only do more); the comparison is SHA-256 over every row, stored and rebuilt.
import CLMDB
import Dispatch
import Foundation
import LinliStore

/// The rows of one projection, ready to be put: keys and values in one buffer, ordered by row position.
struct FloorProjection {
    var databases: [String] = []
    /// (database index, key range, value range) in `bytes`, sorted by the value's position prefix.
    var rows: [(database: Int, key: Range<Int>, value: Range<Int>)] = []
    var bytes: [UInt8] = []
    /// The stored databases, in the order of `databases`.
    var storedDatabases: [Database] = []
}

/// A store's projections, read once, and the floor's work over them.
public final class AuditFloor: @unchecked Sendable {
    let log: EventLog
    let projections: [FloorProjection]
    /// Rows put between two commits of a fresh environment (an audit commits every 50,000 events).
    static let rowsPerCommit = 100_000

    /// Reads every projection database of the store through its own environment (LMDB forbids opening
    /// one environment twice in a process).
    public init(log: EventLog, projections names: [String]) {
        self.log = log
        projections = try! log.read { reader in
            try names.map { name in
                var floor = FloorProjection()
                try reader.withTransaction { txn in
                    for (table, database) in reader.databases(of: name).all {
                        let index = floor.databases.count
                        floor.databases.append("\(name)/\(table)")
                        _ = try txn.walk(database) { key, value in
                            let keyStart = floor.bytes.count
                            floor.bytes.append(contentsOf: key)
                            let valueStart = floor.bytes.count
                            floor.bytes.append(contentsOf: value)
                            floor.rows.append((index, keyStart..<valueStart, valueStart..<floor.bytes.count))
                            return true
                        }
                    }
                }
                floor.storedDatabases = reader.databases(of: name).all.map(\.database)
                let bytes = floor.bytes
                func position(_ range: Range<Int>) -> UInt64 { bytes[range.lowerBound..<(range.lowerBound + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
                floor.rows.sort { position($0.value) < position($1.value) }
                return floor
            }
        }.sorted { $0.rows.count > $1.rows.count }
    }

    /// How many rows the projections hold.
    public var rowsCount: Int { projections.reduce(0) { $0 + $1.rows.count } }

    /// The chain pass over `raw` (the same records) and each projection's rebuild and comparison, side by
    /// side on every core; returns the rows digested.
    public func run(chain raw: RawLMDB) -> Int {
        let digested = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: projections.count + 1) { task in
            if task == projections.count {
                keep(raw.scanAndHash())
                return
            }
            digested.add(rebuildAndCompare(projections[task]))
        }
        return digested.value
    }

    private func rebuildAndCompare(_ floor: FloorProjection) -> Int {
        let path = temporaryStorePath("audit-floor")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var env: OpaquePointer?
        precondition(mdb_env_create(&env) == 0)
        defer { mdb_env_close(env) }
        mdb_env_set_maxdbs(env, 32)
        mdb_env_set_mapsize(env, 16 << 30)
        precondition(mdb_env_open(env, path, UInt32(MDB_NOTLS | MDB_NOSYNC), 0o644) == 0)
        var dbis: [MDB_dbi] = []
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        for name in floor.databases {
            var dbi: MDB_dbi = 0
            precondition(mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi) == 0)
            dbis.append(dbi)
        }
        floor.bytes.withUnsafeBytes { bytes in
            for (index, row) in floor.rows.enumerated() {
                var key = MDB_val(mv_size: row.key.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + row.key.lowerBound))
                var value = MDB_val(mv_size: row.value.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress! + row.value.lowerBound))
                precondition(mdb_put(txn, dbis[row.database], &key, &value, 0) == 0)
                if (index + 1) % Self.rowsPerCommit == 0 {
                    precondition(mdb_txn_commit(txn) == 0)
                    precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
                }
            }
        }
        precondition(mdb_txn_commit(txn) == 0)
        // Compare: every row of the stored databases and of the rebuilt ones through SHA-256.
        var rows = 0
        try! log.environment.read { storeTxn in
            var rebuiltTxn: OpaquePointer?
            precondition(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &rebuiltTxn) == 0)
            defer { mdb_txn_abort(rebuiltTxn) }
            for (index, name) in floor.databases.enumerated() {
                var storedHasher = ChunkHasher(), rebuiltHasher = ChunkHasher()
                _ = try storeTxn.walk(floor.storedDatabases[index]) { key, value in
                    storedHasher.add(key, value); rows += 1; return true
                }
                Self.walk(rebuiltTxn!, dbis[index]) { key, value in rebuiltHasher.add(key, value) }
                precondition(storedHasher.finish() == rebuiltHasher.finish(), "the floor's rebuild of \(name) differs")
            }
        }
        return rows
    }

    static func walk(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        var cursor: OpaquePointer?
        precondition(mdb_cursor_open(txn, dbi, &cursor) == 0)
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        var rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
        while rc == 0 {
            body(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size), UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
            rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
        }
        precondition(rc == MDB_NOTFOUND)
    }
}

/// SHA-256 over a stream of rows, a megabyte at a time (the same bytes through the same hash as a digest
/// of every row; chunks chained by their hashes).
struct ChunkHasher {
    var buffer: [UInt8] = {
        var buffer: [UInt8] = []; buffer.reserveCapacity(1 << 20); return buffer
    }()
    var chained = [UInt8](repeating: 0, count: 32)

    mutating func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        withUnsafeBytes(of: UInt32(key.count).bigEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: key)
        withUnsafeBytes(of: UInt32(value.count).bigEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: value)
        if buffer.count >= 1 << 20 { flush() }
    }

    private mutating func flush() {
        buffer.append(contentsOf: chained)
        chained = buffer.withUnsafeBytes { Hash.sha256($0) }.bytes
        buffer.removeAll(keepingCapacity: true)
    }

    mutating func finish() -> [UInt8] {
        flush()
        return chained
    }
}

/// A count several threads add to.
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ amount: Int) { lock.withLock { count += amount } }
    var value: Int { lock.withLock { count } }
}
