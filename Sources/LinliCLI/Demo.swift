import ArgumentParser
import Foundation
import Linli

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Create a store from the three pilots' sample fixture and print a dashboard of the three communities.",
        discussion: """
            The sample is the one committed in Fixtures/sample (linli-fixtures writes the same bytes). Its marked \
            mistakes are applied too and must be refused, each with its expected reason. The store is made anew at \
            --store (default ./linli-demo.store). Example: linli demo --store /tmp/demo.store
            """)

    @Option(help: "Where to create the demo store (replaced if it is a demo store).") var store: String =
        FileManager.default.currentDirectoryPath + "/linli-demo.store"

    func run() throws {
        let engine = try makeStore()
        try printPoints(engine)
        try printDeliberation(engine)
        // "This week" is the sample's last week of services.
        let lastDay = Timestamp(iso8601: "2023-09-21T20:00:00+08:00")!
        try printElders(engine, week: lastDay)
        try printMediation(engine, now: lastDay)
        print("\nEvery figure above is a projection of the log: `linli audit verify --store \(store)` rebuilds them all from position 1.")
    }

    /// A new store from the sample, its marked mistakes refused as expected; prints its head.
    func makeStore() throws -> Engine {
        if FileManager.default.fileExists(atPath: store) {
            // Replace only a Linli store (or an empty folder): never delete anything else.
            guard (try? EventLog.open(at: store)) != nil || (try? FileManager.default.contentsOfDirectory(atPath: store))?.isEmpty == true else {
                throw ExitError.store("linli: \(store) exists and is not a Linli store; choose another --store")
            }
            try FileManager.default.removeItem(atPath: store)
        }
        let engine = try Engine.create(at: store, admin: PilotFixtures.admin, at: Timestamp(iso8601: "2023-07-01T08:00:00+08:00"))
        var lines: [String: [[UInt8]]] = [:]
        let expected = PilotFixtures(scale: .sample).generate { pilot, line in lines[pilot, default: []].append(Array(line.utf8)) }
        var refused: [(String, Int, String)] = []
        for pilot in PilotFixtures.pilots {
            let report = try engine.apply(lines: lines[pilot]!, mode: .continueOnRejection)
            refused += report.rejections.map { (pilot, $0.line, $0.rejection.reason.rawValue) }
        }
        guard refused.map({ "\($0.0):\($0.1):\($0.2)" }) == expected.rejections.map({ "\($0.pilot):\($0.line):\($0.reason)" }) else {
            for (pilot, line, reason) in refused { printError("\(pilot) \(line): \(reason)") }
            throw ExitError.rejected("linli: the sample did not apply as expected")
        }
        try engine.log.checkpoint()
        let chain = try engine.log.verifyChain()
        let head = try engine.log.head
        print("Linli demo store: \(store)")
        print(
            "\(head.position) events, chain \(chain.ok ? "verified" : "BROKEN"), head \(head.hash.hex.prefix(16))…; \(refused.count) marked mistakes refused as expected\n"
        )
        return engine
    }

    /// 江山: points issued and redeemed per community, the top volunteers, the store, wishes and the fund.
    func printPoints(_ engine: Engine) throws {
        let balances = try engine.balances()
        print("有礼积分 courtesy points")
        let communities = ["jiangshan": "江山 市中心社区", "hexi": "龙游 河西街社区", "zigang": "常山 紫港社区"]
        var pointRows: [[String]] = []
        for community in PilotFixtures.pilots {
            let issued = -(balances.first { $0.account == "issuance:\(community)" }?.balance ?? 0)
            let redeemed = balances.first { $0.account == "store:\(community)" }?.balance ?? 0
            guard issued > 0 else { continue }
            pointRows.append([communities[community]!, "\(issued)", "\(redeemed)", "\(issued - redeemed)"])
        }
        print(renderTable(["community", "issued", "redeemed", "outstanding"], pointRows, rightAligned: [1, 2, 3]))
        var top: [[String]] = []
        for balance in balances.filter({ $0.account.hasPrefix("resident:") }).sorted(by: { ($0.credited, $1.account) > ($1.credited, $0.account) }).prefix(5) {
            let id = String(balance.account.dropFirst("resident:".count))
            top.append([id, try engine.resident(id)?.string("name") ?? "", "\(balance.credited)", "\(balance.balance)"])
        }
        print("top volunteers")
        print(renderTable(["resident", "name", "earned", "balance"], top, rightAligned: [2, 3]))
        print("邻礼公益超市 charity store: " + (try engine.stock().map { "\($0.name) \($0.quantity)" }.joined(separator: "，")))
        try print(
            "微心愿 micro-wishes: "
                + Dictionary(grouping: try engine.wishes(), by: { try $0.string("state") }).map { "\($0.key) \($0.value.count)" }.sorted().joined(
                    separator: ", "))
        if let fund = try engine.fund("care-fund-js") {
            let balanceFen = try fund.fund.int("balanceFen")
            print(
                "爱心基金 care fund: \(balanceFen / 100).\(String(format: "%02d", balanceFen % 100)) yuan after \(fund.movements.count) movements\n"
            )
        }
    }

    /// 紫港: the issue library by state, and the agenda.
    func printDeliberation(_ engine: Engine) throws {
        print("议题库 issue library (常山 紫港社区), by state")
        let counts = try engine.issueCounts()
        print(renderTable(["state", "issues"], counts.map { [$0.state, "\($0.count)"] }, rightAligned: [1]))
        print("agenda, by priority")
        print(
            renderTable(
                ["issue", "state", "priority", "title"], try engine.issues().prefix(6).map { [$0.issue, $0.state, $0.priority.plain, $0.title] },
                rightAligned: [2]))
    }

    /// 河西: elders by tier, behind plan and willing to volunteer; mutual help; open concerns.
    func printElders(_ engine: Engine, week: Timestamp) throws {
        print("一老一策 elders (龙游 河西街社区), week \(ISOWeek(containing: week))")
        let elders = try engine.elders(now: week)
        var tierRows: [[String]] = []
        for tier in 0...3 {
            let inTier = elders.filter { $0.tier == Int64(tier) }
            tierRows.append(["tier \(tier)", "\(inTier.count)", "\(inTier.filter(\.behindPlan).count)", "\(inTier.filter(\.willingToWork).count)"])
        }
        print(renderTable(["tier", "elders", "behind plan", "willing to volunteer"], tierRows, rightAligned: [1, 2, 3]))
        let mutual = try engine.mutualHelp().sorted { try $0.int("minutes") > $1.int("minutes") }.prefix(3)
        try print("互助 mutual help, top volunteers: " + mutual.map { try "\($0.string("provider")) \($0.int("minutes") / 60)h" }.joined(separator: ", "))
        print("open concerns from door-knock visits: \(try engine.openConcerns().count)\n")
    }

    /// 江山: mediation's figures.
    func printMediation(_ engine: Engine, now: Timestamp) throws {
        let figures = try engine.mediationFigures(now: now)
        print(
            "矛盾纠纷调解 mediation (江山): \(figures["resolved"].plain) resolved, \(figures["firstSessionShare"].plain) at the first session, "
                + "mean \(figures["meanHoursToResolution"].plain) h to resolution, satisfaction \(figures["meanSatisfaction"].plain)")
    }
}
