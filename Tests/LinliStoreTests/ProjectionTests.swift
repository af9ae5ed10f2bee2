import CLMDB
import Foundation
@testable import LinliStore
import Testing

/// Reads every key and value of a projection's databases: the state to compare with a rebuild.
func dump(_ log: EventLog, _ name: String) throws -> [String: [[UInt8]: [UInt8]]] {
    try log.read { reader in
        var out: [String: [[UInt8]: [UInt8]]] = [:]
        for (databaseName, database) in reader.databases(of: name).all {
            var rows: [[UInt8]: [UInt8]] = [:]
            try reader.withTransaction { txn in
                try txn.walk(database) { key, value in
                    rows[Array(key)] = Array(value); return true
                }
            }
            out[databaseName] = rows
        }
        return out
    }
}

/// Counts events per stream from the log itself, the reference for the projection.
func recount(_ log: EventLog) throws -> [String: UInt64] {
    var counts: [String: UInt64] = [:]
    for event in try log.events() { counts[event.stream, default: 0] += 1 }
    return counts
}

/// A projection whose version a test can change.
final class VersionedCounts: Projection, @unchecked Sendable {
    let name = "versioned"
    let version: UInt32
    let databaseNames = ["total"]
    init(version: UInt32) { self.version = version }
    func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws {
        let current = try transaction.value(in: databases["total"], key: [1]).flatMap { $0.withUnsafeBytes { bigEndianValue($0) } } ?? 0
        // Version 2 counts twice per event: a change of meaning that a rebuild must pick up.
        try transaction.put(databases["total"], key: [1], value: bigEndianKey(current + UInt64(version)))
    }
}

@Suite("Projections")
struct ProjectionTests {
    @Test("projections update in the append's transaction and equal a full rebuild")
    func liveEqualsRebuild() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions([EventCountsProjection()]))
        var rng = SplitMix64(state: 7)
        for batch in 0..<20 {
            _ = try log.append((0..<10).map { index in command("c-\(batch)-\(index)", stream: "s-\(rng.next() % 13)", count: 1 + Int(rng.next() % 3)) })
        }
        let live = try dump(log, "event-counts")
        #expect(try log.read { try EventCountsProjection.streamCounts($0) } == recount(log))
        #expect(try log.read { try $0.checkpoints()["event-counts"]?.position } == 0, "the rows are in memory until a checkpoint")
        try log.checkpoint()
        #expect(try log.read { try $0.checkpoints()["event-counts"]?.position } == log.head.position)
        #expect(try dump(log, "event-counts") == live, "the checkpoint wrote what memory held")
        let generationBefore = try log.read { $0.databases(of: "event-counts").generation }
        try log.rebuildProjections()
        #expect(try log.read { $0.databases(of: "event-counts").generation } == generationBefore + 1)
        #expect(try dump(log, "event-counts") == live)
        let old = try log.environment.database(
            named: ProjectionDatabases.lmdbName(
                projection: "event-counts", database: "by-stream",
                parity: Int(generationBefore % 2)), create: false)
        #expect(try log.environment.read { try $0.count(old) } == 0, "the old generation's set is emptied")
        // Appends after the swap land in the new generation.
        _ = try log.append(command("after", stream: "s-new"))
        #expect(try log.read { try EventCountsProjection.streamCounts($0) }["s-new"] == 1)
    }

    @Test("a projection behind the log catches up on open; a new version rebuilds")
    func catchUpAndVersion() throws {
        let dir = TemporaryDirectory()
        do {
            let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
            _ = try log.append((0..<30).map { command("c-\($0)", stream: "s-\($0 % 4)") })
        }
        do {
            // Registered late: it starts from position 1.
            let log = try EventLog.open(at: dir.sub("store"), options: logOptions([EventCountsProjection(), VersionedCounts(version: 1)]))
            #expect(try log.read { try EventCountsProjection.streamCounts($0) } == recount(log))
            #expect(try dump(log, "versioned")["total"]?[[1]] == bigEndianKey(30))
        }
        do {
            // Opened without the projections: they fall behind.
            let log = try EventLog.open(at: dir.sub("store"), options: logOptions())
            _ = try log.append((30..<45).map { command("c-\($0)", stream: "s-\($0 % 4)") })
        }
        let log = try EventLog.open(at: dir.sub("store"), options: logOptions([EventCountsProjection(), VersionedCounts(version: 2)]))
        #expect(try log.read { try EventCountsProjection.streamCounts($0) } == recount(log))
        #expect(try dump(log, "versioned")["total"]?[[1]] == bigEndianKey(90), "version 2 was rebuilt from position 1")
        #expect(try log.read { try $0.checkpoints() }["event-counts"]?.position == 30, "the tail after 30 is folded in memory")
        try log.checkpoint()
        #expect(try log.read { try $0.checkpoints() }.values.allSatisfy { $0.position == 45 })
    }

    @Test("a projection that throws rolls back the whole append")
    func failingProjection() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions([RefusesBadStream(), EventCountsProjection()]))
        _ = try log.append(command("ok", stream: "good"))
        #expect(throws: LogError.self) { try log.append([command("a", stream: "fine"), command("b", stream: "bad")]) }
        #expect(try log.head.position == 1)
        #expect(try log.read { try EventCountsProjection.streamCounts($0) } == ["good": 1])
        #expect(try log.verifyChain().ok)
    }
}

/// A projection that refuses any event of the stream "bad" and marks every other stream it sees.
final class RefusesBadStream: Projection, @unchecked Sendable {
    let name = "refuses"
    let version: UInt32 = 1
    let databaseNames = ["x"]
    func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws {
        if event.stream == "bad" { throw LogError.invalid(field: "stream", reason: "refused by projection") }
        try transaction.put(databases["x"], key: Array(event.stream.utf8), value: [1])
    }
}

/// A projection that writes a kilobyte per event, and, when armed, reports LMDB's map full once at a given
/// position — as a real MDB_MAP_FULL does — so that the write transaction is aborted and run again.
final class FatRows: Projection, @unchecked Sendable {
    let name = "fat"
    let version: UInt32 = 1
    let databaseNames = ["rows"]
    var mapFullAt: UInt64?
    func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws {
        if event.position == mapFullAt {
            mapFullAt = nil
            throw LMDBError(MDB_MAP_FULL, "simulated")
        }
        try transaction.put(
            databases["rows"], key: bigEndianKey(event.position), value: [UInt8](repeating: UInt8(truncatingIfNeeded: event.position), count: 1_024))
    }
}

@Suite("Rebuilds that grow the map")
struct RebuildGrowthTests {
    @Test("a rebuild whose chunks make the map grow (and so run twice) replays every event exactly once")
    func growthDuringRebuild() throws {
        let dir = TemporaryDirectory()
        let fat = FatRows()
        var options = logOptions([fat], mapBytes: 1 << 20)
        options.replayChunkEvents = 300
        let log = try EventLog.create(at: dir.sub("store"), options: options)
        for batch in 0..<20 {
            _ = try log.append(command("c-\(batch)", stream: "s-\(batch % 3)", count: 150, payload: [UInt8](repeating: 1, count: 200)))
        }
        // The map fills in the middle of the rebuild's second chunk, and at the commit of a chunk (after its
        // body ran whole): each time the chunk is aborted and run again.
        fat.mapFullAt = 450
        let growthsBefore = log.environment.mapGrowths
        #if LINLI_FAULT_INJECTION
            try log.rebuildProjections { done, _ in if done == 600 { log.environment.failNextCommitWithMapFull = true } }
            let simulated = 2
        #else
            try log.rebuildProjections()  // a release build has no hook to fail a commit with
            let simulated = 1
        #endif
        // The appends' rows were in memory, so the rebuild is the first to fill the map: it grows at least
        // twice (the two simulated cases), and more as the rows arrive.
        #expect(fat.mapFullAt == nil && log.environment.mapGrowths >= growthsBefore + simulated, "the rebuild grew the map at least once a simulated case")
        let rows = try dump(log, "fat")["rows"] ?? [:]
        #expect(rows.count == 3_000, "every event replayed once: \(rows.count) rows")
        #expect(try log.verifyProjections().ok)
        // Again, from a store the first rebuild left with two generations' worth of pages freed.
        try log.rebuildProjections()
        #expect((try dump(log, "fat")["rows"] ?? [:]).count == 3_000)
        #expect(try log.verifyProjections().ok)
    }
}

@Suite("Audits of projections side by side")
struct SideBySideVerificationTests {
    @Test("each projection rebuilt on its own thread: a row forged in each of two is reported for both, in slot order; progress adds up")
    func forgedRowsInTwoProjections() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions([EventCountsProjection(), VersionedCounts(version: 1)]))
        for batch in 0..<30 { _ = try log.append(command("c-\(batch)", stream: "s-\(batch % 4)", count: 5)) }
        let events = try log.head.position
        var calls: [(UInt64, UInt64)] = []
        #expect(try log.verifyProjections { calls.append(($0, $1)) }.ok)
        #expect(calls.last.map { $0 == $1 && $0 == events * 2 } == true, "the last progress covers both projections: \(calls.last.map { "\($0)" } ?? "none")")
        #expect(zip(calls, calls.dropFirst()).allSatisfy { $0.0 <= $1.0 }, "progress never goes back")

        let (counts, versioned) = try log.read { ($0.databases(of: "event-counts")["by-stream"], $0.databases(of: "versioned")["total"]) }
        // Stored rows are forged: the state in memory is written to them first, as a process does at exit.
        try log.checkpoint()
        try log.environment.write { txn in
            try txn.put(counts, key: Array("s-1".utf8), value: bigEndianKey(999))
            try txn.put(versioned, key: [1], value: bigEndianKey(7))
        }
        let report = try log.verifyProjections()
        #expect(!report.ok)
        #expect(report.position == events)
        #expect(report.mismatches.map { "\($0.projection)/\($0.database)" } == ["event-counts/by-stream", "versioned/total"])
        #expect(report.mismatches.first?.stored == bigEndianKey(999))
        #expect(report.mismatches.last?.rebuilt == bigEndianKey(events))
        #expect(report.storedDigests.count == 3 && report.rebuiltDigests.count == 3)
    }

    @Test("an event appended between the replays' snapshots and the stored sides': each projection is compared at one head, and the audit is clean")
    func appendDuringTheAudit() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions([EventCountsProjection(), VersionedCounts(version: 1)]))
        for batch in 0..<30 { _ = try log.append(command("c-\(batch)", stream: "s-\(batch % 4)", count: 5)) }
        let before = try log.head.position
        // The first stored side to begin appends, before its snapshot: on two cores the replays have taken
        // theirs (they are dispatched first); with more cores a replay may begin after it and see the event
        // too. Either way the sides must be compared at one head, never across two.
        let once = Once()
        // Labelled: a trailing closure would be the public `beside:` piece, which runs beside the stored sides.
        let report = try log.verifyProjections(
            progress: nil, beside: nil,
            storedSideStarting: {
                once.run { _ = try? log.append(command("late", stream: "s-late", count: 1)) }
            })
        let after = try log.head.position
        #expect(once.ran && after == before + 1)
        #expect(report.ok, "mismatches: \(report.mismatches), digests \(report.storedDigests) \(report.rebuiltDigests)")
        #expect(report.position == before + 1, "compared at the head after the append: \(report.position)")
    }
}

/// Counts the events it is given, declaring that it wants only two types.
final class TypedCounts: Projection, @unchecked Sendable {
    let name = "typed"
    let version: UInt32 = 1
    let databaseNames = ["by-type"]
    var eventTypes: Set<String>? { ["wanted.a", "wanted.b"] }
    func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws {
        let key = Array(event.type.utf8)
        let current = try transaction.value(in: databases["by-type"], key: key).flatMap { $0.withUnsafeBytes { bigEndianValue($0) } } ?? 0
        try transaction.put(databases["by-type"], key: key, value: bigEndianKey(current + 1))
    }
}

@Suite("Projections that name their event types")
struct EventTypeFilterTests {
    @Test("only the named types reach apply, appended or replayed, and a rebuild equals the live rows")
    func namedTypesOnly() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions([TypedCounts(), EventCountsProjection()]))
        var random = SplitMix64(state: 21)
        let types = ["wanted.a", "wanted.b", "other", "wanted", "wanted.ab", "x"]
        var expected: [String: UInt64] = [:]
        for index in 0..<600 {
            let type = types[Int(random.next() % UInt64(types.count))]
            if type.hasPrefix("wanted.") && type.count == 8 { expected[type, default: 0] += 1 }
            _ = try log.append(
                AppendCommand(
                    commandId: "c-\(index)", requestDigest: .genesis, actor: "a", occurredAt: Timestamp(epochMilliseconds: 0),
                    events: [NewEvent(stream: "s-\(index % 7)", type: type, payload: [1, 2, 3])]))
        }
        let live = try dump(log, "typed")
        #expect(live["by-type"]?.count == expected.count)
        for (type, count) in expected { #expect(live["by-type"]?[Array(type.utf8)] == bigEndianKey(count)) }
        try log.rebuildProjections()
        #expect(try dump(log, "typed") == live)
        #expect(try log.read { try EventCountsProjection.streamCounts($0) } == recount(log), "a projection without types sees every event")
    }

    @Test("the type read in place from a record is the decoded record's type")
    func typeInPlace() throws {
        var random = SplitMix64(state: 22)
        for index in 0..<500 {
            let stream = String(repeating: "s", count: Int(random.next() % 200) + 1)
            let type = String(repeating: "t", count: Int(random.next() % 128) + 1)
            var writer = ByteWriter()
            let payload = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = payload.withUnsafeBytes { payload in
                RecordCodec.encode(
                    position: UInt64(index + 1), stream: stream, streamVersion: 1, previousInStream: 0, type: type, schemaVersion: 1,
                    commandId: "c", actor: "a", occurredAt: Timestamp(epochMilliseconds: 0), recordedAt: Timestamp(epochMilliseconds: 0),
                    payload: payload, previousHash: .genesis, into: &writer)
            }
            let record = writer.bytes
            let read = record.withUnsafeBytes { RecordCodec.type(of: $0).map { Array($0) } }
            #expect(read == Array(type.utf8))
            // Cut short, the type cannot be read in place: the record is then decoded and its error reported.
            let cut = Array(record.prefix(79 + stream.utf8.count))
            #expect(cut.withUnsafeBytes { RecordCodec.type(of: $0) } == nil)
        }
    }
}

/// Runs a body once, from whichever thread asks first.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    /// Whether the body has run.
    var ran: Bool { lock.withLock { done } }

    func run(_ body: () -> Void) {
        lock.withLock {
            guard !done else { return }
            done = true
            body()
        }
    }
}
