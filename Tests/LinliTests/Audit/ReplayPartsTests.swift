import Foundation
@testable import Linli
@testable import LinliStore
import Testing

/// Issue 17: an audit of a store that is mostly ledger replays the ledger in two parts on two cores
/// (``Projection/replayParts``): the statements, and every other table. The parts must give the digests a
/// whole replay gives, skip only work their dropped tables need, and leave findings to the whole replay
/// that names them. (Every other audit test runs with the parts forced on: `World`.)
@Suite("Audit: the ledger replayed in parts")
struct ReplayPartsTests {
    /// Residents with hours logged, verified, redeemed, transferred; a fund, wishes and a reversal, so that
    /// every ledger table has rows.
    func ledgerWorld(replayInParts: Bool?, residents: Int = 6, logs: Int = 40) throws -> World {
        let w = try World(replayInParts: replayInParts)
        try w.ok("community.register", actor: "admin", [("community", "c1"), ("name", "东门"), ("district", "虎山街道")])
        for (subject, role) in [("gw", "gridWorker"), ("sw", "socialWorker"), ("sk", "storeKeeper")] {
            try w.ok("role.grant", actor: "admin", [("subject", .string(subject)), ("role", .string(role)), ("community", "c1")])
        }
        try w.ok("points.rate.set", actor: "admin", at: "2024-01-01T08:00:00+08:00", [("community", "c1"), ("pointsPerHour", 10)])
        for index in 0..<residents {
            try w.ok(
                "resident.register", actor: "gw",
                [("resident", .string("r-\(index)")), ("community", "c1"), ("household", .string("h-\(index)")), ("name", "王秀英"), ("birthYear", 1950)])
        }
        try w.ok("gift.stock", actor: "sk", [("item", "towel"), ("community", "c1"), ("name", "毛巾"), ("pricePoints", 1), ("quantity", 1_000)])
        for index in 0..<logs {
            let log = "l-\(index)", resident = "r-\(index % residents)"
            try w.ok(
                "hours.log", actor: "gw",
                [("log", .string(log)), ("volunteer", .string(resident)), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
            if index % 5 == 4 {
                try w.ok("hours.reject", actor: "sw", [("log", .string(log)), ("reason", "重复登记")])
                continue
            }
            try w.ok("hours.verify", actor: "sw", [("log", .string(log))])
            try w.ok("gift.redeem", actor: "sk", [("redemption", .string("x-\(index)")), ("resident", .string(resident)), ("item", "towel"), ("quantity", 2)])
        }
        try w.ok("redemption.reverse", actor: "sk", [("redemption", "x-0"), ("reason", "退回")])
        try w.ok("points.transfer", actor: "r-1", [("from", "r-1"), ("to", "r-2"), ("points", 1), ("reason", "邻里互助")])
        try w.ok("points.adjust", actor: "admin", [("account", "resident:r-0"), ("points", -1), ("reason", "更正")])
        try w.ok("fund.income", actor: "sw", [("fund", "f-1"), ("community", "c1"), ("source", "donation"), ("amountFen", 50_000)])
        try w.ok("fund.disburse", actor: "sw", [("fund", "f-1"), ("beneficiary", "r-1"), ("amountFen", 20_000), ("purpose", "助医")])
        try w.ok("wish.post", actor: "sw", [("wish", "w-1"), ("beneficiary", "r-2"), ("community", "c1"), ("description", "修理轮椅")])
        try w.ok("wish.claim", actor: "sw", [("wish", "w-1"), ("claimant", "r-1")])
        try w.engine.log.checkpoint()
        return w
    }

    @Test("the parts give the digests of a whole replay, and the audit says it replayed in parts")
    func partsEqualWhole() throws {
        let w = try ledgerWorld(replayInParts: true)
        let parts = try w.engine.audit()
        #expect(parts.ok, "\(parts.projections.mismatches)")
        #expect(parts.projections.replayedInParts == ["ledger"])
        // Accepted as they came: not replayed again whole.
        #expect(parts.projections.replayedAgain.isEmpty)
        // The same store, opened to replay the ledger whole.
        let copy = TemporaryDirectory()
        _ = try w.engine.log.backup(to: copy.sub("store"))
        var options = Engine.Options()
        options.replayInParts = false
        let whole = try Engine.open(at: copy.sub("store"), options: options).audit()
        #expect(whole.ok && whole.projections.replayedInParts.isEmpty)
        #expect(parts.projections.rebuiltDigests == whole.projections.rebuiltDigests)
        #expect(parts.projections.storedDigests == whole.projections.storedDigests)
        // Every ledger table has rows here, so each part's digests were of something.
        let ledger = try w.engine.log.read { reader in
            try reader.withTransaction { txn in try reader.slots.first { $0.projection.name == "ledger" }!.databases.all.map { try txn.count($0.database) } }
        }
        #expect(ledger.allSatisfy { $0 > 0 }, "\(ledger)")
    }

    @Test("left to decide, an audit replays the ledger in parts when it holds more rows than the other projections together, and not otherwise")
    func decidesBySize() throws {
        guard ProcessInfo.processInfo.activeProcessorCount > 1 else { return }  // one core: never in parts
        let ledgerHeavy = try ledgerWorld(replayInParts: nil, residents: 3, logs: 60)
        #expect(try ledgerHeavy.engine.audit().projections.replayedInParts == ["ledger"])
        let registryHeavy = try ledgerWorld(replayInParts: nil, residents: 200, logs: 5)
        #expect(try registryHeavy.engine.audit().projections.replayedInParts.isEmpty)
    }

    @Test(
        "a stored row changed in either part's tables is found and named by the whole replay that follows",
        arguments: ["postings", "accounts", "hours", "totals"])
    func tamperInEachPart(database: String) throws {
        let w = try ledgerWorld(replayInParts: true)
        let log = w.engine.log
        let table = try log.read { reader in reader.slots.first { $0.projection.name == "ledger" }!.databases[database] }
        let first = try log.environment.read { txn in
            var row: ([UInt8], [UInt8])?
            try txn.walk(table) { key, value in
                row = (Array(key), Array(value))
                return false
            }
            return row
        }
        let (key, value) = try #require(first)
        var forged = value
        forged[forged.count - 1] ^= 1
        try log.environment.write { try $0.put(table, key: key, value: forged) }
        let report = try w.engine.audit()
        #expect(!report.ok && report.projections.replayedInParts == ["ledger"] && report.projections.replayedAgain == ["ledger"])
        let mismatch = try #require(report.projections.mismatches.first, "\(database): \(report.projections.unnamedDifferences)")
        #expect(mismatch.projection == "ledger" && mismatch.database == database && mismatch.key == key)
        #expect(mismatch.stored == forged && mismatch.rebuilt == value)
    }

    /// Forges `field` of the event at `position` and re-hashes the chain after it, as a careful insider would.
    func forge(_ log: EventLog, at position: UInt64, _ field: String, _ value: JSONValue) throws {
        try TamperTests().rewriteChain(log, from: position) { event in
            event.payload = CBOR.encode((try! CBOR.decode(event.payload)).setting(field, value))
        }
    }

    @Test("impossible events that each part meets alone are reported as a whole replay reports them: the first in the log")
    func findingsAsWhole() throws {
        let w = try ledgerWorld(replayInParts: true)
        let log = w.engine.log
        var stocked: UInt64?, redeemed: UInt64?
        try log.read { reader in
            try reader.forEachEvent(from: 1) { event in
                if event.type == "gift.stocked", stocked == nil { stocked = event.position }
                if event.type == "gift.redeemed", stocked != nil { redeemed = event.position }
                return redeemed == nil
            }
        }
        let first = try #require(stocked), later = try #require(redeemed)
        // Only the part of the other tables meets the stock; only the balances' part meets a resident below zero.
        try forge(log, at: later, "points", .int(1_000_000))
        try forge(log, at: first, "quantity", .int(.min))
        let report = try w.engine.audit()
        #expect(report.chain.ok && !report.ok)
        let failure = try #require(report.projections.failure)
        #expect(failure.contains("position \(first)") && failure.contains("outside"), "\(failure)")
    }
}
