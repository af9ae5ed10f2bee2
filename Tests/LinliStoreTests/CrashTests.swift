import Foundation
@testable import LinliStore
import Testing

/// Acknowledgements a child printed: command id → (first, last).
func parseAcks(_ output: String) -> [String: (UInt64, UInt64)] {
    var acks: [String: (UInt64, UInt64)] = [:]
    for line in output.split(separator: "\n") where line.hasPrefix("ACK ") {
        let parts = line.split(separator: " ")
        // A line cut short by the kill is not an acknowledgement.
        guard parts.count == 4, let first = UInt64(parts[2]), let last = UInt64(parts[3]) else { continue }
        acks[String(parts[1])] = (first, last)
    }
    return acks
}

/// Checks a store after children stopped: every acknowledged command is there at its positions, the
/// events are whole commands of whole batches, the chain verifies, and the projection equals a recount
/// and a rebuild.
func checkStore(_ path: String, acks: [String: (UInt64, UInt64)], eventsPerBatch: UInt64) throws {
    let log = try EventLog.open(at: path, options: logOptions([EventCountsProjection()]))
    let head = try log.head
    for (id, positions) in acks {
        let record = try log.read { try $0.commandRecord(id) }
        #expect(record?.first == positions.0 && record?.last == positions.1, "acknowledged \(id) lost or moved")
    }
    #expect(head.position % eventsPerBatch == 0, "a partial batch: head \(head.position)")
    let chain = try log.verifyChain()
    #expect(chain.ok, "\(chain.failures.prefix(3))")
    #expect(chain.events == head.position)
    #expect(try log.read { try EventCountsProjection.streamCounts($0) } == recount(log))
    let live = try dump(log, "event-counts")
    try log.rebuildProjections()
    #expect(try dump(log, "event-counts") == live)
}

@Suite("Crash safety and concurrency, with real child processes", .serialized)
struct CrashTests {
    let child = productsDirectory().appendingPathComponent("linli-crashtest")

    @Test("SIGKILL at random moments loses no acknowledged batch and leaves no partial one", arguments: [20_241_101 as UInt64])
    func killedAtRandom(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try EventLog.create(at: store, options: logOptions([EventCountsProjection()]))
        var rng = SplitMix64(state: seed)
        var allAcks: [String: (UInt64, UInt64)] = [:]
        let rounds = 24
        for round in 0..<rounds {
            let process = Process()
            process.executableURL = child
            // A checkpoint every 90 events (a batch is 60): kills land in checkpoints as well as in appends.
            process.arguments = [store, "r\(round)", "100000", "20", "3", String(rng.next() % 1_000_000), "90"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Kill after a random moment: while opening, mid-batch, mid-commit.
            usleep(UInt32(5_000 + rng.next() % 150_000))
            kill(process.processIdentifier, SIGKILL)
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            allAcks.merge(parseAcks(String(decoding: output, as: UTF8.self))) { $1 }
        }
        #expect(allAcks.count > 0, "the children acknowledged nothing; the test proved nothing")
        let stored = try EventLog.open(at: store, options: logOptions([EventCountsProjection()])).read { try $0.checkpoints()["event-counts"]?.position }
        #expect((stored ?? 0) > 0, "the children wrote checkpoints, so kills could land in them")
        try checkStore(store, acks: allAcks, eventsPerBatch: 60)
    }

    @Test("two processes appending to one store lose and duplicate no position")
    func twoWriters() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try EventLog.create(at: store, options: logOptions([EventCountsProjection()]))
        let processes = (0..<2).map { index -> (Process, Pipe) in
            let process = Process()
            process.executableURL = child
            process.arguments = [store, "p\(index)", "40", "10", "2", String(index + 1)]
            let pipe = Pipe()
            process.standardOutput = pipe
            return (process, pipe)
        }
        for (process, _) in processes { try process.run() }
        var acks: [String: (UInt64, UInt64)] = [:]
        for (process, pipe) in processes {
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            acks.merge(parseAcks(String(decoding: output, as: UTF8.self))) { _, _ in
                Issue.record("a command id acknowledged twice")
                return (0, 0)
            }
        }
        #expect(acks.count == 800)
        // Every position from 1 to 1600 belongs to exactly one command.
        var owners = [Int](repeating: 0, count: 1601)
        for (_, (first, last)) in acks { for position in first...last { owners[Int(position)] += 1 } }
        #expect(owners.dropFirst().allSatisfy { $0 == 1 })
        try checkStore(store, acks: acks, eventsPerBatch: 20)
    }
}
