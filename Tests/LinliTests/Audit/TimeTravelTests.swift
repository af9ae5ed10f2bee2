import Foundation
import Synchronization
@testable import Linli
@testable import LinliStore
import Testing

@Suite("Time travel: queries as of an occurred time or a position")
struct TimeTravelTests {
    @Test("a balance as of a time counts only what occurred by then; as of a position, only the events up to it")
    func balances() throws {
        let w = try World()
        try w.setUpCommunity()
        for (n, day) in ["01", "10", "20"].enumerated() {
            try w.ok(
                "hours.log", actor: "gw-1", at: "2024-03-\(day)T09:00:00+08:00",
                [("log", .string("l-\(n)")), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
            try w.ok("hours.verify", actor: "sw-1", at: "2024-03-\(day)T18:00:00+08:00", [("log", .string("l-\(n)"))])
        }
        let afterFirst = try w.engine.log.head.position - 4
        // Recorded last, occurred first: a backdated correction.
        try w.ok("points.adjust", actor: "admin", at: "2024-02-15T09:00:00+08:00", [("account", "resident:r-1"), ("points", 5), ("reason", "补录二月")])
        #expect(try w.engine.balance(of: "resident:r-1").balance == 35)
        let midMarch = try w.engine.asOf(Timestamp(iso8601: "2024-03-15T00:00:00+08:00"))
        #expect(try midMarch.balance(of: "resident:r-1").balance == 25)
        #expect(midMarch.isHistoricalView)
        let february = try w.engine.asOf(Timestamp(iso8601: "2024-02-29T00:00:00+08:00"))
        #expect(try february.balance(of: "resident:r-1").balance == 5)
        let byPosition = try w.engine.asOf(position: afterFirst)
        #expect(try byPosition.balance(of: "resident:r-1").balance == 10)
        #expect(byPosition.historicalScope?.position == afterFirst)
        // The live engine is untouched.
        #expect(try w.engine.balance(of: "resident:r-1").balance == 35)
    }

    @Test("an event whose prerequisite occurred later is left out and listed, not a crash")
    func skippedDependents() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok(
            "hours.log", actor: "gw-1", at: "2024-03-10T09:00:00+08:00",
            [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
        // Verified "before" it was logged: a clerical slip the engine accepts (the time is the actor's word).
        try w.ok("hours.verify", actor: "sw-1", at: "2024-03-09T09:00:00+08:00", [("log", "l-1")])
        let view = try w.engine.asOf(Timestamp(iso8601: "2024-03-09T12:00:00+08:00"))
        let scope = try #require(view.historicalScope)
        #expect(scope.skipped == [try w.engine.log.head.position - 1, try w.engine.log.head.position])
        #expect(try view.balance(of: "resident:r-1").balance == 0)
    }

    @Test("issues, elders and disputes as of a time")
    func domains() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.propose("noise", at: "2024-03-01T09:00:00+08:00")
        try w.ok("issue.assess", actor: "cv-1", at: "2024-03-05T09:00:00+08:00", [("issue", "noise"), ("importance", 3), ("urgency", 3), ("feasibility", 3)])
        let before = try w.engine.asOf(Timestamp(iso8601: "2024-03-03T00:00:00+08:00"))
        #expect(try before.issues().map(\.state) == ["proposed"])
        #expect(try before.issueDocument("noise")?["priority"] == .null)
        try w.survey("r-1", adl: 100, alone: false, at: "2024-03-01T09:00:00+08:00")
        try w.survey("r-1", adl: 50, alone: false, at: "2024-04-01T09:00:00+08:00")
        #expect(try w.engine.asOf(Timestamp(iso8601: "2024-03-15T00:00:00+08:00")).elderDocument("r-1")?["tier"] == 0)
        #expect(try w.engine.elderDocument("r-1")?["tier"] == 2)
    }

    /// Every projection database's digest as the live store presents it now, by `projection/database`.
    private func liveDigests(_ log: EventLog) throws -> [String: Hash] {
        try log.read { reader in
            try reader.withTransaction { txn in
                var out: [String: Hash] = [:]
                for slot in reader.slots {
                    for (name, database) in slot.databases.all {
                        out["\(slot.projection.name)/\(name)"] = try ProjectionDigest.of(database, name: name, of: slot.projection, txn)
                    }
                }
                return out
            }
        }
    }

    @Test("the pilots' sample: a view at a position holds exactly the rows the live projections held there, recorded as it was applied")
    func viewsEqualWhatWasLive() throws {
        let w = try World(admin: PilotFixtures.admin)
        var recorded: [(position: UInt64, digests: [String: Hash])] = []
        for pilot in PilotFixtures.pilots {
            let text = try String(contentsOf: PilotFixtureTests.sampleDirectory.appendingPathComponent("\(pilot).ndjson"), encoding: .utf8)
            let lines = text.split(separator: "\n").map { Array($0.utf8) }
            for start in stride(from: 0, to: lines.count, by: 700) {
                _ = try w.engine.apply(lines: Array(lines[start..<min(lines.count, start + 700)]), mode: .continueOnRejection)
                recorded.append((try w.engine.log.head.position, try liveDigests(w.engine.log)))
            }
        }
        #expect(recorded.count >= 8)
        for (position, digests) in recorded {
            let view = try w.engine.log.memoryProjections(upTo: position)
            #expect(view.position == position && view.skipped.isEmpty)
            #expect(try view.digests() == digests, "the view at \(position) differs from what was live there")
        }
    }

    @Test("a replay that would hold more than its memory budget stops with a message that says so")
    func memoryBudget() throws {
        let w = try World()
        try w.setUpCommunity()
        #expect(try w.engine.log.memoryProjections(memoryBytesMax: 1 << 20).position == (try w.engine.log.head.position))
        let error = #expect(throws: LogError.self) { try w.engine.log.memoryProjections(memoryBytesMax: 2_000) }
        #expect(error?.description.contains("replaying the log in memory needs more than") == true, "\(String(describing: error))")
    }

    /// A view for one domain's queries replays only the projections they read
    /// (``ProjectionName/read(byQueriesOf:)``): every query of every domain, over the pilots' sample, gives
    /// on it what it gives on a view that replayed everything (and a projection left out and read would
    /// stop the test with a precondition, naming it).
    @Test("each domain's queries answer on a view of only the projections they read exactly as on a whole view")
    func onlyWhatTheQueriesRead() throws {
        let (w, position, now) = try Self.midSummer()
        let engine = w.engine
        let whole = try engine.asOf(now, position: position)
        func view(_ domain: ProjectionName) throws -> Engine {
            try engine.asOf(now, position: position, projections: ProjectionName.read(byQueriesOf: domain))
        }
        func answers(_ view: Engine, _ domain: ProjectionName) throws -> [String] {
            switch domain {
            case .registry: return []
            case .ledger:
                let accounts = try whole.balances().map(\.account)
                var out = try accounts.map { try "\(view.balance(of: $0)) \(view.statement(of: $0)) \(view.explain(account: $0))" }
                out += ["\(try view.stock())", "\(try view.wishes())"]
                return out
            case .deliberation:
                let issues = try whole.issues().map(\.issue)
                return try ["\(view.issues())"] + issues.map { try "\(view.issueDocument($0, now: now) ?? .null) \(view.explain(issue: $0) ?? .null)" }
            case .mediation:
                let disputes = try whole.disputes(now: now).map(\.dispute)
                return try ["\(view.disputes(now: now))", "\(view.mediationFigures(now: now))"]
                    + disputes.map { try "\(view.disputeDocument($0, now: now) ?? .null)" }
            case .elders:
                let elders = try whole.elders(now: now).map(\.elder)
                return try ["\(view.elders(now: now))", "\(view.elders(behindPlan: true, now: now))"]
                    + elders.prefix(40).map { try "\(view.elderDocument($0, now: now) ?? .null) \(view.explain(elder: $0, now: now) ?? .null)" }
            }
        }
        for domain in ProjectionName.allCases where domain != .registry {
            let expected = try answers(whole, domain)
            #expect(expected.count > 2, "\(domain): the sample has something to ask about by then: \(expected)")
            #expect(try answers(try view(domain), domain) == expected, "\(domain)")
        }
    }

    /// A view without the append-only rows (``AppendOnlyRows/dropped``) serves the queries that read none:
    /// over the pilots' sample, each answers on it as on a view that holds everything, and it holds less.
    @Test("balances, stock, wishes and the elders' list answer on a view that drops statements and histories as on a whole view")
    func droppedAppendOnlyRows() throws {
        let (w, position, now) = try Self.midSummer()
        let engine = w.engine
        @Sendable func answers(_ view: Engine) throws -> [String] {
            let accounts = try view.balances()
            return try ["\(accounts)"] + accounts.map { try "\(view.balance(of: $0.account))" }
                + ["\(try view.stock())", "\(try view.wishes())", "\(try view.elders(now: now))", "\(try view.elders(behindPlan: true, now: now))"]
        }
        let whole = try engine.asOf(now, position: position)
        let expected = try answers(whole)
        #expect(expected.count > 10, "the sample has accounts by then")
        // Returned in order, a view is only read by its queries, which may run on several threads at once.
        #expect(whole.history!.overlay.top.allSatisfy { !$0.hasKeysOutOfOrder })
        let together = Mutex<[[String]]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let mine = try! answers(whole)
            together.withLock { $0.append(mine) }
        }
        #expect(together.withLock { $0 } == Array(repeating: expected, count: 4))
        for projections in [nil, [.ledger, .registry], [.elders, .registry]] as [Set<ProjectionName>?] {
            let dropped = try engine.asOf(now, position: position, projections: projections, appendOnly: .dropped)
            if projections == nil {
                #expect(try answers(dropped) == expected)
                let heldBytes = try engine.log.memoryProjections(upTo: position).overlay.approximateBytes
                #expect(try engine.log.memoryProjections(upTo: position, appendOnly: .dropped).overlay.approximateBytes < heldBytes / 2)
            } else if projections!.contains(.ledger) {
                let accounts = try whole.balances()
                #expect(try dropped.balances() == accounts)
                #expect(try "\(dropped.stock()) \(dropped.wishes())" == "\(whole.stock()) \(whole.wishes())")
            } else {
                #expect(try "\(dropped.elders(now: now))" == "\(whole.elders(now: now))")
            }
        }
    }

    /// A view for the elders' list keeps the adherence of the week the list reads, and no other
    /// (``Engine/eldersRowsKept(week:)``): the list is the whole view's, for weeks with deliveries and without.
    @Test("the elders' list on a view that keeps one week's adherence is the whole view's, and the view holds that week only")
    func oneWeekOfAdherence() throws {
        let (w, position, _) = try Self.midSummer()
        let engine = w.engine
        let adherence = "elders/adherence"
        var counted: [(whole: Int, kept: Int)] = []
        for now in ["2023-09-20T12:00:00+08:00", "2023-08-07T00:00:00+08:00", "2023-09-17T23:59:59+08:00"].map({ Timestamp(iso8601: $0)! }) {
            let week = ISOWeek(containing: now)
            let whole = try engine.asOf(now, position: position, projections: [.elders, .registry], appendOnly: .dropped)
            let kept = try engine.asOf(
                now, position: position, projections: [.elders, .registry], appendOnly: .dropped, rowsKept: Engine.eldersRowsKept(week: week))
            #expect(try "\(kept.elders(now: now))" == "\(whole.elders(now: now))", "\(week)")
            #expect(try "\(kept.elders(behindPlan: true, now: now))" == "\(whole.elders(behindPlan: true, now: now))", "\(week)")
            func weeks(_ view: Engine) throws -> Set<[UInt8]> {
                try view.history!.read { txn in
                    var out = Set<[UInt8]>()
                    try txn.walk(view.history!.databases["elders"]!["adherence"]) { key, _ in
                        let zero = key.firstIndex(of: 0)!
                        out.insert(Array(key[(zero + 1)...(zero + 8)]))
                        return true
                    }
                    return out
                }
            }
            let monday = bigEndianKey(UInt64(week.mondayDay))
            let wholeWeeks = try weeks(whole), keptWeeks = try weeks(kept)
            counted.append((wholeWeeks.count, keptWeeks.count))
            #expect(keptWeeks.isSubset(of: [monday]), "\(adherence) holds \(week) only")
        }
        #expect(counted.contains { $0.whole >= 3 && $0.kept == 1 }, "a view that counts several weeks, of which one is kept: \(counted)")
        #expect(
            try engine.asOf(Timestamp(iso8601: "2023-09-20T12:00:00+08:00"), position: position).elders(now: Timestamp(iso8601: "2023-09-20T12:00:00+08:00")!)
                .contains { $0.delivered > 0 }, "a week with deliveries is among those compared")
    }

    /// A view for one account's statement holds that account's postings only
    /// (``AppendOnlyRows/heldFor(entities:)``): its statement is the whole view's, another's is empty.
    @Test("an account's statement on a view that holds only its postings is the whole view's")
    func statementOfOneAccount() throws {
        let (w, position, _) = try Self.midSummer()
        let engine = w.engine
        let whole = try engine.asOf(position: position)
        let accounts = try whole.balances().map(\.account)
        #expect(accounts.count > 3)
        for account in accounts.prefix(3) {
            let view = try engine.asOf(position: position, projections: [.ledger, .registry], appendOnly: .heldFor(entities: [account]))
            let lines = try view.statement(of: account)
            #expect(!lines.isEmpty)
            #expect("\(lines)" == "\(try whole.statement(of: account))")
            #expect(try view.balance(of: account) == (try whole.balance(of: account)))
            let other = accounts.first { $0 != account }!
            #expect(try view.statement(of: other).isEmpty, "another account's postings are not held")
        }
        // An account that cannot hold rows (as `linli statement ""` asks) has an empty statement, as on a
        // whole view, rather than stopping the program.
        let none = try engine.asOf(position: position, projections: [.ledger, .registry], appendOnly: .heldFor(entities: [""]))
        #expect(try none.statement(of: "").isEmpty && (try whole.statement(of: "").isEmpty))
    }

    /// The pilots' sample mid-way through their summer, where each domain has begun and not every event
    /// is in: its world (which keeps the store's folder), a position 200 events before the head, and a
    /// time then.
    private static func midSummer() throws -> (world: World, position: UInt64, now: Timestamp) {
        let world = try TamperPropertyTests.sampleWorld()
        return (world, try world.engine.log.head.position - 200, Timestamp(iso8601: "2023-09-20T12:00:00+08:00")!)
    }
}
