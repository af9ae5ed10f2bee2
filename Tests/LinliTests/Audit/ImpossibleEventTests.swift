import Foundation
@testable import Linli
@testable import LinliStore
import Testing

/// Issue 18 item 5: well-formed but impossible events — a forged export whose chain was recomputed, which
/// costs nothing — are findings naming their position in `audit verify --export` and refusals at that
/// position in an import, never a trap that stops the auditor with no position.
@Suite("Impossible events: findings naming the position, never a trap")
struct ImpossibleEventTests {
    /// Every kind of amount a replay adds up: points (hours, an adjustment), stock, a fund, a unit's area,
    /// an elder's delivery minutes, and a meeting's result.
    func world() throws -> World {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("hours.log", actor: "gw-1", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 180), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok("hours.verify", actor: "sw-1", [("log", "l-1")])
        try w.ok("points.adjust", actor: "admin", [("account", "resident:r-1"), ("points", 5), ("reason", "补录")])
        try w.ok("gift.stock", actor: "sk-1", [("item", "rice"), ("community", "jiangshan"), ("name", "大米5斤"), ("pricePoints", 10), ("quantity", 2)])
        try w.ok(
            "unit.register", actor: "admin",
            [("unit", "u-1"), ("community", "jiangshan"), ("compound", "紫港小区"), ("building", "1幢"), ("areaSqm", 90), ("owner", "r-1")])
        try w.ok("organization.register", actor: "admin", [("organization", "canteen"), ("community", "jiangshan"), ("name", "长者食堂"), ("kind", "socialOrg")])
        try w.survey("r-1", adl: 60, alone: false)
        try w.ok(
            "service.deliver", actor: "gw-1",
            [("delivery", "d-1"), ("elder", "r-1"), ("service", "mealDelivery"), ("provider", "canteen"), ("mode", "other"), ("minutes", 20)])
        try w.issue("parking", in: "resolved")
        return w
    }

    /// The position of the first event of `type`.
    func position(of type: String, in w: World) throws -> UInt64 {
        var found: UInt64?
        try w.engine.log.read { reader in
            try reader.forEachEvent(from: 1) { event in
                if event.type == type { found = event.position }
                return found == nil
            }
        }
        return try #require(found, "no \(type)")
    }

    /// Forgeries, each changing one field of one event: (event type, field, forged value, words of the finding).
    static let forgeries: [(String, String, JSONValue, String)] = [
        ("service.delivered", "minutes", .int(70_000), "outside 1…720"),
        ("points.adjusted", "points", .int(.min), "overflows"),
        ("points.adjusted", "points", .int(.max), "overflows"),
        ("hours.verified", "points", .int(-50), "never negative"),
        ("gift.stocked", "quantity", .int(.min), "outside 1…1000000"),
        ("unit.registered", "areaSqm", .int(.max), "outside 1…1000000"),
        ("meeting.closed", "passed", .bool(false), "against its own tally"),
    ]

    @Test(
        "each forgery holds as a chain, and is a finding at its position in audit verify --export and a refusal there in an import",
        arguments: Array(0..<forgeries.count))
    func forged(index: Int) throws {
        let (type, field, value, words) = Self.forgeries[index]
        let w = try world()
        let at = try position(of: type, in: w)
        let lines = try w.engine.forgedExport(at: at) { pairs in pairs = pairs.map { $0.0 == field ? ($0.0, value) : $0 } }
        let bytes = lines.map { Array($0.utf8) }
        let report = try Engine.verifyExport(lines: bytes)
        #expect(report.chain.ok, "the forgery is a valid chain: only the rules can find it")
        #expect(!report.ok)
        #expect(report.fieldMismatches.contains { $0.position == at && $0.reason.contains(words) }, "\(type).\(field): \(report.fieldMismatches)")
        let dir = TemporaryDirectory()
        #expect {
            try Engine.importExport(lines: bytes, into: dir.sub("r"))
        } throws: { error in
            guard let refusal = error as? ImportRefusal else { return false }
            return refusal.position == at && refusal.reason.contains(words)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("r")))
    }

    /// Fields an event's type always carries, each removed from one event: (event type, field). Replayed
    /// with `""` or `0` in their place, as before issue 16's checked fields, each of these passed: hours
    /// verified for no points, a gift stocked under no id, a delivery to no elder, a unit of no owner.
    static let missingFields: [(EventType, String)] = [
        (.ledger(.hoursVerified), "points"), (.ledger(.hoursVerified), "volunteer"), (.ledger(.giftStocked), "item"),
        (.elders(.serviceDelivered), "elder"), (.registry(.unitRegistered), "owner"), (.ledger(.pointsAdjusted), "reason"),
    ]

    @Test(
        "an event without a field its type always carries is a finding naming the position and the field, never a replay with \"\" or 0",
        arguments: Array(0..<missingFields.count))
    func missingField(index: Int) throws {
        let (type, field) = Self.missingFields[index]
        let w = try world()
        let at = try position(of: type.rawValue, in: w)
        let lines = try w.engine.forgedExport(at: at) { pairs in pairs = pairs.filter { $0.0 != field } }
        let bytes = lines.map { Array($0.utf8) }
        let report = try Engine.verifyExport(lines: bytes)
        #expect(report.chain.ok, "the forgery is a valid chain: only the rules can find it")
        #expect(
            report.fieldMismatches.contains { $0.position == at && $0.reason.contains("has no field \"\(field)\"") },
            "\(type) without \(field): \(report.fieldMismatches)")
    }

    @Test("identifiers of 128 ASCII characters are accepted and of 129 refused, as DOMAIN.md section 2 says")
    func identifierLength() throws {
        let w = try World()
        try w.setUpCommunity()
        let longest = String(repeating: "r", count: 128)
        try w.ok(
            "resident.register", actor: "gw-1",
            [("resident", .string(longest)), ("community", "jiangshan"), ("household", "h-1"), ("name", "王"), ("birthYear", 1950)])
        let refused = try w.refused(
            .invalidField, "resident.register", actor: "gw-1",
            [
                ("resident", .string(longest + "r")), ("community", "jiangshan"), ("household", "h-1"),
                ("name", "王"), ("birthYear", 1950),
            ])
        #expect(refused?.field == "resident")
    }
}
