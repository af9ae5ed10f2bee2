import Foundation
@testable import Linli
import Testing

@Suite("The points ledger")
struct LedgerTests {
    @Test("hours earn floor(minutes × rate / 60) at the rate in force at their occurred time, even if verified later")
    func ratesAsOfOccurredTime() throws {
        let w = try World()
        try w.setUpCommunity()
        // Logged at 09:30 on 1 March when the rate was 10/h; the rate changes at noon, before verification.
        try w.ok(
            "hours.log", actor: "gw-1", at: "2024-03-01T09:30:00+08:00",
            [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 95), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok("points.rate.set", actor: "admin", at: "2024-03-01T12:00:00+08:00", [("community", "jiangshan"), ("pointsPerHour", 30)])
        try w.ok(
            "points.rate.set", actor: "admin", at: "2024-03-01T12:00:00+08:00", [("community", "jiangshan"), ("category", "visit"), ("pointsPerHour", 45)])
        try w.ok(
            "hours.log", actor: "gw-1", at: "2024-03-01T13:00:00+08:00",
            [("log", "l-2"), ("volunteer", "r-1"), ("minutes", 61), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok(
            "hours.log", actor: "r-1", at: "2024-03-01T14:00:00+08:00",
            [("log", "l-3"), ("volunteer", "r-1"), ("minutes", 59), ("activity", "义卖"), ("category", "charity")])
        for log in ["l-1", "l-2", "l-3"] { try w.ok("hours.verify", actor: "sw-1", at: "2024-03-02T10:00:00+08:00", [("log", .string(log))]) }
        // 95 × 10 / 60 = 15.83 → 15; 61 × 45 / 60 = 45.75 → 45 (category rate); 59 × 30 / 60 = 29.5 → 29 (default).
        let statement = try w.engine.statement(of: "resident:r-1")
        #expect(statement.map(\.amount) == [15, 45, 29])
        #expect(statement.map(\.balance) == [15, 60, 89])
        #expect(statement.map { $0.detail["pointsPerHour"] } == [.int(10), .int(45), .int(30)])
        let balance = try w.engine.balance(of: "resident:r-1")
        #expect(balance.balance == 89 && balance.credited == 89 && balance.debited == 0)
        #expect(try w.engine.balance(of: "issuance:jiangshan").balance == -89)
        // A log is verified once.
        _ = try w.refused(.illegalTransition, "hours.verify", actor: "sw-1", [("log", "l-1")])
        _ = try w.refused(.illegalTransition, "hours.reject", actor: "sw-1", [("log", "l-1"), ("reason", "重复")])
    }

    @Test("a rate set in the middle of a batch applies to the batch's later verifications, as it would one line at a time")
    func rateSetWithinOneBatch() throws {
        // A write transaction keeps the rate schedules it has read (TransactionCache); a rate set later in
        // the same transaction must still count, even one whose occurred time is earlier than rates read.
        for mode in [BatchMode.atomic, .continueOnRejection] {
            let w = try World()
            try w.setUpCommunity()
            try w.ok("points.rate.set", actor: "admin", at: "2024-03-01T08:00:00+08:00", [("community", "jiangshan"), ("pointsPerHour", 10)])
            let lines = [
                w.line(
                    "hours.log", actor: "gw-1", at: "2024-03-01T10:00:00+08:00",
                    [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "敲门入户"), ("category", "visit")]),
                w.line(
                    "hours.log", actor: "gw-1", at: "2024-03-01T10:00:00+08:00",
                    [("log", "l-2"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "敲门入户"), ("category", "visit")]),
                w.line(
                    "hours.log", actor: "gw-1", at: "2024-03-01T10:00:00+08:00",
                    [("log", "l-3"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "敲门入户"), ("category", "visit")]),
                w.line("hours.verify", actor: "sw-1", at: "2024-03-02T10:00:00+08:00", [("log", "l-1")]),
                // Occurred at 09:00, before the hours: it re-values l-2 (verified after it), never l-1.
                w.line("points.rate.set", actor: "admin", at: "2024-03-01T09:00:00+08:00", [("community", "jiangshan"), ("pointsPerHour", 20)]),
                w.line("hours.verify", actor: "sw-1", at: "2024-03-02T10:00:00+08:00", [("log", "l-2")]),
                w.line(
                    "points.rate.set", actor: "admin", at: "2024-03-01T09:30:00+08:00",
                    [("community", "jiangshan"), ("category", "visit"), ("pointsPerHour", 40)]),
                w.line("hours.verify", actor: "sw-1", at: "2024-03-02T10:00:00+08:00", [("log", "l-3")]),
            ]
            let report = try w.engine.apply(lines: lines.map { Array($0.utf8) }, mode: mode)
            #expect(report.committed && report.rejected == 0, "\(mode)")
            let statement = try w.engine.statement(of: "resident:r-1")
            #expect(statement.map(\.amount) == [10, 20, 40], "\(mode)")
            #expect(statement.map { $0.detail["pointsPerHour"] } == [.int(10), .int(20), .int(40)], "\(mode)")
        }
    }

    @Test("hours before any rate cannot be verified; rejected hours earn nothing")
    func noRateAndRejection() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok(
            "hours.log", actor: "gw-1", at: "2023-06-01T09:00:00+08:00",
            [("log", "old"), ("volunteer", "r-2"), ("minutes", 60), ("activity", "打扫"), ("category", "clean")])
        let rejection = try w.refused(.illegalTransition, "hours.verify", actor: "sw-1", [("log", "old")])
        #expect(rejection?.message.contains("no points rate") == true)
        try w.ok("hours.reject", actor: "sw-1", [("log", "old"), ("reason", "时间不符")])
        #expect(try w.engine.balance(of: "resident:r-2").balance == 0)
        #expect(try w.engine.pendingHours().isEmpty)
    }

    @Test("transfers, redemptions and reversals keep every balance, stock and total right")
    func storeAndTransfers() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("resident.tag", actor: "sw-1", [("resident", "r-3"), ("tag", "hardship")])
        try w.ok("hours.log", actor: "gw-1", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 600), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok("hours.verify", actor: "sw-1", [("log", "l-1")])  // 100 points
        _ = try w.refused(.invalidField, "points.transfer", actor: "r-1", [("from", "r-1"), ("to", "r-3"), ("points", 0), ("reason", "转赠")])
        _ = try w.refused(.insufficientBalance, "points.transfer", actor: "r-1", [("from", "r-1"), ("to", "r-3"), ("points", 101), ("reason", "转赠")])
        _ = try w.refused(.unauthorized, "points.transfer", actor: "r-2", [("from", "r-1"), ("to", "r-3"), ("points", 5), ("reason", "转赠")])
        try w.ok("points.transfer", actor: "r-1", [("from", "r-1"), ("to", "r-3"), ("points", 30), ("reason", "转赠困难户")])
        try w.ok("gift.stock", actor: "sk-1", [("item", "rice"), ("community", "jiangshan"), ("name", "大米5斤"), ("pricePoints", 20), ("quantity", 2)])
        try w.ok("gift.stock", actor: "sk-1", [("item", "rice"), ("community", "jiangshan"), ("name", "大米5斤"), ("pricePoints", 20), ("quantity", 1)])
        _ = try w.refused(
            .invalidField, "gift.stock", actor: "sk-1", [("item", "rice"), ("community", "jiangshan"), ("name", "大米5斤"), ("pricePoints", 25), ("quantity", 1)])
        _ = try w.refused(.outOfStock, "gift.redeem", actor: "sk-1", [("redemption", "x-1"), ("resident", "r-1"), ("item", "rice"), ("quantity", 4)])
        _ = try w.refused(.insufficientBalance, "gift.redeem", actor: "sk-1", [("redemption", "x-1"), ("resident", "r-3"), ("item", "rice"), ("quantity", 2)])
        try w.ok("gift.redeem", actor: "sk-1", [("redemption", "x-1"), ("resident", "r-1"), ("item", "rice"), ("quantity", 3)])
        #expect(try w.engine.balance(of: "resident:r-1").balance == 10)
        #expect(try w.engine.stock().first?.quantity == 0)
        _ = try w.refused(.outOfStock, "gift.redeem", actor: "sk-1", [("redemption", "x-2"), ("resident", "r-3"), ("item", "rice"), ("quantity", 1)])
        try w.ok("redemption.reverse", actor: "sk-1", [("redemption", "x-1"), ("reason", "退货")])
        _ = try w.refused(.illegalTransition, "redemption.reverse", actor: "sk-1", [("redemption", "x-1"), ("reason", "再退")])
        let r1 = try w.engine.balance(of: "resident:r-1")
        #expect(r1.balance == 70 && r1.credited == 160 && r1.debited == 90, "reversal is a new credit, never a negative amount")
        #expect(try w.engine.stock().first?.quantity == 3)
        let store = try w.engine.balance(of: "store:jiangshan")
        #expect(store.credited == 60 && store.debited == 60 && store.balance == 0)
        #expect(try w.engine.balances().reduce(0) { $0 + $1.balance } == 0, "trial balance")
        // Adjustments: compensating postings only; never below zero.
        _ = try w.refused(.insufficientBalance, "points.adjust", actor: "admin", [("account", "resident:r-3"), ("points", -31), ("reason", "更正")])
        _ = try w.refused(.unknownAccount, "points.adjust", actor: "admin", [("account", "issuance:jiangshan"), ("points", 5), ("reason", "更正")])
        try w.ok("points.adjust", actor: "admin", [("account", "resident:r-3"), ("points", -10), ("reason", "更正录入错误")])
        #expect(
            try w.engine.balance(of: "resident:r-3") == Balance(account: "resident:r-3", credited: 30, debited: 10, position: try w.engine.log.head.position))
        #expect(try w.engine.balances().reduce(0) { $0 + $1.balance } == 0)
    }

    @Test("wishes move open → claimed → fulfilled, or are cancelled; funds never go below zero")
    func wishesAndFunds() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("organization.register", actor: "admin", [("organization", "o-1"), ("community", "jiangshan"), ("name", "江山市税务局"), ("kind", "department")])
        try w.ok("wish.post", actor: "sw-1", [("wish", "w-1"), ("beneficiary", "r-3"), ("community", "jiangshan"), ("description", "想要一套绘本")])
        _ = try w.refused(.illegalTransition, "wish.fulfil", actor: "sw-1", [("wish", "w-1"), ("note", "")])
        _ = try w.refused(.unknownClaimant, "wish.claim", actor: "sw-1", [("wish", "w-1"), ("claimant", "nobody")])
        try w.ok("wish.claim", actor: "sw-1", [("wish", "w-1"), ("claimant", "o-1")])
        try w.ok("wish.fulfil", actor: "sw-1", [("wish", "w-1"), ("note", "已送达")])
        _ = try w.refused(.illegalTransition, "wish.cancel", actor: "sw-1", [("wish", "w-1")])
        try w.ok("wish.post", actor: "sw-1", [("wish", "w-2"), ("beneficiary", "r-2"), ("community", "jiangshan"), ("description", "修理收音机")])
        try w.ok("wish.cancel", actor: "sw-1", [("wish", "w-2"), ("note", "已自行解决")])
        #expect(try w.engine.wishes().map { try $0.string("state") } == ["fulfilled", "cancelled"])
        #expect(try w.engine.wishes(state: "fulfilled").map { try $0.string("wish") } == ["w-1"])

        _ = try w.refused(.unknownFund, "fund.disburse", actor: "sw-1", [("fund", "care"), ("beneficiary", "r-3"), ("amountFen", 100), ("purpose", "慰问")])
        try w.ok("fund.income", actor: "sw-1", [("fund", "care"), ("community", "jiangshan"), ("source", "charitySale"), ("amountFen", 12_000)])
        _ = try w.refused(
            .insufficientFunds, "fund.disburse", actor: "sw-1", [("fund", "care"), ("beneficiary", "r-3"), ("amountFen", 12_001), ("purpose", "慰问")])
        try w.ok("fund.disburse", actor: "sw-1", [("fund", "care"), ("beneficiary", "r-3"), ("amountFen", 12_000), ("purpose", "慰问困难户")])
        let fund = try #require(try w.engine.fund("care"))
        #expect(try fund.fund.int("balanceFen") == 0)
        #expect(try fund.movements.map { try $0.int("balanceFen") } == [12_000, 0])
    }
}
