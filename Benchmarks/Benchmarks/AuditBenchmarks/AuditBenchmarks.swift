// Audit and the command line's cold start beside raw LMDB (issues 6 and 7), on the three pilots at the
// seed's sizes (≈ 1.6M events of the pilot mix).
import Benchmark
import BenchmarkSupport
import Foundation
import Linli
import LinliStore

final class Shared: @unchecked Sendable {
    lazy var path = pilotStorePath()
    lazy var engine: Engine = try! Engine.open(at: path)
    lazy var raw: RawLMDB = {
        let raw = RawLMDB(path: tracked(temporaryStorePath("audit-raw")))
        raw.appendRecords(try! allRecords(engine.log))
        return raw
    }()
    /// Every stored projection row of the store, copied into a raw environment of its own (each key after
    /// its database's index), for the audit's raw baseline.
    lazy var rows: RawLMDB = {
        let raw = RawLMDB(path: tracked(temporaryStorePath("audit-rows")))
        var pairs: [([UInt8], [UInt8])] = []
        try! engine.log.read { reader in
            try reader.withTransaction { txn in
                var index: UInt16 = 0
                for name in ["registry", "ledger", "deliberation", "mediation", "elders"] {
                    for (_, database) in reader.databases(of: name).all {
                        try txn.walk(database) { key, value in
                            pairs.append(([UInt8(index >> 8), UInt8(index & 0xFF)] + Array(key), Array(value)))
                            if pairs.count == 200_000 {
                                raw.putKeyed(pairs)
                                pairs.removeAll(keepingCapacity: true)
                            }
                            return true
                        }
                        index += 1
                    }
                }
            }
        }
        raw.putKeyed(pairs)
        return raw
    }()
    /// The issue rows' count and a raw store with as many rows of the same size.
    lazy var agendaRaw: (RawLMDB, Int) = {
        let count = try! engine.issues().count
        let raw = RawLMDB(path: tracked(temporaryStorePath("agenda-raw")))
        let rows = try! engine.read { reader, _ in
            try reader.withTransaction { txn in
                var rows: [([UInt8], [UInt8])] = []
                try txn.walk(reader.databases(of: "deliberation")["issues"]) { key, value in
                    rows.append((Array(key), Array(value))); return true
                }
                return rows
            }
        }
        raw.putKeyed(rows)
        return (raw, count)
    }()
    /// The release `linli` binary beside this benchmark's package (built by Scripts/benchmarks.sh).
    lazy var linli: URL = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/release/linli")
    }()
}

nonisolated(unsafe) let shared = Shared()

/// Runs a process to its end, discarding its output.
func run(_ executable: URL, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    precondition(process.terminationStatus == 0, "\(executable.lastPathComponent) \(arguments) failed")
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident], timeUnits: .milliseconds,
        warmupIterations: 0, maxDuration: .seconds(600), maxIterations: 1)

    // `linli audit verify`'s work: the chain over every event, then every projection replayed into memory
    // and compared with the stored rows, on both cores.
    Benchmark("audit verify pilots · linli", configuration: .init(maxIterations: 3)) { (benchmark: Benchmark) throws in
        let engine = shared.engine
        benchmark.startMeasurement()
        let report = try engine.audit()
        benchmark.stopMeasurement()
        precondition(report.ok)
        print("audit verify: \(report.chain.events) events")
    }
    // Raw, "read everything" (issue 17): one thread, a cursor scan of every event and of every stored
    // projection row, with SHA-256 of each — no decoding, no replay, no comparison. The goal is at least
    // 0.5 × its throughput.
    Benchmark("audit verify pilots · raw", configuration: .init(maxIterations: 3)) { (benchmark: Benchmark) throws in
        let raw = shared.raw, rows = shared.rows
        benchmark.startMeasurement()
        let read = raw.scanAndHash() + rows.scanAndHashRows()
        benchmark.stopMeasurement()
        print("audit raw: \(read) events and rows read and hashed")
    }
    // The chain pass alone.
    Benchmark("audit chain pilots · linli", configuration: .init(maxIterations: 5)) { (benchmark: Benchmark) throws in
        let engine = shared.engine
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { let ok = try engine.log.verifyChain().ok; precondition(ok) }
        benchmark.stopMeasurement()
    }
    // Raw: a cursor scan of the same records with SHA-256 of each.
    Benchmark("audit chain pilots · raw", configuration: .init(maxIterations: 5)) { (benchmark: Benchmark) throws in
        let raw = shared.raw
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(raw.scanAndHash()) }
        benchmark.stopMeasurement()
    }

    // The agenda: every issue of the library ordered by exact priority (Zigang's ≈ 200 issues).
    Benchmark("agenda read · linli", configuration: .init(metrics: [.wallClock], timeUnits: .microseconds, maxDuration: .seconds(10), maxIterations: 5_000)) {
        (benchmark: Benchmark) throws in
        let engine = shared.engine
        let (_, count) = shared.agendaRaw
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let issues = try engine.issues()
            precondition(issues.count == count)
            blackHole(issues)
        }
        benchmark.stopMeasurement()
    }
    // Raw: the same rows read with a cursor and copied out.
    Benchmark("agenda read · raw", configuration: .init(metrics: [.wallClock], timeUnits: .microseconds, maxDuration: .seconds(10), maxIterations: 5_000)) {
        (benchmark: Benchmark) throws in
        let (raw, count) = shared.agendaRaw
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { precondition(raw.readRange(from: [0], count: count) == count) }
        benchmark.stopMeasurement()
    }

    // `linli balance` on the pilots' store as a whole process, cold (a new process each time).
    Benchmark("cold start balance · linli", configuration: .init(metrics: [.wallClock], maxDuration: .seconds(30), maxIterations: 50)) {
        (benchmark: Benchmark) throws in
        let path = shared.path, linli = shared.linli
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            try run(linli, ["balance", "resident:r-js-88", "--store", path, "--json"])
            benchmark.stopMeasurement()
        }
    }
    // Raw: LMDB's own mdb_stat opening the same environment and reading one database's statistics.
    Benchmark("cold start balance · raw", configuration: .init(metrics: [.wallClock], maxDuration: .seconds(30), maxIterations: 50)) {
        (benchmark: Benchmark) throws in
        let path = shared.path
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            try run(URL(fileURLWithPath: "/usr/bin/mdb_stat"), ["-s", "events", path])
            benchmark.stopMeasurement()
        }
    }
}
