import ArgumentParser
import Foundation
import Linli

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a store from the built-in pilot sample and print its dashboard.",
        discussion: "The store is made anew at --store (default ./linli-demo.store). Example: linli demo --store /tmp/demo.store")

    @Option(help: "Where to create the demo store (replaced if it is a demo store).") var store: String = FileManager.default.currentDirectoryPath + "/linli-demo.store"

    func run() throws {
        if FileManager.default.fileExists(atPath: store) {
            // Replace only a Linli store (or an empty folder): never delete anything else.
            guard (try? EventLog.open(at: store)) != nil || (try? FileManager.default.contentsOfDirectory(atPath: store))?.isEmpty == true else {
                throw ExitError.store("linli: \(store) exists and is not a Linli store; choose another --store")
            }
            try FileManager.default.removeItem(atPath: store)
        }
        let engine = try Engine.create(at: store, admin: DemoSample.admin, at: Timestamp(iso8601: "2023-08-01T08:00:00+08:00"))
        let report = try engine.apply(lines: DemoSample.lines().map { Array($0.utf8) })
        guard report.committed else {
            for (line, rejection) in report.rejections { printError("\(line): \(rejection)") }
            throw ExitError.rejected("linli: the sample did not apply")
        }
        let chain = try engine.log.verifyChain()
        print("Linli demo store: \(store)")
        print("\(report.head.position) events, chain \(chain.ok ? "verified" : "BROKEN"), head \(report.head.hash.hex.prefix(16))…\n")
        let balances = try engine.balances()
        let issued = -balances.filter { $0.account.hasPrefix("issuance:") }.reduce(0) { $0 + $1.balance }
        let redeemed = balances.filter { $0.account.hasPrefix("store:") }.reduce(0) { $0 + $1.balance }
        let outstanding = balances.filter { $0.account.hasPrefix("resident:") }.reduce(0) { $0 + $1.balance }
        print("江山 市中心社区 — 有礼积分")
        print(renderTable(["points issued", "redeemed", "outstanding"], [["\(issued)", "\(redeemed)", "\(outstanding)"]], rightAligned: [0, 1, 2]))
        var top: [[String]] = []
        for balance in balances.filter({ $0.account.hasPrefix("resident:") }).sorted(by: { ($0.credited, $1.account) > ($1.credited, $0.account) }).prefix(5) {
            let id = String(balance.account.dropFirst("resident:".count))
            let name = try engine.resident(id)?.string("name") ?? ""
            top.append([id, name, "\(balance.credited)", "\(balance.balance)"])
        }
        print("top volunteers")
        print(renderTable(["resident", "name", "earned", "balance"], top, rightAligned: [2, 3]))
        print("charity store")
        print(renderTable(["item", "name", "left"], try engine.stock().map { [$0.item, $0.name, "\($0.quantity)"] }, rightAligned: [2]))
        print("micro-wishes: " + Dictionary(grouping: try engine.wishes(), by: { $0.string("state") }).map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", "))
        if let fund = try engine.fund("care-fund") {
            print("care fund: \(fund.fund.int("balanceFen") / 100).\(String(format: "%02d", fund.fund.int("balanceFen") % 100)) yuan after \(fund.movements.count) movements")
        }
        print("\n(deliberation, mediation and elder services join the dashboard as their domains land)")
    }
}
