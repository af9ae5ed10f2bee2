import Foundation
@testable import LinliStore
import Testing

/// `EventLog.backup(to:)` (issue 20): a consistent copy while another process writes, verified before it
/// is put in place, and never a half-made store at its destination.
@Suite("Backups, with real child processes", .serialized)
struct BackupTests {
    let child = productsDirectory().appendingPathComponent("linli-crashtest")

    func writer(_ store: String, batches: Int, seed: UInt64) throws -> Process {
        let process = Process()
        process.executableURL = child
        // Batches of 20 commands of 3 events: every commit ends at a multiple of 60.
        process.arguments = [store, "w", String(batches), "20", "3", String(seed)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func records(_ log: EventLog, upTo position: UInt64) throws -> [[UInt8]] {
        try log.environment.read { txn in
            var out: [[UInt8]] = []
            try txn.walk(log.events) { key, value in
                guard let at = bigEndianValue(key), at <= position else { return false }
                out.append(Array(value))
                return true
            }
            return out
        }
    }

    @Test("backups taken while another process appends open, verify, and hold a prefix of the source's log that ends at a commit")
    func whileWriting() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        let source = try EventLog.create(at: store, options: logOptions([EventCountsProjection()]))
        let process = try writer(store, batches: 400, seed: 5)
        var backups: [(String, LogHead)] = []
        for index in 0..<3 {
            usleep(40_000)
            let report = try source.backup(to: dir.sub("b\(index)"))
            #expect(report.eventsVerified == report.head.position)
            backups.append((report.path, report.head))
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(backups.contains { $0.1.position > 0 && $0.1.position < 400 * 60 }, "no backup landed while the writer was writing; the test proved nothing")
        for (path, head) in backups {
            #expect(head.position % 60 == 0, "a backup ends inside a batch: \(head.position)")
            let backup = try EventLog.open(at: path, options: logOptions([EventCountsProjection()]))
            #expect(try backup.head == head)
            #expect(try backup.verifyChain().ok)
            #expect(try records(backup, upTo: head.position) == records(source, upTo: head.position))
            // Its projection (checkpointed at most at its head, the rest replayed on open) counts what it holds.
            #expect(try backup.read { try EventCountsProjection.streamCounts($0) }.values.reduce(0, +) == head.position)
        }
    }

    @Test("a backup refuses a destination that exists, and one whose .partial file exists, and writes nothing there")
    func refusesExisting() throws {
        let dir = TemporaryDirectory()
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        _ = try log.append(command("c-1"))
        try FileManager.default.createDirectory(atPath: dir.sub("taken"), withIntermediateDirectories: false)
        #expect { try log.backup(to: dir.sub("taken")) } throws: { "\($0)".contains("exists already") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.sub("taken")).isEmpty)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.sub("busy.partial")))
        #expect { try log.backup(to: dir.sub("busy")) } throws: { "\($0)".contains("busy.partial exists") }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("busy")))
        #expect(try String(contentsOfFile: dir.sub("busy.partial"), encoding: .utf8) == "x")
    }

    @Test("a backup killed at random moments leaves no destination, or one that opens and verifies whole", arguments: [20_261_202 as UInt64])
    func killed(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try EventLog.create(at: store, options: logOptions([EventCountsProjection()]))
        let filling = try writer(store, batches: 200, seed: 9)
        filling.waitUntilExit()
        var random = SplitMix64(state: seed)
        var killedMidCopy = 0
        for round in 0..<10 {
            let destination = dir.sub("b\(round)")
            let process = Process()
            process.executableURL = child
            process.arguments = ["--backup", store, destination]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(2_000 + random.below(60_000)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: destination + ".partial") { killedMidCopy += 1 }
            guard FileManager.default.fileExists(atPath: destination) else { continue }
            // There is a destination only once the verified copy was moved in: it is whole.
            let backup = try EventLog.open(at: destination, options: logOptions([EventCountsProjection()]))
            #expect(try backup.verifyChain().ok)
            #expect(try backup.head.position == 200 * 60)
        }
        #expect(killedMidCopy > 0, "no kill landed during a copy; the test proved nothing")
    }
}
