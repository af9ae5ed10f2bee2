import Foundation
@testable import Linli
import Testing

/// Issue 18 item 11: whose points a command may post. Points are a community's own — issued from its
/// `issuance:` account, moved among its residents, spent at its store — so that no staff member of one
/// community posts against another's books (docs/DECISIONS.md, "Whose points").
@Suite("Points stay within their community")
struct CommunityBoundaryTests {
    /// Jiangshan (r-1…r-3 with points, staff, a store item and a canteen) and Hexi with one resident, r-9,
    /// who has points of her own and is an elder there too.
    func world() throws -> World {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("community.register", actor: "admin", [("community", "hexi"), ("name", "河西街社区"), ("district", "龙游县")])
        for (subject, role) in [("gw-9", "gridWorker"), ("sw-9", "socialWorker")] {
            try w.ok("role.grant", actor: "admin", [("subject", .string(subject)), ("role", .string(role)), ("community", "hexi")])
        }
        try w.ok("resident.register", actor: "gw-9", [("resident", "r-9"), ("community", "hexi"), ("household", "h-9"), ("name", "徐桂兰"), ("birthYear", 1946)])
        try w.ok("points.rate.set", actor: "admin", at: "2023-12-01T00:00:00+08:00", [("community", "hexi"), ("pointsPerHour", 10)])
        for (log, volunteer, gridWorker, socialWorker) in [("l-1", "r-1", "gw-1", "sw-1"), ("l-9", "r-9", "gw-9", "sw-9")] {
            try w.ok(
                "hours.log", actor: gridWorker,
                [("log", .string(log)), ("volunteer", .string(volunteer)), ("minutes", 120), ("activity", "巡逻"), ("category", "patrol")])
            try w.ok("hours.verify", actor: socialWorker, [("log", .string(log))])
        }
        try w.ok("gift.stock", actor: "sk-1", [("item", "rice"), ("community", "jiangshan"), ("name", "大米5斤"), ("pricePoints", 5), ("quantity", 3)])
        try w.ok("organization.register", actor: "admin", [("organization", "canteen"), ("community", "jiangshan"), ("name", "长者食堂"), ("kind", "socialOrg")])
        try w.ok(
            "points.rate.set", actor: "admin", at: "2023-12-01T00:00:00+08:00", [("community", "jiangshan"), ("category", "mutualHelp"), ("pointsPerHour", 12)])
        return w
    }

    @Test("a transfer, a redemption and a mutual-help delivery across communities are refused naming the field; within one they go ahead")
    func acrossCommunities() throws {
        let w = try world()
        let transfer = try w.refused(.invalidField, "points.transfer", actor: "r-1", [("from", "r-1"), ("to", "r-9"), ("points", 5), ("reason", "转赠")])
        #expect(
            transfer?.field == "to" && transfer?.message.contains("r-9") == true && transfer?.message.contains("hexi") == true, "\(transfer?.message ?? "")")
        let redemption = try w.refused(
            .invalidField, "gift.redeem", actor: "sk-1", [("redemption", "rd-9"), ("resident", "r-9"), ("item", "rice"), ("quantity", 1)])
        #expect(redemption?.field == "resident")
        let mutual = try w.refused(
            .invalidField, "service.deliver", actor: "gw-1",
            [
                ("delivery", "d-9"), ("elder", "r-2"), ("service", "companionship"),
                ("provider", "r-9"), ("mode", "mutual"), ("minutes", 60),
            ])
        #expect(mutual?.field == "provider")
        // Hexi's issuance account issued only Hexi's hours; Jiangshan's store took nothing from r-9.
        #expect(try w.engine.balance(of: "issuance:hexi").balance == -20)
        #expect(try w.engine.balance(of: "resident:r-9").balance == 20)

        try w.ok("points.transfer", actor: "r-1", [("from", "r-1"), ("to", "r-3"), ("points", 5), ("reason", "转赠")])
        try w.ok("gift.redeem", actor: "sk-1", [("redemption", "rd-1"), ("resident", "r-1"), ("item", "rice"), ("quantity", 1)])
        try w.ok(
            "service.deliver", actor: "gw-1",
            [("delivery", "d-1"), ("elder", "r-2"), ("service", "companionship"), ("provider", "r-3"), ("mode", "mutual"), ("minutes", 60)])
        #expect(try w.engine.balance(of: "resident:r-3").balance == 5 + 12)
        #expect(try w.engine.balances().reduce(0) { $0 + $1.balance } == 0)
    }

    /// Found in review: the receiver's community was checked before the actor's right to move the
    /// points, so anyone could learn which community a resident belongs to, or that an id is a resident.
    @Test("a transfer by someone who may not move the points is refused for that first, whoever the receiver is")
    func authorizedFirst() throws {
        let w = try world()
        for receiver in ["r-9", "r-404", "r-3"] {
            let refusal = try w.refused(
                .unauthorized, "points.transfer", actor: "r-2", [("from", "r-1"), ("to", .string(receiver)), ("points", 5), ("reason", "转赠")])
            #expect(refusal?.message.contains("hexi") == false, "\(receiver): \(refusal?.message ?? "")")
        }
    }
}
