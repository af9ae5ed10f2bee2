// The event log beside raw LMDB (issue 2): batched append, durable single append, chain verification.
import Benchmark
import BenchmarkSupport
import Foundation
import LinliStore

let batchEvents = 1_000
let payloadBytes = 200
/// The same ~200-byte payloads for Linli and the raw baseline, spread over 100 streams.
let payloads = (0..<batchEvents).map { deterministicBytes(payloadBytes, seed: UInt64($0)) }

func makeLog(_ name: String) -> EventLog {
    try! EventLog.create(at: temporaryStorePath(name))
}

func batch(_ index: Int) -> AppendCommand {
    let id = "batch-\(index)"
    let occurredAt = Timestamp(epochMilliseconds: 1_717_200_000_000, offsetMinutes: 480)
    return AppendCommand(commandId: id, requestDigest: Hash.sha256(id), actor: "bench", occurredAt: occurredAt,
                         events: payloads.enumerated().map { NewEvent(stream: "s-\($0.offset % 100)", type: "bench.event", payload: $0.element) })
}

/// Every stored record (key, value) of a log, read through the LMDB layer.
func storedRecords(_ log: EventLog) -> [[UInt8]] {
    let events = try! log.environment.database(named: "events", create: false)
    return try! log.environment.read { txn in
        var out: [[UInt8]] = []
        try txn.walk(events) { _, value in out.append(Array(value)); return true }
        return out
    }
}

/// The raw record bodies: exactly what Linli stores between the previous hash and the hash for the
/// benchmark's 1,000 events, taken from a scratch store, so the raw baseline hashes and writes the same bytes.
let rawBodies: [[UInt8]] = {
    let log = makeLog("bodies")
    _ = try! log.append(batch(0))
    defer { try? FileManager.default.removeItem(atPath: log.path) }
    return storedRecords(log).map { Array($0[32..<($0.count - 32)]) }
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput], timeUnits: .microseconds,
                                           warmupIterations: 2, maxDuration: .seconds(4), maxIterations: 400)

    // (a) batched append: one write of 1,000 events of ~200 bytes.
    Benchmark("append batch 1000 · linli") { (benchmark: Benchmark) throws in
        let log = makeLog("append")
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try! log.append(batch(index)))
            index += 1
        }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: log.path)
    }
    Benchmark("append batch 1000 · raw") { (benchmark: Benchmark) throws in
        let raw = RawLMDB(path: temporaryStorePath("append-raw"))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { raw.appendChained(rawBodies) }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: raw.path)
    }

    // (b) durable single-event append: one transaction, one fsync each.
    Benchmark("append single durable · linli", configuration: .init(maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let log = makeLog("single")
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let id = "single-\(index)"
            blackHole(try! log.append(AppendCommand(commandId: id, requestDigest: Hash.sha256(id), actor: "bench",
                                                    occurredAt: Timestamp(epochMilliseconds: 1_717_200_000_000),
                                                    events: [NewEvent(stream: "s-\(index % 100)", type: "bench.event", payload: payloads[index % batchEvents])])))
            index += 1
        }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: log.path)
    }
    Benchmark("append single durable · raw", configuration: .init(maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let raw = RawLMDB(path: temporaryStorePath("single-raw"))
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            raw.putAndCommit(rawBodies[index % batchEvents])
            index += 1
        }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: raw.path)
    }

    // (c) full forward read with chain verification of 200,000 events.
    let verifyEvents = 200
    Benchmark("verify chain 200k · linli", configuration: .init(maxDuration: .seconds(6), maxIterations: 30)) { (benchmark: Benchmark) throws in
        let log = makeLog("verify")
        for index in 0..<verifyEvents { _ = try! log.append(batch(index)) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let report = try! log.verifyChain()
            precondition(report.ok && report.events == UInt64(verifyEvents * batchEvents))
        }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: log.path)
    }
    Benchmark("verify chain 200k · raw", configuration: .init(maxDuration: .seconds(6), maxIterations: 30)) { (benchmark: Benchmark) throws in
        // The raw scan reads the very same record bytes, copied into a bare environment.
        let log = makeLog("verify-source")
        for index in 0..<verifyEvents { _ = try! log.append(batch(index)) }
        let raw = RawLMDB(path: temporaryStorePath("verify-raw"))
        let records = storedRecords(log)
        for start in stride(from: 0, to: records.count, by: batchEvents) {
            raw.appendRecords(Array(records[start..<min(records.count, start + batchEvents)]))
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            precondition(raw.scanAndHash() == verifyEvents * batchEvents)
        }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: log.path)
        try? FileManager.default.removeItem(atPath: raw.path)
    }
}
