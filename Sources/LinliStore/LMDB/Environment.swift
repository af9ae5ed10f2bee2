import CLMDB
import Foundation

/// A named LMDB database inside an ``Environment``: a handle that stays valid for the environment's life.
public struct Database: Sendable, Hashable, CustomStringConvertible {
    /// LMDB's handle.
    let dbi: MDB_dbi
    /// The name it was opened under.
    public let name: String
    /// For a projection's database: its place in a transaction's ``RowOverlay``; -1 for the log's own.
    let overlaySlot: Int
    /// True for a database that exists only in memory, in slot ``overlaySlot`` of an overlay, with no LMDB
    /// rows below (a replay into memory: an audit's, a time-travel view's); ``dbi`` is then meaningless.
    let inMemory: Bool
    /// True for an append-only database replayed in memory whose rows are never held: digested as they are
    /// put (``AppendOnlyDigest``, an audit's replay) or dropped (a time-travel view whose queries read none
    /// of them). Nothing may read it.
    let writeOnly: Bool

    init(dbi: MDB_dbi, name: String, overlaySlot: Int = -1) {
        self.dbi = dbi
        self.name = name
        self.overlaySlot = overlaySlot
        self.inMemory = false
        self.writeOnly = false
    }

    /// A database held only in memory, in slot `slot` of an overlay; with `writeOnly`, its rows go to the
    /// overlay's ``RowOverlay/appendOnly`` sink of that slot, or nowhere when it has none.
    init(inMemory name: String, slot: Int, writeOnly: Bool = false) {
        precondition(slot >= 0, "a database in memory lives in an overlay slot")
        self.dbi = 0
        self.name = name
        self.overlaySlot = slot
        self.inMemory = true
        self.writeOnly = writeOnly
    }

    /// The same database, seen through slot `slot` of the overlays of the transactions that carry one.
    func overlaid(at slot: Int) -> Database { Database(dbi: dbi, name: name, overlaySlot: slot) }

    public var description: String { name }
}

/// An LMDB environment: one directory holding `data.mdb` and `lock.mdb`, opened once per process.
///
/// The environment owns the C handle; transactions are reached only through ``read(_:)`` and
/// ``write(_:)``, whose closures are synchronous, so no transaction can be held across an `await`,
/// and whose transaction values are `~Copyable` and borrowed, so none can outlive its closure.
///
/// - Reader slots are not tied to threads (`MDB_NOTLS`): a thread may nest read transactions and Swift
///   concurrency may run a read on any thread.
/// - The map grows by itself: a write that meets `MDB_MAP_FULL` is aborted, the map is doubled once no
///   other transaction of this process is open, and the write closure runs again from the start.
/// - A map grown by another process (`MDB_MAP_RESIZED`) is adopted the same way.
/// - Stale reader slots left by killed processes are cleared on open (`mdb_reader_check`).
public final class Environment: @unchecked Sendable {
    /// How to open an environment. The defaults suit every user; tests shrink the map to exercise growth.
    public struct Options: Sendable {
        /// The map size to start with. Users never need to set it: the map grows on demand.
        public var initialMapSizeBytes: Int = 64 << 20
        /// The map never grows past this.
        public var mapSizeMaxBytes: Int = 1 << 40
        /// How many named databases the environment may hold.
        public var maxDatabases: Int = 128
        /// Open read-only: no write transaction is possible.
        public var readOnly: Bool = false
        /// Open without the lock file (`MDB_NOLOCK`); only to inspect a directory without modifying it.
        public var noLock: Bool = false
        /// `path` names the data file itself, not a directory (`MDB_NOSUBDIR`): a backup's copy is checked
        /// this way before it is moved into a store's folder.
        public var noSubdirectory: Bool = false
        /// Flush to disk at every commit. Only scratch environments, thrown away after use (an audit's
        /// rebuilt projections, a time-travel query's state), turn it off (`MDB_NOSYNC`): a crash loses
        /// nothing there that is not rebuilt from the log.
        public var durable: Bool = true

        /// The defaults.
        public init() {}
    }

    let handle: OpaquePointer
    /// The directory.
    public let path: String
    let options: Options
    private let gate = TransactionGate()
    private let databaseLock = NSLock()
    private var databases: [String: Database] = [:]
    private let statisticsLock = NSLock()
    private var mapGrowthsCount = 0

    /// Opens (or, unless read-only, creates) the environment in the directory `path`, which must exist.
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        precondition(options.initialMapSizeBytes > 0 && options.initialMapSizeBytes <= options.mapSizeMaxBytes)
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(ENOMEM, "mdb_env_create") }
        do {
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_mapsize(env, options.initialMapSizeBytes), "mdb_env_set_mapsize")
            // MDB_NOTLS: "tie reader locktable slots to MDB_txn objects instead of to threads", so that a
            // read may begin on one thread and a nested read may begin on the same thread.
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if options.noLock { flags |= UInt32(MDB_NOLOCK) }
            if options.noSubdirectory { flags |= UInt32(MDB_NOSUBDIR) }
            if !options.durable { flags |= UInt32(MDB_NOSYNC) }
            // Owner only: a store holds residents' names, health and family circumstances. LMDB creates its
            // files with this mode less the umask, so they are never more open than 600.
            try check(mdb_env_open(env, path, flags, 0o600), "mdb_env_open(\(path))")
            if !options.noLock {
                // "Check for stale entries in the reader lock table": a killed process leaves its slot.
                var dead: Int32 = 0
                try check(mdb_reader_check(env, &dead), "mdb_reader_check")
            }
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        self.options = options
    }

    deinit {
        mdb_env_close(handle)
    }

    /// The current size of the memory map.
    public var mapSizeBytes: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// Drops this process's mapping of the store's pages from its resident set (`madvise(MADV_DONTNEED)`):
    /// a long replay reads every page of a store many times larger than memory, and each page read stays
    /// resident in the process until the kernel reclaims it. LMDB maps the file read-only and shared, so the
    /// pages stay in the page cache and the next access maps them again; nothing is lost. Call it only while
    /// this thread holds a transaction of the environment: the map cannot be resized (and its address
    /// range reused) meanwhile.
    public func releaseMappedPages() {
        for (address, length) in mappedRanges() { _ = madvise(address, length, MADV_DONTNEED) }
    }

    /// Where the store's file is mapped: LMDB does not say (mdb_env_info's me_mapaddr is only set for
    /// MDB_FIXEDMAP), so the kernel's list of this process's mappings does. Read once per map size, since
    /// the mapping moves only when the map is resized.
    private func mappedRanges() -> [(UnsafeMutableRawPointer, Int)] {
        let size = mapSizeBytes
        if let cached = statisticsLock.withLock({ mappingCache }), cached.mapSize == size { return cached.ranges }
        let file = (URL(fileURLWithPath: path).resolvingSymlinksInPath().path as NSString).appendingPathComponent("data.mdb")
        // Read to the end: String(contentsOfFile:) stops after the first page of a /proc file, and a
        // process with many libraries lists the store past it.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps") else { return [] }
        defer { try? handle.close() }
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var ranges: [(UnsafeMutableRawPointer, Int)] = []
        for line in maps.split(separator: "\n") where line.hasSuffix(file) {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1].hasSuffix("s") else { continue }  // shared mappings only
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16), end > start,
                let address = UnsafeMutableRawPointer(bitPattern: start)
            else { continue }
            ranges.append((address, Int(end - start)))
        }
        statisticsLock.withLock { mappingCache = (size, ranges) }
        return ranges
    }

    /// The size of `data.mdb` on disk: every page ever used, live or free.
    public var dataFileBytes: Int {
        let file = (path as NSString).appendingPathComponent("data.mdb")
        return ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// How many times this process grew the map.
    public var mapGrowths: Int { statisticsLock.withLock { mapGrowthsCount } }

    /// The environment's flags, as LMDB reports them (`mdb_env_get_flags`).
    public var flags: UInt32 {
        var value: UInt32 = 0
        mdb_env_get_flags(handle, &value)
        return value
    }

    /// LMDB's largest key size for this environment.
    public var maxKeySizeBytes: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// Opens a named database, creating it when `create` is true. Handles are cached: opening is cheap
    /// after the first time. LMDB requires that the transaction opening a handle finish before any other
    /// transaction opens one, so opening runs in its own transaction under a lock.
    public func database(named name: String, create: Bool) throws -> Database {
        precondition(!name.isEmpty && name.utf8.count <= 255, "database names are 1 to 255 bytes")
        return try databaseLock.withLock {
            if let cached = databases[name] { return cached }
            let creating = create && !options.readOnly
            var dbi: MDB_dbi = 0
            let txn = try beginTransaction(creating ? 0 : UInt32(MDB_RDONLY), "mdb_txn_begin(open \(name))")
            defer { gate.leave() }
            let rc = mdb_dbi_open(txn, name, creating ? UInt32(MDB_CREATE) : 0, &dbi)
            guard rc == 0 else {
                mdb_txn_abort(txn)
                throw LMDBError(rc, "mdb_dbi_open(\(name))")
            }
            // Committing (even a read-only transaction) keeps the handle open for the environment's life;
            // an abort would close it.
            try check(mdb_txn_commit(txn), "mdb_txn_commit(open \(name))")
            let database = Database(dbi: dbi, name: name)
            databases[name] = database
            return database
        }
    }

    /// Whether a named database exists.
    public func databaseExists(named name: String) throws -> Bool {
        do {
            _ = try database(named: name, create: false)
            return true
        } catch LMDBError.Code.notFound {
            return false
        }
    }

    /// Deletes a named database, if it exists, and forgets its handle.
    public func dropDatabase(named name: String) throws {
        guard try databaseExists(named: name) else { return }
        let database = try database(named: name, create: false)
        try databaseLock.withLock {
            try write { txn in try check(mdb_drop(txn.handle, database.dbi, 1), "mdb_drop(\(name))") }
            databases[name] = nil
        }
    }

    /// Runs `body` in a read-only transaction. Readers never block writers or each other. The closure is
    /// synchronous and the transaction borrowed: neither an `await` nor an escape can outlive it.
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        let txn = try beginTransaction(UInt32(MDB_RDONLY), "mdb_txn_begin(read)")
        defer { gate.leave() }
        return try Self.run(ReadTransaction(handle: txn), body)
    }

    /// Begins a transaction with the gate entered (the caller leaves it when the transaction has ended).
    /// Every begin goes through here, because any of them — a read, a write, opening a database's handle —
    /// can meet a map another process grew (`MDB_MAP_RESIZED`): it is adopted and the begin tried again.
    /// Opening handles missed it once, and a store check beside a writer failed with "no Linli meta
    /// database" (`OpenProbeTests`).
    private func beginTransaction(_ flags: UInt32, _ what: @autoclosure () -> String) throws -> OpaquePointer {
        while true {
            gate.enter()
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, flags, &txn)
            if rc == MDB_MAP_RESIZED {
                gate.leave()
                try adoptMapResizedByAnotherProcess()
                continue
            }
            guard rc == 0, let txn else {
                gate.leave()
                throw LMDBError(rc, what())
            }
            return txn
        }
    }

    /// Runs the body over a transaction that this function owns, so that the transaction has ended
    /// (aborted by its deinit) by the time the function returns or throws.
    private static func run<R>(_ transaction: consuming ReadTransaction, _ body: (borrowing ReadTransaction) throws -> R) rethrows -> R {
        try body(transaction)
    }

    /// Runs the body over a write transaction this function owns and commits it; when the body throws the
    /// transaction is aborted by its deinit before this function returns.
    private static func runAndCommit<R>(
        _ transaction: consuming WriteTransaction, _ body: (borrowing WriteTransaction) throws -> R,
        failingCommit: Bool
    ) throws -> R {
        let result = try body(transaction)
        if failingCommit { throw LMDBError(MDB_MAP_FULL, "mdb_txn_commit (simulated)") }
        try transaction.commit()
        return result
    }

    #if LINLI_FAULT_INJECTION
        /// For tests (debug builds only, Package.swift's LINLI_FAULT_INJECTION): the next write's commit
        /// reports MDB_MAP_FULL, as LMDB's commit can when saving the free list needs pages, after the whole
        /// body ran — the case a body with outside effects gets wrong.
        var failNextCommitWithMapFull: Bool {
            get { statisticsLock.withLock { failNextCommit } }
            set { statisticsLock.withLock { failNextCommit = newValue } }
        }
        private var failNextCommit = false

        /// Whether this write's commit is to fail (and the next one not).
        private func takeFailingCommit() -> Bool {
            statisticsLock.withLock { () -> Bool in
                defer { failNextCommit = false }; return failNextCommit
            }
        }
    #else
        /// Release builds hold no fault-injection hook: no commit is ever made to fail.
        @inline(__always) private func takeFailingCommit() -> Bool { false }
    #endif
    private var mappingCache: (mapSize: Int, ranges: [(UnsafeMutableRawPointer, Int)])?

    /// Runs `body` in the one write transaction, commits when it returns and aborts when it throws.
    ///
    /// When the map is full the transaction is aborted, the map grows, and `body` runs again from the
    /// start: it must not have effects outside the transaction that cannot be repeated.
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        precondition(!options.readOnly, "write transaction on a read-only environment")
        var growthsThisWrite = 0
        while true {
            let txn = try beginTransaction(0, "mdb_txn_begin(write)")
            do {
                let result = try Self.runAndCommit(WriteTransaction(handle: txn), body, failingCommit: takeFailingCommit())
                gate.leave()
                return result
            } catch LMDBError.Code.mapFull {
                // The transaction is gone: aborted by its deinit, or freed by the failed commit.
                gate.leave()
                growthsThisWrite += 1
                guard growthsThisWrite <= 40 else { throw LMDBError(MDB_MAP_FULL, "grow map") }
                try growMap()
            } catch {
                gate.leave()
                throw error
            }
        }
    }

    /// Doubles the map once every other transaction of this process has ended. LMDB: "This function may
    /// only be called if no transactions are active in the current process."
    private func growMap() throws {
        try gate.exclusively { () throws(LMDBError) in
            let current = mapSizeBytes
            guard current < options.mapSizeMaxBytes else { throw LMDBError(MDB_MAP_FULL, "grow map past \(options.mapSizeMaxBytes) bytes") }
            let next = min(current * 2, options.mapSizeMaxBytes)
            try check(mdb_env_set_mapsize(handle, next), "mdb_env_set_mapsize(\(next))")
            statisticsLock.withLock { mapGrowthsCount += 1 }
        }
    }

    /// Another process grew the map: "call mdb_env_set_mapsize() with a size of zero to adopt the new size".
    private func adoptMapResizedByAnotherProcess() throws {
        try gate.exclusively { () throws(LMDBError) in
            try check(mdb_env_set_mapsize(handle, 0), "mdb_env_set_mapsize(0)")
        }
    }

    /// Flushes the data to disk (`mdb_env_sync` with force).
    public func sync() throws {
        try check(mdb_env_sync(handle, 1), "mdb_env_sync")
    }

    /// Writes a consistent copy of the data file to the open file `descriptor` (`mdb_env_copyfd2`), from a
    /// read snapshot of its own: writers go on meanwhile. `compact` leaves free pages out; LMDB refuses to
    /// compact an environment whose free list does not add up, and a plain copy still works there.
    /// The descriptor is neither synced nor closed here.
    public func copy(toFileDescriptor descriptor: Int32, compact: Bool) throws(LMDBError) {
        while true {
            gate.enter()
            // The copy begins its own read transaction first, before writing anything: a map grown by
            // another process is adopted and the copy begun again, as any begin is.
            let rc = mdb_env_copyfd2(handle, descriptor, compact ? UInt32(MDB_CP_COMPACT) : 0)
            gate.leave()
            if rc == MDB_MAP_RESIZED {
                do { try adoptMapResizedByAnotherProcess() } catch let error as LMDBError { throw error } catch { throw LMDBError(EIO, "adopt the map's size") }
                continue
            }
            try check(rc, compact ? "mdb_env_copyfd2(compact)" : "mdb_env_copyfd2")
            return
        }
    }

    /// The bytes of the map in use: the last page LMDB has used, times the page size.
    public var usedBytes: Int {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(handle, &info)
        mdb_env_stat(handle, &stat)
        return (info.me_last_pgno + 1) * Int(stat.ms_psize)
    }
}

/// Counts this process's open transactions so that the map is only resized when none is open, and says
/// so instead of deadlocking when the thread that must resize holds one itself.
final class TransactionGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var active = 0
    private var resizing = false
    /// This thread's open transactions of *this* environment: a thread that reads one store while it
    /// writes another (an audit replaying into scratch databases) may still grow the other's map.
    private let depthKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key left")
        return key
    }()

    deinit { pthread_key_delete(depthKey) }

    private var threadDepth: Int {
        get { Int(bitPattern: pthread_getspecific(depthKey)) }
        set { pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: newValue)) }
    }

    func enter() {
        condition.lock()
        while resizing { condition.wait() }
        active += 1
        condition.unlock()
        threadDepth += 1
    }

    func leave() {
        threadDepth -= 1
        condition.lock()
        active -= 1
        assert(active >= 0, "transaction count below zero")
        if active == 0 { condition.broadcast() }
        condition.unlock()
    }

    func exclusively(_ body: () throws(LMDBError) -> Void) throws {
        guard threadDepth == 0 else {
            throw LMDBError(EDEADLK, "grow map while this thread holds another transaction of the environment")
        }
        condition.lock()
        defer { condition.unlock() }
        while resizing { condition.wait() }
        resizing = true
        defer {
            resizing = false
            condition.broadcast()
        }
        while active > 0 { condition.wait() }
        try body()
    }
}
