import CLMDB
import Foundation
@testable import LinliStore
import Testing

/// The stored checkpoint of `name` as LMDB holds it.
func storedCheckpoint(_ log: EventLog, _ name: String) throws -> ProjectionCheckpoint? {
    try log.environment.read { txn in
        guard case .current(let checkpoint) = try log.readCheckpoint(name, txn) else { return nil }
        return checkpoint
    }
}

/// Overwrites the stored checkpoint of `name`, as a store put back from elsewhere or an insider would.
func forgeCheckpoint(_ log: EventLog, _ name: String, _ change: (inout ProjectionCheckpoint) -> Void) throws {
    var checkpoint = try #require(try storedCheckpoint(log, name))
    change(&checkpoint)
    try log.environment.write { txn in try log.writeCheckpoint(checkpoint, for: name, txn) }
}

@Suite("Projections as checkpointed state")
struct CheckpointTests {
    @Test("a write body run again after the map grew folds its events in once: the aborted run's rows do not survive")
    func abortedRunLeavesNothing() throws {
        let dir = TemporaryDirectory()
        let fat = FatRows()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions([fat, EventCountsProjection()], mapBytes: 1 << 20))
        _ = try log.append(command("c-0", stream: "s", count: 5))
        // The third event of the next command reports MDB_MAP_FULL: the transaction is aborted and the body
        // runs again; the counts would read 5 + 2 + 10 if the first run's rows had been kept.
        fat.mapFullAt = 8
        _ = try log.append(command("c-1", stream: "s", count: 10))
        #expect(fat.mapFullAt == nil, "the simulated map full happened")
        #expect(try log.read { try EventCountsProjection.streamCounts($0) } == ["s": 15])
        #expect(try log.verifyProjections().ok)
    }

    @Test("an atomic batch refused by its last command leaves the process's state as it was")
    func refusedBatchLeavesNothing() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions([EventCountsProjection(), RefusesBadStream()]))
        _ = try log.append(command("ok", stream: "good"))
        #expect(throws: LogError.self) { try log.append([command("a", stream: "fine", count: 3), command("b", stream: "bad")]) }
        #expect(try log.read { try EventCountsProjection.streamCounts($0) } == ["good": 1])
        #expect(try dump(log, "refuses")["x"] == [Array("good".utf8): [1]])
        try log.checkpoint()
        #expect(try dump(log, "refuses")["x"] == [Array("good".utf8): [1]], "nor is it written by the next checkpoint")
    }

    @Test("a checkpoint is written every checkpointEvents events, only forward, with the log's hash at its position")
    func checkpointsAreMonotonicAndSelfDescribing() throws {
        let dir = TemporaryDirectory()
        var options = logOptions([EventCountsProjection()])
        options.checkpointEvents = 100
        let log = try EventLog.create(at: dir.sub("store"), options: options)
        var positions: [UInt64] = []
        for batch in 0..<30 {
            _ = try log.append(command("c-\(batch)", stream: "s-\(batch % 3)", count: 9))
            let stored = try #require(try storedCheckpoint(log, "event-counts"))
            positions.append(stored.position)
            #expect(stored.hash == (stored.position == 0 ? .genesis : try log.event(at: stored.position)?.hash))
            #expect(try log.head.position - stored.position < 100 + 9, "never more than checkpointEvents behind after a write")
        }
        #expect(positions == positions.sorted() && Set(positions).count >= 3, "forward only, and written more than once: \(positions)")
        // Another process opening the store reads the rows at the checkpoint and folds in the rest.
        let other = try EventLog.open(at: dir.sub("store"), options: logOptions([EventCountsProjection()]))
        #expect(try other.read { try EventCountsProjection.streamCounts($0) } == recount(other))
    }

    @Test("a checkpoint whose hash is not the log's, or that stands past the head, is rebuilt on open, never trusted")
    func untrustedCheckpointsAreRebuilt() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("store")
        do {
            let log = try EventLog.create(at: path, options: logOptions([EventCountsProjection()]))
            for batch in 0..<10 { _ = try log.append(command("c-\(batch)", stream: "s-\(batch % 2)", count: 4)) }
            try log.checkpoint()
            // Forged rows at a checkpoint whose hash no longer matches: as from a store put back under another log.
            let counts = try log.read { $0.databases(of: "event-counts")["by-stream"] }
            try log.environment.write { try $0.put(counts, key: Array("s-0".utf8), value: bigEndianKey(999)) }
            try forgeCheckpoint(log, "event-counts") { $0.hash = Hash.sha256("another log") }
        }
        #expect(throws: LogError.self, "a read-only open says the projections must be rebuilt") {
            var options = logOptions([EventCountsProjection()])
            options.readOnly = true
            _ = try EventLog.open(at: path, options: options)
        }
        do {
            let log = try EventLog.open(at: path, options: logOptions([EventCountsProjection()]))
            #expect(try log.read { try EventCountsProjection.streamCounts($0) } == ["s-0": 20, "s-1": 20], "rebuilt from the log, the forged row gone")
            try forgeCheckpoint(log, "event-counts") { $0.position = 1_000 }
        }
        let log = try EventLog.open(at: path, options: logOptions([EventCountsProjection()]))
        #expect(try storedCheckpoint(log, "event-counts")?.position == 40, "the checkpoint past the head was discarded and rebuilt")
        #expect(try log.verifyProjections().ok)
    }

    @Test("a process reads what another process wrote after it opened, and its own rows stay right after the other checkpoints")
    func twoLogsOneStore() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("store")
        let first = try EventLog.create(at: path, options: logOptions([EventCountsProjection()]))
        let second = try EventLog.open(at: path, options: logOptions([EventCountsProjection()]))
        for round in 0..<6 {
            _ = try first.append(command("a-\(round)", stream: "s", count: 3))
            _ = try second.append(command("b-\(round)", stream: "s", count: 2))
            if round % 2 == 0 { try first.checkpoint() } else { try second.checkpoint() }
            #expect(try first.read { try EventCountsProjection.streamCounts($0) } == ["s": UInt64(5 * (round + 1))])
            #expect(try second.read { try EventCountsProjection.streamCounts($0) } == ["s": UInt64(5 * (round + 1))])
        }
        #expect(try first.verifyProjections().ok && second.verifyProjections().ok)
    }
}
