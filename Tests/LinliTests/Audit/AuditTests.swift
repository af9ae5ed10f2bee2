import Foundation
@testable import Linli
import Testing

@Suite("Audit: the chain and every projection against a rebuild")
struct AuditTests {
    func busyWorld() throws -> World {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("hours.log", actor: "gw-1", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 300), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok("hours.verify", actor: "sw-1", [("log", "l-1")])
        try w.ok("gift.stock", actor: "sk-1", [("item", "rice"), ("community", "jiangshan"), ("name", "大米"), ("pricePoints", 20), ("quantity", 2)])
        try w.ok("gift.redeem", actor: "sk-1", [("redemption", "x-1"), ("resident", "r-1"), ("item", "rice"), ("quantity", 1)])
        return w
    }

    @Test("a clean store verifies: every event counted, every projection equal to its rebuild")
    func clean() throws {
        let w = try busyWorld()
        let report = try w.engine.audit()
        #expect(report.ok)
        #expect(report.chain.events == (try w.engine.log.head.position))
        #expect(report.projections.storedDigests == report.projections.rebuiltDigests)
        #expect(report.projections.storedDigests.keys.contains("ledger/accounts"))
        #expect(report.json["ok"] == .bool(true))
        #expect(report.json["head"] == .string(try w.engine.log.head.hash.hex))
    }

    @Test("the chain pass runs beside the rebuilds: both phases report progress to the end, one call at a time")
    func progressOfBothPhases() throws {
        let w = try busyWorld()
        let head = try w.engine.log.head.position
        final class Calls: @unchecked Sendable {
            var inside = false, overlapped = false
            var last: [String: (done: UInt64, total: UInt64)] = [:]
        }
        let calls = Calls()
        let report = try w.engine.audit { phase, done, total in
            if calls.inside { calls.overlapped = true }
            calls.inside = true
            calls.last[phase] = (done, total)
            usleep(20_000)  // widen the window in which a second caller would overlap
            calls.inside = false
        }
        #expect(report.ok)
        #expect(!calls.overlapped, "progress calls must not overlap")
        #expect(calls.last["chain"].map { $0.done == head && $0.total == head } == true)
        #expect(calls.last["projections"].map { $0.done == $0.total && $0.total == head * 5 } == true)
    }

    @Test("a projection value changed behind the engine's back is caught, with the key, both values and the last position")
    func tamperedProjection() throws {
        let w = try busyWorld()
        let accounts = try w.engine.log.read { $0.databases(of: "ledger")["accounts"] }
        // The stored rows are what an insider forges: the state in memory is written to them first.
        try w.engine.log.checkpoint()
        let original = try #require(try w.engine.log.environment.read { try $0.value(in: accounts, key: Array("resident:r-1".utf8)) })
        // An insider adds 1,000 points to a balance directly in LMDB.
        var forged = Array(original[0..<8])
        CBOR.encode(["account": "resident:r-1", "credited": 1_050, "debited": 20], into: &forged)
        try w.engine.log.environment.write { try $0.put(accounts, key: Array("resident:r-1".utf8), value: forged) }
        let report = try w.engine.audit()
        #expect(report.chain.ok, "the chain is untouched")
        #expect(!report.ok)
        let mismatch = try #require(report.projections.mismatches.first)
        #expect(report.projections.mismatches.count == 1)
        #expect(mismatch.projection == "ledger" && mismatch.database == "accounts" && AuditRendering.key(mismatch.key) == "resident:r-1")
        #expect(AuditRendering.value(try #require(mismatch.stored))["credited"] == .int(1_050))
        #expect(AuditRendering.value(try #require(mismatch.rebuilt))["credited"] == .int(50))
        #expect(AuditRendering.position(original) == AuditRendering.position(try #require(mismatch.rebuilt)), "the last event that touched the key")
        let json = report.json
        guard case .array(let mismatches)? = json["mismatches"] else { Issue.record("no mismatches array"); return }
        #expect(mismatches.first?["key"] == .string("resident:r-1"))
    }

    @Test("a deleted projection row and an extra one are both named")
    func missingAndExtraRows() throws {
        let w = try busyWorld()
        let items = try w.engine.log.read { $0.databases(of: "ledger")["items"] }
        try w.engine.log.checkpoint()
        try w.engine.log.environment.write { txn in
            _ = try txn.delete(items, key: Array("rice".utf8))
            try txn.put(items, key: Array("gold".utf8), value: [0, 0, 0, 0, 0, 0, 0, 1, 0xA0])
        }
        let report = try w.engine.audit()
        try #require(report.projections.mismatches.map { AuditRendering.key($0.key) } == ["gold", "rice"])
        #expect(report.projections.mismatches[0].rebuilt == nil && report.projections.mismatches[1].stored == nil)
    }
}
