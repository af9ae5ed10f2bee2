// Elder services beside raw LMDB (issue 5): a year of Hexi's daily services for its ≈ 4,200 elders
// (≈ 1.5M events) applied and then rebuilt, and one elder's history read.
import Benchmark
import BenchmarkSupport
import Foundation
import Linli
import LinliStore

extension Engine {
    func minutesIfDelivery(_ history: ElderHistory, _ index: Int) -> Int64 { history.isVisit(index) ? 0 : history.minutes(index) }
}

final class Shared: @unchecked Sendable {
    /// Hexi at the seed's size: 7,616 residents, 2,101 households, a year of services.
    lazy var hexiLines: [[UInt8]] = pilotLines()["hexi"]!
    /// The pilots' shared store (all three pilots, full scale).
    lazy var pilots: Engine = try! Engine.open(at: pilotStorePath())
    /// The records of the Hexi part of the shared store, for the raw append.
    lazy var hexiRecords: [[UInt8]] = {
        let engine = try! Engine.create(
            at: tracked(temporaryStorePath("hexi-records")), admin: PilotFixtures.admin, at: Timestamp(iso8601: "2023-07-01T08:00:00+08:00"))
        applyAll(engine, hexiLines)
        return try! allRecords(engine.log)
    }()
    /// An elder with about a year of history, and a raw store with the same rows.
    lazy var historyCase: (elder: String, entries: Int, raw: RawLMDB, firstKey: [UInt8]) = {
        let engine = pilots
        var best = ("", 0)
        for n in stride(from: 1, through: 7_616, by: 37) {
            let count = try! engine.elderHistory("r-hx-\(n)").count
            if abs(count - 365) < abs(best.1 - 365) { best = ("r-hx-\(n)", count) }
        }
        let raw = RawLMDB(path: tracked(temporaryStorePath("history-raw")))
        let prefix = Array(best.0.utf8) + [0]
        // The very rows the view reads (elders/history-compact), keys and values.
        let rows = try! engine.read { reader, _ in
            try reader.withTransaction { txn in
                var rows: [([UInt8], [UInt8])] = []
                try txn.walk(reader.databases(of: "elders")["history-compact"], from: prefix) { key, value in
                    guard key.starts(with: prefix) else { return false }
                    rows.append((Array(key), Array(value)))
                    return true
                }
                return rows
            }
        }
        raw.putKeyed(rows)
        return (best.0, best.1, raw, prefix)
    }()
}

nonisolated(unsafe) let shared = Shared()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident], timeUnits: .milliseconds,
        warmupIterations: 0, maxDuration: .seconds(600), maxIterations: 1)

    // A year of daily services applied to a fresh store, in transactions of 5,000 commands.
    Benchmark("hexi year apply · linli") { (benchmark: Benchmark) throws in
        let lines = shared.hexiLines
        let engine = try Engine.create(
            at: tracked(temporaryStorePath("hexi-apply")), admin: PilotFixtures.admin, at: Timestamp(iso8601: "2023-07-01T08:00:00+08:00"))
        benchmark.startMeasurement()
        let rejected = applyAll(engine, lines)
        benchmark.stopMeasurement()
        precondition(rejected == 2, "only the two marked mistakes are refused")
        print("hexi year: \(lines.count) commands, \(try engine.log.head.position) events")
    }
    // The raw append of the very records that apply produced, in transactions of the same event counts.
    Benchmark("hexi year apply · raw") { (benchmark: Benchmark) throws in
        let records = shared.hexiRecords
        let raw = RawLMDB(path: tracked(temporaryStorePath("hexi-raw")))
        let perChunk = records.count * Engine.continueChunkLines / shared.hexiLines.count
        benchmark.startMeasurement()
        var start = 0
        while start < records.count {
            raw.appendRecords(Array(records[start..<min(records.count, start + perChunk)]))
            start += perChunk
        }
        benchmark.stopMeasurement()
    }

    // Every projection of the shared pilots' store rebuilt from position 1 and swapped in.
    Benchmark("pilots rebuild · linli") { (benchmark: Benchmark) throws in
        let engine = shared.pilots
        benchmark.startMeasurement()
        try engine.log.rebuildProjections()
        benchmark.stopMeasurement()
    }
    // Raw: every record read with a cursor and written into another database, in chunks of 50,000.
    Benchmark("pilots rebuild · raw") { (benchmark: Benchmark) throws in
        let source = RawLMDB(path: tracked(temporaryStorePath("rebuild-source")))
        source.appendRecords(try allRecords(shared.pilots.log))
        let target = RawLMDB(path: tracked(temporaryStorePath("rebuild-target")))
        benchmark.startMeasurement()
        source.copyAll(into: target)
        benchmark.stopMeasurement()
    }

    // One elder's history (about 365 entries) read in-process into its view: kinds, minutes and times at
    // once, texts on access (the hot read).
    Benchmark(
        "elder history read · linli", configuration: .init(metrics: [.wallClock], timeUnits: .microseconds, maxDuration: .seconds(10), maxIterations: 10_000)
    ) { (benchmark: Benchmark) throws in
        let (elder, entries, _, _) = shared.historyCase
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let history = try shared.pilots.elderHistoryView(elder)
            precondition(history.count == entries)
            blackHole(history.indices.reduce(0) { $0 + shared.pilots.minutesIfDelivery(history, $1) })
        }
        benchmark.stopMeasurement()
    }
    // The same, every entry materialized with its strings.
    Benchmark(
        "elder history read entries · linli",
        configuration: .init(metrics: [.wallClock], timeUnits: .microseconds, maxDuration: .seconds(10), maxIterations: 10_000)
    ) { (benchmark: Benchmark) throws in
        let (elder, entries, _, _) = shared.historyCase
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let history = try shared.pilots.elderServiceHistory(elder)
            precondition(history.count == entries)
            blackHole(history)
        }
        benchmark.stopMeasurement()
    }
    // The same history as JSON values (what `linli elder ID --json` prints), for comparison.
    Benchmark(
        "elder history read json · linli",
        configuration: .init(metrics: [.wallClock], timeUnits: .microseconds, maxDuration: .seconds(10), maxIterations: 10_000)
    ) { (benchmark: Benchmark) throws in
        let (elder, entries, _, _) = shared.historyCase
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let history = try shared.pilots.elderHistory(elder)
            precondition(history.count == entries)
            blackHole(history)
        }
        benchmark.stopMeasurement()
    }
    Benchmark(
        "elder history read · raw", configuration: .init(metrics: [.wallClock], timeUnits: .microseconds, maxDuration: .seconds(10), maxIterations: 10_000)
    ) { (benchmark: Benchmark) throws in
        let (_, entries, raw, prefix) = shared.historyCase
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            precondition(raw.readRange(from: prefix, count: entries) == entries)
        }
        benchmark.stopMeasurement()
    }
}
