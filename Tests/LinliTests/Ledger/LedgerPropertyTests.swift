import Foundation
@testable import Linli
import Testing

/// Every key and value of every projection database: the state a rebuild must reproduce byte for byte.
func projectionDump(_ engine: Engine) throws -> [String: [[UInt8]: [UInt8]]] {
    try engine.log.read { reader in
        var out: [String: [[UInt8]: [UInt8]]] = [:]
        for name in Engine.makeProjections().map(\.name) {
            for (table, database) in reader.databases(of: name).all {
                var rows: [[UInt8]: [UInt8]] = [:]
                try reader.withTransaction { txn in
                    _ = try txn.walk(database) {
                        rows[Array($0)] = Array($1); return true
                    }
                }
                out["\(name)/\(table)"] = rows
            }
        }
        return out
    }
}

@Suite("Ledger invariants over random command sequences")
struct LedgerPropertyTests {
    @Test("balances sum to zero, nothing goes below zero, and a replay equals the live state", arguments: [20_241_127 as UInt64, 7])
    func randomSequences(seed: UInt64) throws {
        let w = try World()
        try w.setUpCommunity()
        var rng = SplitMix64(state: seed)
        let residents = ["r-1", "r-2", "r-3"]
        var logs: [String] = [], redemptions: [String] = []
        var accepted = 0, rejected = 0
        for batchIndex in 0..<40 {
            var lines: [[UInt8]] = []
            for _ in 0..<50 {
                let n = w.nextId("p")
                let resident = residents[rng.below(3)]
                let line: String
                switch rng.below(10) {
                case 0, 1:
                    logs.append(n)
                    line = w.line(
                        "hours.log", actor: "gw-1", id: n,
                        [
                            ("log", .string(n)), ("volunteer", .string(resident)), ("minutes", .int(Int64(rng.below(800)))), ("activity", "服务"),
                            ("category", rng.below(2) == 0 ? "visit" : "other"),
                        ])
                case 2, 3:
                    let log = logs.isEmpty || rng.below(10) == 0 ? "missing" : logs[rng.below(logs.count)]
                    line = w.line(
                        rng.below(5) == 0 ? "hours.reject" : "hours.verify", actor: "sw-1", id: n,
                        rng.below(5) == 0 ? [("log", .string(log)), ("reason", "不符")] : [("log", .string(log))])
                case 4:
                    line = w.line(
                        "points.transfer", actor: resident, id: n,
                        [("from", .string(resident)), ("to", .string(residents[rng.below(3)])), ("points", .int(Int64(rng.below(40)))), ("reason", "转赠")])
                case 5:
                    line = w.line(
                        "gift.stock", actor: "sk-1", id: n,
                        [
                            ("item", .string("item-\(rng.below(3))")), ("community", "jiangshan"), ("name", "礼品"), ("pricePoints", 7),
                            ("quantity", .int(Int64(1 + rng.below(3)))),
                        ])
                case 6:
                    redemptions.append(n)
                    line = w.line(
                        "gift.redeem", actor: "sk-1", id: n,
                        [
                            ("redemption", .string(n)), ("resident", .string(resident)), ("item", .string("item-\(rng.below(3))")),
                            ("quantity", .int(Int64(1 + rng.below(3)))),
                        ])
                case 7:
                    let redemption = redemptions.isEmpty ? "missing" : redemptions[rng.below(redemptions.count)]
                    line = w.line("redemption.reverse", actor: "sk-1", id: n, [("redemption", .string(redemption)), ("reason", "退")])
                case 8:
                    line = w.line(
                        "points.adjust", actor: "admin", id: n,
                        [("account", .string("resident:\(resident)")), ("points", .int(Int64(rng.below(61)) - 30)), ("reason", "更正")])
                default:
                    line =
                        rng.below(2) == 0
                        ? w.line(
                            "fund.income", actor: "sw-1", id: n,
                            [("fund", "care"), ("community", "jiangshan"), ("source", "charitySale"), ("amountFen", .int(Int64(rng.below(5000))))])
                        : w.line(
                            "fund.disburse", actor: "sw-1", id: n,
                            [("fund", "care"), ("beneficiary", .string(resident)), ("amountFen", .int(Int64(1 + rng.below(5000)))), ("purpose", "慰问")])
                }
                lines.append(Array(line.utf8))
            }
            let report = try w.engine.apply(lines: lines, mode: .continueOnRejection)
            accepted += report.applied
            rejected += report.rejected
            // The invariants after every batch, read back from the projections.
            let balances = try w.engine.balances()
            #expect(balances.reduce(0) { $0 + $1.balance } == 0, "trial balance after batch \(batchIndex)")
            #expect(balances.filter { $0.account.hasPrefix("resident:") || $0.account.hasPrefix("store:") }.allSatisfy { $0.balance >= 0 })
            #expect(try w.engine.stock().allSatisfy { $0.quantity >= 0 })
            if let fund = try w.engine.fund("care") { #expect(try fund.fund.int("balanceFen") >= 0) }
        }
        #expect(accepted > 500 && rejected > 100, "the sequence exercised both paths: \(accepted) accepted, \(rejected) rejected")
        // Each statement's running balance ends at the account's balance.
        for resident in residents {
            let statement = try w.engine.statement(of: "resident:\(resident)")
            #expect(statement.last?.balance ?? 0 == (try w.engine.balance(of: "resident:\(resident)").balance))
            #expect(statement.reduce(0) { $0 + $1.amount } == (try w.engine.balance(of: "resident:\(resident)").balance))
        }
        let live = try projectionDump(w.engine)
        try w.engine.log.rebuildProjections()
        #expect(try projectionDump(w.engine) == live, "replaying the log reproduces every projection byte for byte")
        #expect(try w.engine.log.verifyChain().ok)
    }
}
