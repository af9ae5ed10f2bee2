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
    try! EventLog.create(at: tracked(temporaryStorePath(name)))
}

/// The 1,000 events of a batch, built once: the raw baseline's bodies are prepared outside its
/// measurement too, so neither side times the building of its input.
let batchEventsList = payloads.enumerated().map { NewEvent(stream: "s-\($0.offset % 100)", type: "bench.event", payload: $0.element) }

func batch(_ index: Int) -> AppendCommand {
    let id = "batch-\(index)"
    let occurredAt = Timestamp(epochMilliseconds: 1_717_200_000_000, offsetMinutes: 480)
    return AppendCommand(commandId: id, requestDigest: Hash.sha256(id), actor: "bench", occurredAt: occurredAt, events: batchEventsList)
}

/// Every stored record (key, value) of a log, read through the LMDB layer.
func storedRecords(_ log: EventLog) -> [[UInt8]] {
    let events = try! log.environment.database(named: "events", create: false)
    return try! log.environment.read { txn in
        var out: [[UInt8]] = []
        try txn.walk(events) { _, value in
            out.append(Array(value)); return true
        }
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

/// State that lives across samples: package-benchmark calls a benchmark's closure once per sample, and
/// each benchmark runs in a process of its own, so the stores are made once (outside any measurement)
/// and every sample appends to the same, growing store — the steady state a community's store is in.
final class Shared: @unchecked Sendable {
    lazy var appendLog = makeLog("append")
    lazy var appendRaw = RawLMDB(path: tracked(temporaryStorePath("append-raw")))
    lazy var singleLog = makeLog("single")
    lazy var singleRaw = RawLMDB(path: tracked(temporaryStorePath("single-raw")))
    var index = 0
    lazy var verifyLog: EventLog = {
        let log = makeLog("verify")
        for index in 0..<verifyBatches { _ = try! log.append(batch(index)) }
        return log
    }()
    lazy var verifyRaw: RawLMDB = {
        let raw = RawLMDB(path: tracked(temporaryStorePath("verify-raw")))
        let source = makeLog("verify-source")
        for index in 0..<verifyBatches { _ = try! source.append(batch(index)) }
        let records = storedRecords(source)
        for start in stride(from: 0, to: records.count, by: batchEvents) {
            raw.appendRecords(Array(records[start..<min(records.count, start + batchEvents)]))
        }
        try? FileManager.default.removeItem(atPath: source.path)
        return raw
    }()
}

nonisolated(unsafe) let shared = Shared()
let verifyBatches = 200

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], timeUnits: .microseconds,
        warmupIterations: 2, maxDuration: .seconds(4), maxIterations: 400)

    // (a) batched append: one write of 1,000 events of ~200 bytes, to a growing store.
    Benchmark("append batch 1000 · linli") { (benchmark: Benchmark) throws in
        let log = shared.appendLog
        for _ in benchmark.scaledIterations {
            let command = batch(shared.index)
            shared.index += 1
            benchmark.startMeasurement()
            blackHole(try log.append(command))
            benchmark.stopMeasurement()
        }
    }
    Benchmark("append batch 1000 · raw") { (benchmark: Benchmark) throws in
        let raw = shared.appendRaw
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            raw.appendChained(rawBodies)
            benchmark.stopMeasurement()
        }
    }

    // (b) durable single-event append: one transaction, one fsync each.
    Benchmark("append single durable · linli", configuration: .init(maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let log = shared.singleLog
        for _ in benchmark.scaledIterations {
            let index = shared.index
            shared.index += 1
            let id = "single-\(index)"
            let command = AppendCommand(
                commandId: id, requestDigest: Hash.sha256(id), actor: "bench",
                occurredAt: Timestamp(epochMilliseconds: 1_717_200_000_000),
                events: [batchEventsList[index % batchEvents]])
            benchmark.startMeasurement()
            blackHole(try log.append(command))
            benchmark.stopMeasurement()
        }
    }
    Benchmark("append single durable · raw", configuration: .init(maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let raw = shared.singleRaw
        for _ in benchmark.scaledIterations {
            let body = rawBodies[shared.index % batchEvents]
            shared.index += 1
            benchmark.startMeasurement()
            raw.putAndCommit(body)
            benchmark.stopMeasurement()
        }
    }

    // (c) full forward read with chain verification of 200,000 events (the raw scan reads the very same
    // record bytes, copied into a bare environment).
    Benchmark("verify chain 200k · linli", configuration: .init(maxDuration: .seconds(6), maxIterations: 30)) { (benchmark: Benchmark) throws in
        let log = shared.verifyLog
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let report = try log.verifyChain()
            precondition(report.ok && report.events == UInt64(verifyBatches * batchEvents))
        }
        benchmark.stopMeasurement()
    }
    Benchmark("verify chain 200k · raw", configuration: .init(maxDuration: .seconds(6), maxIterations: 30)) { (benchmark: Benchmark) throws in
        let raw = shared.verifyRaw
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            precondition(raw.scanAndHash() == verifyBatches * batchEvents)
        }
        benchmark.stopMeasurement()
    }
}
