import Foundation
import LinliStore
import Testing

@Suite("The event log")
struct EventLogTests {
    @Test("events round-trip with every field, forward, backward and by stream")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        let results = try log.append([command("c-1", stream: "resident:r-1", count: 2), command("c-2", stream: "resident:r-2")])
        #expect(
            results == [
                AppendResult(firstPosition: 1, lastPosition: 2, duplicate: false),
                AppendResult(firstPosition: 3, lastPosition: 3, duplicate: false),
            ])
        let all = try log.events()
        #expect(all.map(\.position) == [1, 2, 3])
        #expect(all.map(\.streamVersion) == [1, 2, 1])
        #expect(all.map(\.previousPositionInStream) == [0, 1, 0])
        #expect(all[0].stream == "resident:r-1" && all[0].type == "test.happened" && all[0].actor == "tester")
        #expect(all[0].commandId == "c-1" && all[2].commandId == "c-2")
        #expect(all[0].occurredAt.iso8601 == "2024-03-01T09:30:00+08:00")
        #expect(all[0].recordedAt == fixedClock())
        #expect(all[0].payload == Array("payload".utf8))
        #expect(all[0].previousHash == .genesis)
        #expect(all[1].previousHash == all[0].hash && all[2].previousHash == all[1].hash)
        #expect(try log.head == LogHead(position: 3, hash: all[2].hash))
        #expect(try log.events(from: 3, reverse: true).map(\.position) == [3, 2, 1])
        #expect(try log.events(from: 2, limit: 1).map(\.position) == [2])
        #expect(try log.events(inStream: "resident:r-1").map(\.position) == [1, 2])
        #expect(try log.events(inStream: "resident:r-1", fromVersion: 2).map(\.position) == [2])
        #expect(try log.events(inStream: "resident:r").isEmpty, "a prefix of a stream id is another stream")
        #expect(try log.verifyChain().ok)
        // Reopened, the same bytes come back.
        let reopened = try EventLog.open(at: dir.sub("store"), options: logOptions())
        #expect(try reopened.events() == all)
    }

    @Test("streams interleaved over many writes read back in order, from any version")
    func interleavedStreams() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        var expected: [String: [UInt64]] = [:]
        var rng = SplitMix64(state: 11)
        for index in 0..<120 {
            let stream = "elder:e-\(rng.next() % 5)"
            let result = try log.append(command("c-\(index)", stream: stream, count: 1 + Int(rng.next() % 3)))
            expected[stream, default: []] += Array(result.firstPosition...result.lastPosition)
        }
        for (stream, positions) in expected {
            #expect(try log.events(inStream: stream).map(\.position) == positions)
            #expect(try log.events(inStream: stream, fromVersion: 4).map(\.position) == Array(positions.dropFirst(3)))
            #expect(try log.read { try $0.streamVersion(stream) } == UInt64(positions.count))
        }
        #expect(try log.events(inStream: "elder:none").isEmpty)
    }

    @Test("a version conflict names the stream and both versions, and writes nothing")
    func conflict() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        _ = try log.append(command("c-1", stream: "wish:w-1", count: 2, expected: .noStream))
        #expect(throws: LogError.versionConflict(stream: "wish:w-1", expected: .exactly(1), actual: 2)) {
            try log.append(command("c-2", stream: "wish:w-1", expected: .exactly(1)))
        }
        #expect(throws: LogError.versionConflict(stream: "wish:w-1", expected: .noStream, actual: 2)) {
            try log.append(command("c-3", stream: "wish:w-1", expected: .noStream))
        }
        // A batch whose second command conflicts leaves nothing of its first command either.
        #expect(throws: LogError.self) {
            try log.append([command("c-4", stream: "other"), command("c-5", stream: "wish:w-1", expected: .exactly(7))])
        }
        #expect(try log.head.position == 2)
        #expect(try log.read { try $0.commandRecord("c-4") } == nil)
        #expect(try log.append(command("c-6", stream: "wish:w-1", expected: .exactly(2))).firstPosition == 3)
    }

    @Test("a command id is idempotent with the same bytes, durably, and refused with other bytes")
    func idempotency() throws {
        let dir = TemporaryDirectory()
        let first: AppendResult
        do {
            let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
            first = try log.append(command("c-1", count: 3))
            #expect(try log.append(command("c-1", count: 3)) == AppendResult(firstPosition: 1, lastPosition: 3, duplicate: true))
        }
        // After a restart the index is still there: it lives in LMDB, not in memory.
        let log = try EventLog.open(at: dir.sub("store"), options: logOptions())
        let again = try log.append(command("c-1", count: 3))
        #expect(again.duplicate && again.firstPosition == first.firstPosition && again.lastPosition == first.lastPosition)
        #expect(throws: LogError.commandIdReused(commandId: "c-1", firstPosition: 1)) {
            try log.append(command("c-1", count: 2))
        }
        // Twice in one batch: the second is the duplicate of the first.
        let batch = try log.append([command("c-2"), command("c-2")])
        #expect(batch[0].duplicate == false && batch[1].duplicate && batch[1].firstPosition == batch[0].firstPosition)
        #expect(try log.head.position == 4)
    }

    @Test("limits: payload, stream id, names, events per command")
    func limits() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        let big = [UInt8](repeating: 7, count: LogLimits.payloadBytesMax)
        #expect(try log.append(command("ok-payload", payload: big)).firstPosition == 1, "the largest payload is accepted")
        #expect(try log.event(at: 1)?.payload == big)
        #expect(throws: LogError.invalid(field: "payload", reason: "is \(LogLimits.payloadBytesMax + 1) bytes; the limit is \(LogLimits.payloadBytesMax)")) {
            try log.append(command("big", payload: big + [1]))
        }
        let longest = String(repeating: "流", count: LogLimits.streamBytesMax / 3)
        #expect(try log.append(command("ok-stream", stream: longest)).duplicate == false)
        #expect(throws: LogError.self) { try log.append(command("long", stream: longest + "abc")) }
        #expect(throws: LogError.invalid(field: "stream", reason: "must be non-empty and hold no NUL byte")) {
            try log.append(command("nul", stream: "a\u{0}b"))
        }
        #expect(throws: LogError.invalid(field: "commandId", reason: "is empty")) { try log.append(command("")) }
        #expect(throws: LogError.self) { try log.append(command(String(repeating: "x", count: LogLimits.nameBytesMax + 1))) }
        #expect(try log.append(command("most", count: LogLimits.commandEventsMax)).lastPosition == 2 + UInt64(LogLimits.commandEventsMax))
        #expect(throws: LogError.self) { try log.append(command("too-many", count: LogLimits.commandEventsMax + 1)) }
        #expect(try log.head.position == 2 + UInt64(LogLimits.commandEventsMax))
        #expect(try log.verifyChain().ok)
    }

    @Test("an AsyncSequence delivers newly appended events in order")
    func subscription() async throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        _ = try log.append(command("before"))
        let stream = log.newEvents()
        _ = try log.append([command("a", count: 2), command("b")])
        var positions: [UInt64] = []
        for try await event in stream {
            positions.append(event.position)
            if positions.count == 3 { break }
        }
        #expect(positions == [2, 3, 4])
    }

    /// Without the ordering (issue 18 item 9) this failed about one run in two.
    @Test("two writer threads: every subscriber sees every event once, in position order")
    func subscriptionOrderAcrossThreads() async throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        let stream = log.newEvents()
        // Many more subscribers make each delivery take longer than the other thread's next commit: without
        // the ordering, that commit's events reach the subscribers first.
        let others = (0..<1_000).map { _ in log.newEvents() }
        let perThread = 200
        // Two threads append one command each time, as fast as they can: their commits interleave.
        let done = DispatchGroup()
        for thread in 0..<2 {
            done.enter()
            Thread.detachNewThread {
                for n in 0..<perThread { _ = try! log.append(command("t\(thread)-\(n)")) }
                done.leave()
            }
        }
        var positions: [UInt64] = []
        for try await event in stream {
            positions.append(event.position)
            if positions.count == 2 * perThread { break }
        }
        done.wait()
        withExtendedLifetime(others) {}
        #expect(
            positions == Array(1...UInt64(2 * perThread)),
            "first out of order: \(zip(positions, positions.dropFirst()).first { $0.0 >= $0.1 }.map { "\($0)" } ?? "none")")
    }

    @Test("a consumer that falls further behind than its buffer gets what was buffered, then an error saying where to read on")
    func slowSubscriber() async throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        let stream = log.newEvents(bufferEvents: 10)
        for n in 0..<25 { _ = try log.append(command("c-\(n)")) }
        var positions: [UInt64] = []
        do {
            for try await event in stream { positions.append(event.position) }
            Issue.record("the stream ended without an error")
        } catch let error as LogError {
            #expect(error == .subscriberBehind(lastDelivered: 10, bufferEvents: 10))
            #expect(error.description.contains("events(from: 11)"))
        }
        #expect(positions == Array(1...10))
        // The writer never waited, and the log holds everything.
        #expect(try log.head.position == 25)
    }

    @Test("the store path: a regular file, another program's LMDB, a missing store, an existing store")
    func storePaths() throws {
        let dir = TemporaryDirectory()
        let file = dir.sub("file")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: LogError.notAStore(path: file, reason: "it is a regular file")) { try EventLog.open(at: file) }
        #expect(throws: LogError.notAStore(path: file, reason: "it is a regular file")) { try EventLog.create(at: file) }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "hello")

        // Another program's LMDB environment: refused, and not modified.
        let foreign = dir.sub("foreign")
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        do {
            let env = try Environment(path: foreign)
            let db = try env.database(named: "accounts", create: true)
            try env.write { try $0.put(db, key: Array("k".utf8), value: Array("v".utf8)) }
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: foreign + "/data.mdb"))
        #expect(throws: LogError.notAStore(path: foreign, reason: "an LMDB environment of another program (no Linli meta database)")) {
            try EventLog.open(at: foreign)
        }
        #expect(throws: LogError.self) { try EventLog.create(at: foreign) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign + "/data.mdb")) == before)

        // Garbage in data.mdb.
        let garbage = dir.sub("garbage")
        try FileManager.default.createDirectory(atPath: garbage, withIntermediateDirectories: true)
        try Data(repeating: 0xAB, count: 8192).write(to: URL(fileURLWithPath: garbage + "/data.mdb"))
        #expect(throws: LogError.self) { try EventLog.open(at: garbage) }
        #expect(!FileManager.default.fileExists(atPath: garbage + "/lock.mdb"), "the probe creates no lock file")

        #expect(throws: LogError.storeMissing(path: dir.sub("nothing"))) { try EventLog.open(at: dir.sub("nothing")) }
        _ = try EventLog.create(at: dir.sub("store"))
        #expect(throws: LogError.storeExists(path: dir.sub("store"))) { try EventLog.create(at: dir.sub("store")) }
    }
}
