import Foundation
import Linli
import LinliTestSupport
import Testing

/// A `linli` child process started now and waited for later, so that several run at once.
/// Its output buffers are written by one reader thread each and read only after both are done.
final class RunningCLI: @unchecked Sendable {
    private let process = Process()
    private let outPipe = Pipe(), errPipe = Pipe()
    private var out = Data(), err = Data()
    private let readers = DispatchGroup()

    /// Starts `linli arguments`, its standard input `stdin`'s text, or `input` itself (a pipe's or a
    /// socket's end that the test goes on writing to).
    init(_ arguments: [String], stdin: String? = nil, input: FileHandle? = nil) throws {
        process.executableURL = CLI.binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LINLI_STORE"] = nil
        env["LINLI_ACTOR"] = nil
        process.environment = env
        process.standardOutput = outPipe
        process.standardError = errPipe
        let inPipe = Pipe()
        process.standardInput = input ?? inPipe
        try process.run()
        // Drain both pipes while the child runs, so that it never blocks on a full pipe.
        for (pipe, keyPath) in [(outPipe, \RunningCLI.out), (errPipe, \RunningCLI.err)] {
            readers.enter()
            DispatchQueue.global().async { [self] in
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                self[keyPath: keyPath] = data
                readers.leave()
            }
        }
        if let stdin { inPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inPipe.fileHandleForWriting.close()
    }

    /// Whether the child has not exited yet.
    var isRunning: Bool { process.isRunning }

    /// Waits for the child and returns its exit status and output.
    func wait() -> (status: Int32, out: String, err: String) {
        process.waitUntilExit()
        readers.wait()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// A line of NDJSON for a command.
func commandLine(_ name: String, id: String, actor: String, at: String = "2024-03-01T10:00:00+08:00", _ fields: [String: JSONValue]) -> String {
    JSONValue.object([("command", .string(name)), ("id", .string(id)), ("actor", .string(actor)), ("at", .string(at))] + fields.sorted { $0.key < $1.key }).text
}

@Suite("Several linli processes on one store", .serialized)
struct MultiProcessTests {
    /// A store with two residents who have 10 points each and a gift of `quantity` units at 1 point.
    func storeWithGift(quantity: Int64) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory()
        let store = dir.sub("s")
        #expect(try CLI.run(["init", "--admin", "admin", "--store", store]).status == 0)
        var lines = [setup]
        for (index, resident) in ["r-1", "r-2"].enumerated() {
            lines.append(
                commandLine(
                    "hours.log", id: "h-\(index)", actor: "gw-1",
                    [
                        "log": .string("l-\(index)"), "volunteer": .string(resident), "minutes": 60,
                        "activity": "敲门入户", "category": "visit",
                    ]))
            lines.append(commandLine("hours.verify", id: "v-\(index)", actor: "sw-1", ["log": .string("l-\(index)")]))
        }
        lines.append(
            commandLine(
                "gift.stock", id: "g-0", actor: "sk-1",
                [
                    "item": "towel", "community": "jiangshan", "name": "毛巾", "pricePoints": 1,
                    "quantity": .int(quantity),
                ]))
        let applied = try CLI.run(["apply", "-", "--store", store], stdin: lines.joined(separator: "\n"))
        try #require(applied.status == 0, "\(applied.err)")
        return (dir, store)
    }

    @Test("two writer processes race for the last unit of a gift: exactly one redemption wins, each round", arguments: [UInt64(20_241_201)])
    func lastUnitGoesToOne(seed: UInt64) throws {
        let rounds = 6
        let (dir, store) = try storeWithGift(quantity: 1)
        _ = dir
        var rng = SplitMix64(state: seed)
        var winners: [String] = []
        for round in 0..<rounds {
            // One unit in stock, two redemptions of it started at once by two processes.
            let racers = ["r-1", "r-2"].shuffled(using: &rng)
            let children = try racers.map { resident in
                try RunningCLI(
                    ["apply", "-", "--store", store],
                    stdin: commandLine(
                        "gift.redeem", id: "x-\(round)-\(resident)", actor: "sk-1",
                        ["redemption": .string("x-\(round)-\(resident)"), "resident": .string(resident), "item": "towel", "quantity": 1]))
            }
            let results = children.map { $0.wait() }
            let won = zip(racers, results).filter { $0.1.status == 0 }
            #expect(won.count == 1, "round \(round): \(results.map { "\($0.status) \($0.err)" })")
            #expect(
                results.allSatisfy { $0.status == 0 || ($0.status == 1 && $0.err.contains("outOfStock")) },
                "the loser is refused for the stock, never a store error: \(results.map(\.err))")
            winners += won.map(\.0)
            if round < rounds - 1 {
                let restock = commandLine(
                    "gift.stock", id: "g-\(round + 1)", actor: "sk-1",
                    [
                        "item": "towel", "community": "jiangshan", "name": "毛巾",
                        "pricePoints": 1, "quantity": 1,
                    ])
                #expect(try CLI.run(["apply", "-", "--store", store], stdin: restock).status == 0)
            }
        }
        let stock = try CLI.run(["stock", "--json", "--store", store])
        #expect(stock.out.contains("\"quantity\":0"), "every unit went to exactly one redemption: \(stock.out)")
        let audit = try CLI.run(["audit", "verify", "--store", store])
        #expect(audit.status == 0, "\(audit.out)\(audit.err)")
        #expect(winners.count == rounds)
    }

    @Test("a reader process beside a writer always answers, at or after the writer's last commit")
    func readerBesideWriter() throws {
        let (dir, store) = try storeWithGift(quantity: 1)
        // The writer: 40 batches of hours for r-1, 20 minutes (3 points) each, one process per batch.
        let batches = (0..<40).map { batch in
            (0..<25).map { index -> String in
                let n = batch * 25 + index
                return commandLine(
                    "hours.log", id: "w-\(n)", actor: "gw-1",
                    [
                        "log": .string("w-\(n)"), "volunteer": "r-1", "minutes": 20,
                        "activity": "巡逻", "category": "visit",
                    ])
                    + "\n" + commandLine("hours.verify", id: "wv-\(n)", actor: "sw-1", ["log": .string("w-\(n)")])
            }.joined(separator: "\n")
        }
        let script = dir.sub("writer.sh")
        var body = "#!/bin/sh\nset -e\n"
        for (index, batch) in batches.enumerated() {
            let file = dir.sub("batch-\(index).ndjson")
            try batch.write(toFile: file, atomically: true, encoding: .utf8)
            body += "'\(CLI.binary.path)' apply '\(file)' --store '\(store)' > /dev/null\necho \(index) >> '\(dir.sub("done"))'\n"
        }
        try body.write(toFile: script, atomically: true, encoding: .utf8)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = [script]
        try writer.run()
        var last: Int64 = -1
        var reads = 0
        while writer.isRunning || reads == 0 {
            let committedBefore = (try? String(contentsOfFile: dir.sub("done"), encoding: .utf8))?.split(separator: "\n").count ?? 0
            let read = try CLI.run(["balance", "resident:r-1", "--json", "--store", store])
            #expect(read.status == 0, "a read beside the writer failed: \(read.err)")
            guard read.status == 0, case .int(let balance)? = try JSONParser.parse(Array(read.out.utf8))["balance"] else { break }
            #expect(balance >= last, "balances only grow here: \(balance) after \(last)")
            #expect(balance >= 10 + Int64(committedBefore) * 25 * 3, "at or after the batches committed before the read began")
            last = balance
            reads += 1
        }
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        #expect(reads > 3, "the reader ran beside the writer: \(reads) reads")
        let final = try CLI.run(["balance", "resident:r-1", "--json", "--store", store])
        #expect(final.out.contains("\"balance\":\(10 + 40 * 25 * 3)"), "\(final.out)")
    }

    @Test("a long-lived process goes on reading and writing through ten rebuilds made by another process")
    func longLivedProcessSeesRebuilds() throws {
        let (dir, store) = try storeWithGift(quantity: 100)
        _ = dir
        let engine = try Engine.open(at: store)
        for round in 0..<10 {
            let rebuild = try CLI.run(["rebuild", "--store", store])
            #expect(rebuild.status == 0, "\(rebuild.err)")
            let before = try engine.balance(of: "resident:r-1").balance
            let outcome = try engine.execute(
                line: commandLine(
                    "gift.redeem", id: "long-\(round)", actor: "sk-1",
                    ["redemption": .string("long-\(round)"), "resident": "r-1", "item": "towel", "quantity": 1]))
            guard case .applied = outcome else { Issue.record("round \(round): \(outcome)"); return }
            #expect(try engine.balance(of: "resident:r-1").balance == before - 1)
            #expect(try engine.stock().first?.quantity == Int64(99 - round))
        }
        try engine.log.checkpoint()
        #expect(try engine.audit().ok)
        // What this process wrote is what another process reads.
        let read = try CLI.run(["balance", "resident:r-1", "--json", "--store", store])
        #expect(try engine.balance(of: "resident:r-1").balance == 0)
        #expect(read.out.contains("\"balance\":0"), "\(read.out)")
    }

    @Test("two rebuilds at once: each succeeds or says plainly that a rebuild is in progress (exit 3)")
    func twoRebuildsAtOnce() throws {
        let (dir, store) = try storeWithGift(quantity: 1)
        _ = dir
        var refused = 0
        for _ in 0..<4 {
            let children = try (0..<2).map { _ in try RunningCLI(["rebuild", "--store", store]) }
            for result in children.map({ $0.wait() }) {
                if result.status == 3 {
                    refused += 1
                    #expect(result.err.contains("a rebuild of \(store) is in progress"), "\(result.err)")
                } else {
                    #expect(result.status == 0, "\(result.err)")
                }
                #expect(!result.err.contains("MDB_") && !result.err.contains("()"), "no raw LMDB error or Swift type name: \(result.err)")
            }
        }
        let audit = try CLI.run(["audit", "verify", "--store", store])
        #expect(audit.status == 0, "\(audit.out)\(audit.err)")
    }
}
