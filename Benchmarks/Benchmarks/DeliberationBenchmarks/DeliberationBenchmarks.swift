// Deliberation beside raw LMDB (issue 4): a 10,000-voter owners' assembly recounted from the log, and
// applying ≈ 100k deliberation commands (the Zigang pilot's issue library, many rounds).
import Benchmark
import BenchmarkSupport
import Foundation
import Linli
import LinliStore

let voters = 10_000

func line(_ name: String, _ id: String, _ actor: String, _ fields: [(String, JSONValue)]) -> [UInt8] {
    Array(
        JSONValue.object([("command", .string(name)), ("id", .string(id)), ("actor", .string(actor)), ("at", "2024-05-10T19:00:00+08:00")] + fields).text.utf8)
}

/// An owners' assembly on a lift for a compound of 10,000 owners (one unit each), every owner attending
/// and voting, one in ten changing their vote: 31,000 events in the meeting's stream.
func assembly() -> Engine {
    let engine = try! Engine.create(at: tracked(temporaryStorePath("assembly")), admin: "admin", at: Timestamp(iso8601: "2024-01-01T08:00:00+08:00"))
    var lines = [
        line("community.register", "s-c", "admin", [("community", "zigang"), ("name", "紫港社区"), ("district", "常山县")]),
        line("role.grant", "s-g", "admin", [("subject", "gw"), ("role", "gridWorker"), ("community", "zigang")]),
        line("role.grant", "s-v", "admin", [("subject", "cv"), ("role", "convener"), ("community", "zigang")]),
    ]
    for n in 0..<voters {
        lines.append(
            line(
                "resident.register", "r-\(n)", "gw",
                [("resident", .string("o-\(n)")), ("community", "zigang"), ("household", .string("h-\(n)")), ("name", "业主"), ("birthYear", 1960)]))
        lines.append(
            line(
                "unit.register", "u-\(n)", "admin",
                [
                    ("unit", .string("u-\(n)")), ("community", "zigang"), ("compound", "紫港小区"), ("building", .string("\(n % 40)幢")),
                    ("areaSqm", .int(Int64(50 + n % 90))), ("owner", .string("o-\(n)")),
                ]))
    }
    lines += [
        line(
            "issue.propose", "i-p", "o-0",
            [
                ("issue", "lift"), ("community", "zigang"), ("scope", ["level": "compound", "ref": "紫港小区"]), ("title", "加装电梯"),
                ("description", "老楼加装电梯"), ("category", "lift"), ("channel", "meeting"),
            ]),
        line("issue.assess", "i-a", "cv", [("issue", "lift"), ("importance", 5), ("urgency", 4), ("feasibility", 4)]),
        line("issue.admit", "i-d", "cv", [("issue", "lift")]),
        line(
            "meeting.schedule", "m-s", "cv",
            [("meeting", "m"), ("issue", "lift"), ("format", "ownersAssembly"), ("rule", "doubleMajorityMajor"), ("startsAt", "2024-05-10T19:00:00+08:00")]),
    ]
    for n in 0..<voters {
        lines.append(line("meeting.attend", "a-\(n)", "cv", [("meeting", "m"), ("participant", .string("o-\(n)")), ("role", "owner")]))
        lines.append(line("vote.cast", "v-\(n)", "cv", [("meeting", "m"), ("participant", .string("o-\(n)")), ("choice", n % 5 == 0 ? "against" : "for")]))
        if n % 10 == 3 { lines.append(line("vote.cast", "w-\(n)", "cv", [("meeting", "m"), ("participant", .string("o-\(n)")), ("choice", "abstain")])) }
    }
    precondition(applyAll(engine, lines) == 0)
    return engine
}

/// ≈ 100k commands of the Zigang issue library: its residents and units, then 62 rounds of its ten issues.
let zigangLines: [[UInt8]] = {
    var scale = PilotFixtures.Scale.sample
    scale.zigangResidents = 2_400
    scale.zigangIssueRounds = 62
    return pilotLines(scale)["zigang"]!
}()
let chunkLines = 1_000

/// Mediation at scale: a community with 2,000 residents and two mediators, then 100 batches of 1,000
/// commands, each 200 disputes from report to follow-up (report, assign, session, resolve, follow-up).
let mediationSetup: [[UInt8]] = {
    var lines = [
        line("community.register", "ms-c", "admin", [("community", "jiangshan"), ("name", "市中心社区"), ("district", "虎山街道")]),
        line("role.grant", "ms-g", "admin", [("subject", "gw"), ("role", "gridWorker"), ("community", "jiangshan")]),
        line("role.grant", "ms-m", "admin", [("subject", "md"), ("role", "mediator"), ("community", "jiangshan")]),
    ]
    for n in 0..<2_000 {
        lines.append(
            line(
                "resident.register", "ms-r\(n)", "gw",
                [("resident", .string("r-\(n)")), ("community", "jiangshan"), ("household", .string("h-\(n)")), ("name", "居民"), ("birthYear", 1970)]))
    }
    return lines
}()
let mediationBatches: [[[UInt8]]] = (0..<100).map { batch in
    var lines: [[UInt8]] = []
    for k in 0..<200 {
        let d = JSONValue.string("d-\(batch)-\(k)"), n = batch * 200 + k
        lines.append(
            line(
                "dispute.report", "mr-\(n)", "gw",
                [
                    ("dispute", d), ("community", "jiangshan"), ("parties", [.string("r-\(n % 2_000)"), .string("r-\((n + 1) % 2_000)")]),
                    ("category", "noise"), ("description", "装修噪音扰民"), ("channel", "doorKnock"),
                ]))
        lines.append(line("dispute.assign", "ma-\(n)", "md", [("dispute", d), ("mediator", "md")]))
        lines.append(line("dispute.session", "mx-\(n)", "md", [("dispute", d), ("session", .string("s-\(n)")), ("attendees", ["md"]), ("notes", "当面沟通")]))
        lines.append(line("dispute.resolve", "mv-\(n)", "md", [("dispute", d), ("agreement", "施工限定在工作日白天")]))
        lines.append(line("dispute.followUp", "mf-\(n)", "md", [("dispute", d), ("satisfaction", 5), ("notes", "满意")]))
    }
    return lines
}

final class Shared: @unchecked Sendable {
    lazy var assemblyEngine = assembly()
    /// The meeting stream's positions, and the raw store holding the very same records.
    lazy var assemblyRaw: (RawLMDB, [UInt64]) = {
        let engine = assemblyEngine
        let raw = RawLMDB(path: tracked(temporaryStorePath("assembly-raw")))
        raw.appendRecords(try! allRecords(engine.log))
        let positions = try! engine.log.events(inStream: "meeting:m").map(\.position)
        return (raw, positions)
    }()
    lazy var deliberationEngine = try! Engine.create(
        at: tracked(temporaryStorePath("deliberation")), admin: PilotFixtures.admin, at: Timestamp(iso8601: "2023-07-01T08:00:00+08:00"))
    /// The records each chunk of Zigang lines appends, for the raw baseline.
    lazy var deliberationRecords: [[[UInt8]]] = {
        let engine = try! Engine.create(
            at: tracked(temporaryStorePath("deliberation-records")), admin: PilotFixtures.admin, at: Timestamp(iso8601: "2023-07-01T08:00:00+08:00"))
        var out: [[[UInt8]]] = []
        var start = 0
        while start < zigangLines.count {
            let first = try! engine.log.head.position + 1
            applyAll(engine, Array(zigangLines[start..<min(zigangLines.count, start + chunkLines)]))
            out.append(try! engine.log.events(from: first).map(\.storedBytes))
            start += chunkLines
        }
        return out
    }()
    lazy var deliberationRaw = RawLMDB(path: tracked(temporaryStorePath("deliberation-raw")))
    lazy var mediationEngine: Engine = {
        let engine = try! Engine.create(at: tracked(temporaryStorePath("mediation")), admin: "admin", at: Timestamp(iso8601: "2024-01-01T08:00:00+08:00"))
        precondition(applyAll(engine, mediationSetup) == 0)
        return engine
    }()
    lazy var mediationRecords: [[[UInt8]]] = {
        let engine = try! Engine.create(
            at: tracked(temporaryStorePath("mediation-records")), admin: "admin", at: Timestamp(iso8601: "2024-01-01T08:00:00+08:00"))
        precondition(applyAll(engine, mediationSetup) == 0)
        return mediationBatches.map { batch in
            let first = try! engine.log.head.position + 1
            precondition(applyAll(engine, batch) == 0)
            return try! engine.log.events(from: first).map(\.storedBytes)
        }
    }()
    lazy var mediationRaw = RawLMDB(path: tracked(temporaryStorePath("mediation-raw")))
}

nonisolated(unsafe) let shared = Shared()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], timeUnits: .microseconds, warmupIterations: 1,
        maxDuration: .seconds(20), maxIterations: 30)

    // Recounting the assembly from the log: the meeting's 21,000 events read back and decoded, the units
    // in scope read, each owner's latest vote tallied under Civil Code art. 278.
    Benchmark("owners' assembly 10000 voters recount · linli") { (benchmark: Benchmark) throws in
        let engine = shared.assemblyEngine
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let tally = try engine.recount(meeting: "m")
            precondition(tally?.votesCast == Int64(voters))
            blackHole(tally)
        }
        benchmark.stopMeasurement()
    }
    // The same records read raw by position, and the 10,000 unit rows' worth of bytes scanned.
    Benchmark("owners' assembly 10000 voters recount · raw") { (benchmark: Benchmark) throws in
        let (raw, positions) = shared.assemblyRaw
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(raw.readPositions(positions))
            blackHole(raw.readRange(from: Array(repeating: 0, count: 8), count: voters))
        }
        benchmark.stopMeasurement()
    }

    // Applying the Zigang issue library in transactions of 1,000 commands; each sample is the next chunk.
    Benchmark("deliberation apply 1000 commands · linli", configuration: .init(maxDuration: .seconds(60), maxIterations: 100)) {
        (benchmark: Benchmark) throws in
        let engine = shared.deliberationEngine
        for _ in benchmark.scaledIterations {
            let start = nextChunk * chunkLines
            guard start < zigangLines.count else { break }
            let lines = Array(zigangLines[start..<min(zigangLines.count, start + chunkLines)])
            nextChunk += 1
            benchmark.startMeasurement()
            let report = try engine.apply(lines: lines, mode: .continueOnRejection)
            benchmark.stopMeasurement()
            blackHole(report)
        }
    }
    // Mediation: 200 disputes from report to follow-up per batch of 1,000 commands.
    Benchmark("mediation apply 1000 commands · linli", configuration: .init(maxDuration: .seconds(60), maxIterations: 100)) { (benchmark: Benchmark) throws in
        let engine = shared.mediationEngine
        for _ in benchmark.scaledIterations {
            guard nextMediation < mediationBatches.count else { break }
            let batch = mediationBatches[nextMediation]
            nextMediation += 1
            benchmark.startMeasurement()
            let report = try engine.apply(lines: batch)
            benchmark.stopMeasurement()
            precondition(report.committed && report.rejected == 0)
        }
    }
    Benchmark("mediation apply 1000 commands · raw", configuration: .init(maxDuration: .seconds(60), maxIterations: 100)) { (benchmark: Benchmark) throws in
        let records = shared.mediationRecords
        for _ in benchmark.scaledIterations {
            guard nextMediationRaw < records.count else { break }
            let batch = records[nextMediationRaw]
            nextMediationRaw += 1
            benchmark.startMeasurement()
            shared.mediationRaw.appendRecords(batch)
            benchmark.stopMeasurement()
        }
    }
    Benchmark("deliberation apply 1000 commands · raw", configuration: .init(maxDuration: .seconds(60), maxIterations: 100)) { (benchmark: Benchmark) throws in
        let records = shared.deliberationRecords
        for _ in benchmark.scaledIterations {
            guard nextRawChunk < records.count else { break }
            let batch = records[nextRawChunk]
            nextRawChunk += 1
            benchmark.startMeasurement()
            shared.deliberationRaw.appendRecords(batch)
            benchmark.stopMeasurement()
        }
    }
}

nonisolated(unsafe) var nextChunk = 0
nonisolated(unsafe) var nextMediation = 0
nonisolated(unsafe) var nextMediationRaw = 0
nonisolated(unsafe) var nextRawChunk = 0
