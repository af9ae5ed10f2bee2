// The points ledger beside raw LMDB (issue 3): applying ledger commands in batches of 1,000, and a
// balance read.
import Benchmark
import BenchmarkSupport
import Foundation
import Linli

let residentsCount = 1_000
let batchCommands = 1_000
let batchesMax = 200  // 200k commands: the engine writes three checkpoints inside the measurement (every 65,536 events)

func line(_ name: String, _ id: String, _ actor: String, _ at: String, _ fields: [(String, JSONValue)]) -> [UInt8] {
    Array(JSONValue.object([("command", .string(name)), ("id", .string(id)), ("actor", .string(actor)), ("at", .string(at))] + fields).text.utf8)
}

/// A store with a community, staff, 1,000 residents, a rate and a well-stocked gift.
func preparedEngine(_ name: String) -> Engine {
    let engine = try! Engine.create(at: tracked(temporaryStorePath(name)), admin: "admin", at: Timestamp(iso8601: "2024-01-01T08:00:00+08:00"))
    var lines = [
        line("community.register", "s-0", "admin", "2024-01-01T08:00:00+08:00", [("community", "jiangshan"), ("name", "市中心社区"), ("district", "虎山街道")]),
        line("points.rate.set", "s-1", "admin", "2024-01-01T08:00:00+08:00", [("community", "jiangshan"), ("pointsPerHour", 10)]),
    ]
    for (index, (subject, role)) in [("gw-1", "gridWorker"), ("sw-1", "socialWorker"), ("sk-1", "storeKeeper")].enumerated() {
        lines.append(
            line(
                "role.grant", "s-r\(index)", "admin", "2024-01-01T08:00:00+08:00",
                [("subject", .string(subject)), ("role", .string(role)), ("community", "jiangshan")]))
    }
    for index in 0..<residentsCount {
        lines.append(
            line(
                "resident.register", "s-p\(index)", "gw-1", "2024-01-02T08:00:00+08:00",
                [
                    ("resident", .string("r-\(index)")), ("community", "jiangshan"),
                    ("household", .string("h-\(index / 3)")), ("name", "王秀英"), ("birthYear", 1950),
                ]))
    }
    lines.append(
        line(
            "gift.stock", "s-g", "sk-1", "2024-01-02T08:00:00+08:00",
            [("item", "towel"), ("community", "jiangshan"), ("name", "毛巾"), ("pricePoints", 1), ("quantity", 1_000_000)]))
    let report = try! engine.apply(lines: lines)
    precondition(report.committed, "set-up rejected: \(report.rejections.first.map { "\($0.rejection)" } ?? "")")
    return engine
}

/// 100 batches of 1,000 commands: hours.log, hours.verify of the previous batch's logs, and gift.redeem
/// by residents who have points, the mix of a year at the charity store. The generator keeps balances so
/// that no line is rejected.
let ledgerBatches: [[[UInt8]]] = {
    var batches: [[[UInt8]]] = []
    var pending: [(log: String, resident: Int, minutes: Int64)] = []
    var balances = [Int64](repeating: 0, count: residentsCount)
    var n = 0
    for batch in 0..<batchesMax {
        var lines: [[UInt8]] = []
        let day = String(format: "2024-%02d-%02dT", 2 + batch / 28, 1 + batch % 28)
        var verifiable = pending
        pending = []
        while lines.count < batchCommands {
            n += 1
            let resident = (n * 7919) % residentsCount
            if n % 5 == 0, balances[resident] >= 1 {
                balances[resident] -= 1
                lines.append(
                    line(
                        "gift.redeem", "c-\(n)", "sk-1", day + "18:00:00+08:00",
                        [("redemption", .string("x-\(n)")), ("resident", .string("r-\(resident)")), ("item", "towel"), ("quantity", 1)]))
            } else if let next = verifiable.popLast(), n % 2 == 0 {
                balances[next.resident] += next.minutes * 10 / 60
                lines.append(line("hours.verify", "c-\(n)", "sw-1", day + "17:00:00+08:00", [("log", .string(next.log))]))
            } else {
                let minutes = Int64(30 + n % 8 * 15)
                pending.append(("l-\(n)", resident, minutes))
                lines.append(
                    line(
                        "hours.log", "c-\(n)", "gw-1", day + "09:30:00+08:00",
                        [
                            ("log", .string("l-\(n)")), ("volunteer", .string("r-\(resident)")),
                            ("minutes", .int(minutes)), ("activity", "敲门入户"), ("category", "visit"),
                        ]))
            }
        }
        pending += verifiable
        batches.append(lines)
    }
    return batches
}()

/// Applies every batch to a fresh store and returns the records each batch appended (the raw baseline
/// appends exactly these bytes). package-benchmark runs each benchmark in a process of its own, so the
/// baseline makes them itself, outside its measurement.
func recordsPerBatch() throws -> [[[UInt8]]] {
    let engine = preparedEngine("ledger-records")
    defer { try? FileManager.default.removeItem(atPath: engine.log.path) }
    let events = try engine.log.environment.database(named: "events", create: false)
    var out: [[[UInt8]]] = []
    for batch in ledgerBatches {
        let first = try engine.log.head.position + 1
        let report = try engine.apply(lines: batch)
        precondition(report.committed && report.rejected == 0)
        out.append(
            try engine.log.environment.read { txn in
                var records: [[UInt8]] = []
                try txn.walk(events, from: bigEndianKey(first)) { _, value in
                    records.append(Array(value)); return true
                }
                return records
            })
    }
    return out
}

/// The batches as the layout floor sees them (outside any measurement): each line's keys, a verification
/// carrying the volunteer of the log it verifies.
func floorBatches() -> [[FloorCommand]] {
    var volunteers: [String: String] = [:]
    func text(_ json: JSONValue, _ key: String) -> String {
        guard case .string(let value)? = json[key] else { preconditionFailure("no \(key) in a benchmark line") }
        return value
    }
    return ledgerBatches.map { batch in
        batch.map { line in
            let json = try! JSONParser.parse(line)
            let id = Array(text(json, "id").utf8)
            switch text(json, "command") {
            case "hours.log":
                volunteers[text(json, "log")] = text(json, "volunteer")
                return .log(id: id, log: Array(text(json, "log").utf8), resident: Array(text(json, "volunteer").utf8))
            case "hours.verify":
                return .verify(id: id, log: Array(text(json, "log").utf8), resident: Array(volunteers[text(json, "log")]!.utf8))
            default:
                return .redeem(id: id, redemption: Array(text(json, "redemption").utf8), resident: Array(text(json, "resident").utf8))
            }
        }
    }
}

/// State that lives across samples: package-benchmark calls a closure once per sample, each benchmark in
/// a process of its own. Stores are prepared once, outside any measurement; every sample applies the
/// next batch, so the 100 samples are the 100 batches in order.
final class Shared: @unchecked Sendable {
    lazy var ledgerEngine = preparedEngine("ledger")
    lazy var rawRecords: [[[UInt8]]] = try! recordsPerBatch()
    lazy var raw = RawLMDB(path: tracked(temporaryStorePath("ledger-raw")))
    lazy var floorCommands = floorBatches()
    lazy var floor = LedgerFloor(path: tracked(temporaryStorePath("ledger-floor")), residentsCount: residentsCount)
    lazy var checkpointedFloor = CheckpointedLedgerFloor(path: tracked(temporaryStorePath("ledger-floor-v2")), residentsCount: residentsCount)
    lazy var balanceEngine: Engine = {
        let engine = preparedEngine("balance")
        let report = try! engine.apply(lines: ledgerBatches[0] + ledgerBatches[1])
        precondition(report.committed)
        return engine
    }()
    lazy var balanceRaw: RawLMDB = {
        let raw = RawLMDB(path: tracked(temporaryStorePath("balance-raw")))
        raw.putKeyed((0..<residentsCount).map { (Array("resident:r-\($0)".utf8), [UInt8](repeating: 7, count: 60)) })
        return raw
    }()
    /// A store whose last checkpoint is 64,000 events behind its head (issue 16 goal 4): the set-up is
    /// checkpointed, then 64 batches are applied by an engine that never reaches the 65,536-event interval
    /// and is dropped without a checkpoint, as a process killed after its last commit leaves the store.
    lazy var behindPath = storeBehind(batches: behindBatches)
    /// The same 64,000 records in a bare environment, closed again: each sample opens it afresh (LMDB
    /// allows one open of an environment per process).
    lazy var behindRawPath = rawBehind(batches: behindBatches)
    /// A store 1,000 events behind its checkpoint, one checkpointed at its head, and the raw floor of the
    /// first: what 1,000 events of tail add to an open (goal: at most 10 ms).
    lazy var behind1kPath = storeBehind(batches: 1)
    lazy var atCheckpointPath = storeBehind(batches: 0)
    lazy var behind1kRawPath = rawBehind(batches: 1)

    /// A prepared store, checkpointed, with `batches` batches applied after the checkpoint by an engine
    /// dropped without one.
    func storeBehind(batches: Int) -> String {
        let engine = preparedEngine("behind-\(batches)")
        try! engine.log.checkpoint()
        for batch in ledgerBatches.prefix(batches) {
            precondition(try! engine.apply(lines: batch).committed)
        }
        let checkpointed = try! engine.log.read { reader in try reader.checkpoints().values.map { $0.position }.min() ?? 0 }
        let head = try! engine.log.head.position
        precondition(head - checkpointed >= UInt64(batches * batchCommands), "the store is \(head - checkpointed) events behind")
        return engine.log.path
    }

    /// The records of `batches` batches in a bare environment, closed again.
    func rawBehind(batches: Int) -> String {
        let raw = RawLMDB(path: tracked(temporaryStorePath("behind-raw-\(batches)")))
        for batch in rawRecords.prefix(batches) { raw.appendRecords(batch) }
        return raw.path
    }
    /// A store for one command at a time, and a bare environment for the record each one appends.
    lazy var singleEngine = preparedEngine("single")
    lazy var singleRaw = RawLMDB(path: tracked(temporaryStorePath("single-raw")))
    /// The benchmark's lines in order, and the record each appended (one event a command in this mix).
    lazy var singleLines = Array(ledgerBatches.joined())
    lazy var singleRecords: [[UInt8]] = {
        let records = Array(rawRecords.joined())
        precondition(records.count == singleLines.count, "each command of the mix appends one event")
        return records
    }()
    var batch = 0
    var index = 0
    var single = 0
}

let behindBatches = 64

nonisolated(unsafe) let shared = Shared()
let accounts = (0..<residentsCount).map { "resident:r-\($0)" }
let accountKeys = accounts.map { Array($0.utf8) }

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], timeUnits: .microseconds,
        warmupIterations: 0, maxDuration: .seconds(30), maxIterations: batchesMax)

    // Applying the 100 batches of 1,000 ledger commands in order; each sample is one batch.
    Benchmark("ledger apply 1000 commands · linli") { (benchmark: Benchmark) throws in
        let engine = shared.ledgerEngine
        for _ in benchmark.scaledIterations {
            let lines = ledgerBatches[shared.batch % batchesMax]
            shared.batch += 1
            benchmark.startMeasurement()
            let report = try engine.apply(lines: lines)
            benchmark.stopMeasurement()
            precondition(report.committed && report.rejected == 0, "a benchmark line was rejected: \(report.rejections.first.map { "\($0.rejection)" } ?? "")")
        }
    }

    // The raw append of the very events those batches produced, one transaction per batch.
    Benchmark("ledger apply 1000 commands · raw") { (benchmark: Benchmark) throws in
        let raw = shared.raw
        measureEach(benchmark, shared.rawRecords, &shared.batch) { raw.appendRecords($0) }
    }

    // The floor of the layout (BenchmarkSupport/LedgerFloor.swift): the same batches as the minimum of LMDB
    // reads and writes and the SHA-256 that the required rows imply, on prepared bytes. Linli's figure over
    // this one is what the engine adds; this one over the raw append is what the layout itself costs.
    Benchmark("ledger apply 1000 commands · floor") { (benchmark: Benchmark) throws in
        let records = shared.rawRecords
        let commands = shared.floorCommands
        let floor = shared.floor
        for _ in benchmark.scaledIterations {
            let index = shared.batch % records.count
            shared.batch += 1
            benchmark.startMeasurement()
            floor.apply(commands[index], records: records[index])
            benchmark.stopMeasurement()
        }
    }

    // The floor of the checkpointed layout (BenchmarkSupport/CheckpointedLedgerFloor.swift): the same
    // batches, rows kept in memory and written sorted every 65,536 events, as the engine now does.
    Benchmark("ledger apply 1000 commands · floor-v2") { (benchmark: Benchmark) throws in
        let records = shared.rawRecords
        let commands = shared.floorCommands
        let floor = shared.checkpointedFloor
        for _ in benchmark.scaledIterations {
            let index = shared.batch % records.count
            shared.batch += 1
            benchmark.startMeasurement()
            floor.apply(commands[index], records: records[index])
            benchmark.stopMeasurement()
        }
    }

    // One command in one durable commit (issue 16 goal 3): `Engine.apply` of a single line, which parses,
    // decides, appends, applies the projections and commits with an fsync. Commands run in the mix's order.
    Benchmark("ledger one command durable · linli", configuration: .init(maxDuration: .seconds(20), maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let engine = shared.singleEngine
        for _ in benchmark.scaledIterations {
            let line = shared.singleLines[shared.single % shared.singleLines.count]
            shared.single += 1
            benchmark.startMeasurement()
            let report = try engine.apply(lines: [line])
            benchmark.stopMeasurement()
            precondition(report.committed && report.rejected == 0, "a benchmark line was rejected")
        }
    }
    // The raw floor of that: the same command's record put and committed durably, one transaction each.
    Benchmark("ledger one command durable · raw", configuration: .init(maxDuration: .seconds(20), maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let raw = shared.singleRaw
        measureEach(benchmark, shared.singleRecords, &shared.single) { raw.putAndCommit($0) }
    }

    // A balance read, in-process: 1,000 reads per sample (the figure is per 1,000).
    Benchmark("balance read x1000 · linli", configuration: .init(maxDuration: .seconds(5), maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let engine = shared.balanceEngine
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for _ in 0..<1_000 {
                blackHole(try engine.balance(of: accounts[shared.index % residentsCount]))
                shared.index += 1
            }
        }
        benchmark.stopMeasurement()
    }
    // The same 1,000 keys and row sizes in a bare environment: a read transaction and one mdb_get each.
    Benchmark("balance read x1000 · raw", configuration: .init(maxDuration: .seconds(5), maxIterations: 2_000)) { (benchmark: Benchmark) throws in
        let raw = shared.balanceRaw
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for _ in 0..<1_000 {
                blackHole(raw.get(accountKeys[shared.index % residentsCount]))
                shared.index += 1
            }
        }
        benchmark.stopMeasurement()
    }

    // Opening a store whose last checkpoint is 64,000 events behind, read-only as `linli balance` does,
    // and reading one balance: the tail is replayed in memory (goal ≤ 0.5 s). Each sample opens afresh.
    Benchmark("open 64k events behind · linli", configuration: .init(maxDuration: .seconds(30), maxIterations: 10)) { benchmark in
        try openAndReadBalance(shared.behindPath, benchmark)
    }
    // The raw floor of that: opening an environment and reading the same 64,000 records with a cursor.
    Benchmark("open 64k events behind · raw", configuration: .init(maxDuration: .seconds(30), maxIterations: 10)) { benchmark in
        openAndReadRecords(shared.behindRawPath, behindBatches * batchCommands, benchmark)
    }

    // The same with 1,000 events of tail, and with none: the difference is what a CLI session's tail of
    // 1,000 events adds to an open (goal: at most 10 ms).
    for (name, behind) in [("open 1k events behind · linli", true), ("open at the checkpoint · linli", false)] {
        Benchmark(name, configuration: .init(maxDuration: .seconds(30), maxIterations: 50)) { benchmark in
            try openAndReadBalance(behind ? shared.behind1kPath : shared.atCheckpointPath, benchmark)
        }
    }
    Benchmark("open 1k events behind · raw", configuration: .init(maxDuration: .seconds(30), maxIterations: 50)) { benchmark in
        openAndReadRecords(shared.behind1kRawPath, batchCommands, benchmark)
    }
}

/// Each sample runs `body` on the next of `items` (`next` counts them, going round), measuring `body` alone.
func measureEach<Item>(_ benchmark: Benchmark, _ items: [Item], _ next: inout Int, _ body: (Item) throws -> Void) rethrows {
    for _ in benchmark.scaledIterations {
        let item = items[next % items.count]
        next += 1
        benchmark.startMeasurement()
        try body(item)
        benchmark.stopMeasurement()
    }
}

/// Each sample opens the store at `path` read-only, as `linli balance` does, and reads one balance: the
/// tail after its checkpoint is replayed in memory.
func openAndReadBalance(_ path: String, _ benchmark: Benchmark) throws {
    var options = Engine.Options()
    options.readOnly = true
    for _ in benchmark.scaledIterations {
        benchmark.startMeasurement()
        let engine = try Engine.open(at: path, options: options)
        blackHole(try engine.balance(of: accounts[1]))
        benchmark.stopMeasurement()
    }
}

/// Each sample opens the bare environment at `path` and reads its `records` records with a cursor.
func openAndReadRecords(_ path: String, _ records: Int, _ benchmark: Benchmark) {
    for _ in benchmark.scaledIterations {
        benchmark.startMeasurement()
        let raw = RawLMDB(path: path)
        precondition(raw.readRange(from: bigEndianKey(1), count: .max) == records)
        benchmark.stopMeasurement()
    }
}
