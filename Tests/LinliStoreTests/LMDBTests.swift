import CLMDB
import Foundation
@testable import LinliStore
import Testing

/// The traps other Swift wrappers of LMDB fell into, each covered.
@Suite("The LMDB layer")
struct LMDBTests {
    @Test("LMDB errors are typed and carry mdb_strerror's text")
    func typedErrors() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.database(named: "t", create: true)
        let error = #expect(throws: LMDBError.self) {
            try env.write { try $0.put(db, key: [UInt8](repeating: 1, count: 600), value: [1]) }
        }
        #expect(error?.code == .badValueSize)
        #expect(error?.message == String(cString: mdb_strerror(MDB_BAD_VALSIZE)))
        #expect(error?.description.contains("mdb_put(t)") == true)
        #expect(throws: LMDBError.self) { try env.database(named: "absent", create: false) }
        #expect(try env.databaseExists(named: "absent") == false)
    }

    @Test("MDB_APPEND with a key out of order is a typed keyExist error, and the write is rolled back")
    func appendOutOfOrder() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.database(named: "t", create: true)
        try env.write { txn in
            try txn.put(db, key: bigEndianKey(5), value: [5], flags: .append)
            try txn.put(db, key: bigEndianKey(6), value: [6], flags: .append)
        }
        var caught = false
        do {
            try env.write { txn in
                try txn.put(db, key: bigEndianKey(7), value: [7], flags: .append)
                try txn.put(db, key: bigEndianKey(3), value: [3], flags: .append)
            }
        } catch LMDBError.Code.keyExist {
            caught = true
        }
        #expect(caught)
        #expect(try env.read { try $0.count(db) } == 2, "the failed write left nothing")
    }

    @Test("reader slots are not tied to threads: MDB_NOTLS, nested reads, and many concurrent tasks")
    func readersNotTiedToThreads() async throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        #expect(env.flags & UInt32(MDB_NOTLS) != 0)
        let db = try env.database(named: "t", create: true)
        try env.write { try $0.put(db, key: [1], value: [42]) }
        // Without MDB_NOTLS a second read on the same thread fails with MDB_BAD_RSLOT.
        let nested = try env.read { outer in
            try env.read { inner in try inner.value(in: db, key: [1]) } == (try outer.value(in: db, key: [1]))
        }
        #expect(nested)
        let values = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            for _ in 0..<300 {
                group.addTask {
                    try env.read { txn in
                        try env.read { try $0.value(in: db, key: [1]) } ?? (try txn.value(in: db, key: [1]))
                    }
                }
            }
            var all: [[UInt8]?] = []
            for try await value in group { all.append(value) }
            return all
        }
        #expect(values.count == 300 && values.allSatisfy { $0 == [42] })
    }

    @Test("a value read in a transaction stays valid after it ends and its page is overwritten")
    func valuesAreCopies() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.database(named: "t", create: true)
        try env.write { try $0.put(db, key: [1], value: [UInt8](repeating: 0xAA, count: 3000)) }
        let kept = try env.read { try $0.value(in: db, key: [1]) }
        for round in 0..<50 {
            try env.write { txn in
                try txn.put(db, key: [1], value: [UInt8](repeating: UInt8(round), count: 3000))
                _ = try txn.delete(db, key: [1])
                try txn.put(db, key: [2], value: [UInt8](repeating: 0x55, count: 3000))
            }
        }
        #expect(kept == [UInt8](repeating: 0xAA, count: 3000))
    }

    @Test("the map grows by itself, past its initial size, while other threads read")
    func mapGrowth() throws {
        let dir = TemporaryDirectory()
        var options = Environment.Options()
        options.initialMapSizeBytes = 256 << 10
        let env = try Environment(path: dir.path, options: options)
        let db = try env.database(named: "t", create: true)
        let stop = ManagedAtomicFlag()
        let reader = Thread {
            while !stop.isSet {
                _ = try? env.read { txn in try txn.count(db) }
            }
        }
        reader.start()
        let value = [UInt8](repeating: 0x5A, count: 4000)
        for batch in 0..<40 {
            try env.write { txn in
                for index in 0..<100 { try txn.put(db, key: bigEndianKey(UInt64(batch * 100 + index)), value: value) }
            }
        }
        // One write far larger than the map at the time.
        try env.write { txn in
            for index in 0..<2000 { try txn.put(db, key: bigEndianKey(UInt64(10_000 + index)), value: value) }
        }
        stop.set()
        #expect(env.mapGrowths >= 5)
        #expect(env.mapSizeBytes >= 16 << 20)
        #expect(try env.read { try $0.count(db) } == 6000)
        #expect(try env.read { try $0.value(in: db, key: bigEndianKey(11_999)) } == value)
    }

    @Test("random reads under a MappedPagesBudget stay within it; the same reads without one do not (fault-around)")
    func mappedPagesBudget() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.database(named: "t", create: true)
        // 48,000 rows of 1,500 bytes (about 80 MB of leaves), written in a scrambled order so that
        // neighbouring keys lie on pages far apart, as projection rows do.
        let rows = 48_000
        let order = (0..<rows).map { ($0 &* 7_919) % rows }
        try env.write { txn in
            for index in order { try txn.put(db, key: bigEndianKey(UInt64(index)), value: [UInt8](repeating: UInt8(index & 0xFF), count: 1_500)) }
        }
        // This store's own resident pages, from /proc/self/smaps: other tests run in the same process.
        func residentOfThisStore() throws -> Int {
            // Read to the end: String(contentsOfFile:) stops after the first page of a /proc file.
            let smaps = String(decoding: try #require(FileHandle(forReadingAtPath: "/proc/self/smaps")).readDataToEndOfFile(), as: UTF8.self)
            var inStore = false, total = 0
            for line in smaps.split(separator: "\n") {
                if let first = line.first, first.isHexDigit, line.contains("-") && line.split(separator: " ").count >= 5 {
                    inStore = line.hasSuffix(dir.path + "/data.mdb")
                } else if inStore, line.hasPrefix("Rss:") {
                    total += Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])! << 10
                }
            }
            return total
        }
        func readAll(_ budget: inout MappedPagesBudget?) throws -> (peak: Int, sum: Int) {
            try env.read { txn in
                env.releaseMappedPages()
                var peak = 0, sum = 0
                for (step, index) in order.reversed().enumerated() {
                    sum += Int(try #require(try txn.value(in: db, key: bigEndianKey(UInt64(index))))[0])
                    budget?.step(env)
                    if step % 1_024 == 0 { peak = max(peak, try residentOfThisStore()) }
                }
                return (peak, sum)
            }
        }
        var none: MappedPagesBudget? = nil
        let unbounded = try readAll(&none)
        // A budget of 4 MB over what the process holds once the store's pages are released: the store may
        // add little before they are released again.
        // The budget measures the whole process, and other suites run beside this one: one that releases its
        // own store's pages while this budget's baseline counts them lets this store grow by as much. Such a
        // coincidence is rare; a budget that does not work fails every attempt.
        var bounded = (peak: Int.max, sum: 0)
        var budget: MappedPagesBudget?
        for _ in 0..<3 where bounded.peak >= 28 << 20 {
            try env.read { _ in env.releaseMappedPages() }
            budget = MappedPagesBudget(budgetBytes: 4 << 20)
            bounded = try readAll(&budget)
        }
        #expect(bounded.sum == unbounded.sum)
        #expect(unbounded.peak > 56 << 20, "without a budget the reads kept \(unbounded.peak >> 20) MB of the store resident")
        #expect(bounded.peak < 28 << 20, "with a budget they kept \(bounded.peak >> 20) MB")
        #expect((budget?.releases ?? 0) > 0)
    }

    @Test("the budget's measure, read again from one open /proc/self/statm, is the file's third field now, and follows the maps as they grow")
    func residentFileBytesFollows() throws {
        func fresh() throws -> Int {
            let text = String(decoding: try #require(FileHandle(forReadingAtPath: "/proc/self/statm")).readDataToEndOfFile(), as: UTF8.self)
            return try #require(Int(text.split(separator: " ")[2])) * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
        // The measure is the whole process's, and other suites map and release pages beside this one: a
        // measure that works agrees within a few attempts, one that does not fails every attempt.
        var agreed = false
        for _ in 0..<3 where !agreed {
            let before = try #require(MappedPagesBudget.residentFileBytes()), read = try fresh()
            agreed = abs(before - read) < 4 << 20
        }
        #expect(agreed, "the measure and the file's third field differ")
        // 32 MB of a file mapped and read: the measure, read again, grows by most of it.
        let dir = TemporaryDirectory()
        let path = dir.sub("pages")
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 32 << 20))
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var grew: [Int] = []
        for _ in 0..<3 where grew.last.map({ $0 <= 24 << 20 }) ?? true {
            let map = try #require(mmap(nil, 32 << 20, PROT_READ, MAP_SHARED, fd, 0))
            defer { munmap(map, 32 << 20) }
            let before = try #require(MappedPagesBudget.residentFileBytes())
            var sum = 0
            for offset in stride(from: 0, to: 32 << 20, by: 4_096) { sum += Int(map.load(fromByteOffset: offset, as: UInt8.self)) }
            #expect(sum == 8_192)
            grew.append(try #require(MappedPagesBudget.residentFileBytes()) - before)
        }
        #expect(grew.last! > 24 << 20, "grew by \(grew)")
    }

    @Test("pages read from the map leave the process's resident set when released, and read back the same")
    func releasedPages() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.database(named: "t", create: true)
        let value = [UInt8](repeating: 7, count: 3_000)
        try env.write { txn in for index in 0..<20_000 { try txn.put(db, key: bigEndianKey(UInt64(index)), value: value) } }
        func residentFileKB() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssFile:") })
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])!
        }
        try env.read { txn in
            var sum = 0
            try txn.walk(db) { _, bytes in
                sum += Int(bytes[0]); return true
            }
            #expect(sum == 7 * 20_000)
            let before = try residentFileKB()
            env.releaseMappedPages()
            let after = try residentFileKB()
            #expect(before - after > 40_000, "about 60 MB of pages read: \(before) kB resident before, \(after) kB after")
            var again = 0
            try txn.walk(db) { _, bytes in
                again += Int(bytes[0]); return true
            }
            #expect(again == sum)
        }
    }

    @Test("a thread reading one environment may grow another's map (an audit replaying into scratch databases)")
    func growthWhileReadingAnotherEnvironment() throws {
        let dir = TemporaryDirectory()
        var options = Environment.Options()
        options.initialMapSizeBytes = 64 << 10
        for name in ["a", "b"] { try FileManager.default.createDirectory(atPath: dir.sub(name), withIntermediateDirectories: true) }
        let source = try Environment(path: dir.sub("a"), options: options)
        let scratch = try Environment(path: dir.sub("b"), options: options)
        let db = try scratch.database(named: "t", create: true)
        try source.read { _ in
            try scratch.write { txn in
                for index in 0..<200 { try txn.put(db, key: bigEndianKey(UInt64(index)), value: [UInt8](repeating: 1, count: 4000)) }
            }
        }
        #expect(scratch.mapGrowths >= 1)
        #expect(try scratch.read { try $0.count(db) } == 200)
    }

    @Test("growing the map while this thread holds another transaction is an error, not a deadlock")
    func growthUnderOwnReader() throws {
        let dir = TemporaryDirectory()
        var options = Environment.Options()
        options.initialMapSizeBytes = 64 << 10
        let env = try Environment(path: dir.path, options: options)
        let db = try env.database(named: "t", create: true)
        let error = #expect(throws: LMDBError.self) {
            try env.read { _ in
                try env.write { txn in
                    for index in 0..<200 { try txn.put(db, key: bigEndianKey(UInt64(index)), value: [UInt8](repeating: 1, count: 4000)) }
                }
            }
        }
        #expect(error?.code == LMDBError.Code(rawValue: EDEADLK))
        // Once the read has ended the same write succeeds.
        try env.write { txn in
            for index in 0..<200 { try txn.put(db, key: bigEndianKey(UInt64(index)), value: [UInt8](repeating: 1, count: 4000)) }
        }
        #expect(try env.read { try $0.count(db) } == 200)
    }

    @Test("a failed commit is not followed by an abort (LMDB frees the handle itself)")
    func failedCommitIsNotAborted() throws {
        let dir = TemporaryDirectory()
        var options = Environment.Options()
        options.initialMapSizeBytes = 64 << 10
        options.mapSizeMaxBytes = 64 << 10
        let env = try Environment(path: dir.path, options: options)
        let db = try env.database(named: "t", create: true)
        // The body swallows MDB_MAP_FULL, so the transaction is in LMDB's error state and its commit fails
        // (MDB_BAD_TXN). An abort after that would be a double free and crash this process.
        let error = #expect(throws: LMDBError.self) {
            try env.write { txn in
                for index in 0..<200 {
                    do { try txn.put(db, key: bigEndianKey(UInt64(index)), value: [UInt8](repeating: 1, count: 4000)) } catch { break }
                }
            }
        }
        #expect(error?.operation == "mdb_txn_commit")
        // The environment is still usable.
        try env.write { try $0.put(db, key: [1], value: [1]) }
        #expect(try env.read { try $0.value(in: db, key: [1]) } == [1])
    }

    @Test("a transaction cannot be held across an await or escape its closure: the compiler refuses")
    func transactionsCannotCrossAwait() throws {
        let modules = productsDirectory().appendingPathComponent("Modules").path
        let clmdb = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/CLMDB").standardizedFileURL.path
        guard let swiftc = ["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("no swiftc found")
            return
        }
        let dir = TemporaryDirectory()
        func typecheck(_ body: String) throws -> (Int32, String) {
            let file = dir.sub("snippet-\(UUID().uuidString).swift")
            try ("import LinliStore\n" + body).write(toFile: file, atomically: true, encoding: .utf8)
            let result = try run(URL(fileURLWithPath: swiftc), ["-typecheck", "-I", modules, "-I", clmdb, file])
            return (result.status, result.err)
        }
        // The control: the harness compiles correct code, so the refusals below mean something.
        let control = try typecheck(
            "func f(_ env: Environment) async throws { let n = try env.read { try $0.count(try env.database(named: \"t\", create: false)) }; await Task.yield(); _ = n }"
        )
        #expect(control.0 == 0, "control snippet: \(control.1)")
        let crossing = try typecheck("func f(_ env: Environment) async throws { try env.read { txn in await Task.yield() } }")
        #expect(crossing.0 != 0 && crossing.1.contains("await"), "\(crossing.1)")
        let escape = try typecheck("func f(_ env: Environment) throws { var kept: ReadTransaction? = nil; try env.read { txn in kept = txn }; _ = kept }")
        #expect(escape.0 != 0 && (escape.1.contains("consume") || escape.1.contains("copy") || escape.1.contains("borrow")), "\(escape.1)")
        let commit = try typecheck("func f(_ env: Environment) throws { try env.write { txn in try txn.commit() } }")
        #expect(commit.0 != 0, "a caller cannot commit the transaction it was lent: \(commit.1)")
    }
}

/// A flag one thread sets and another polls.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
