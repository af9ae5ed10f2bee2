import Foundation
@testable import Linli
import Testing

/// Every command under every role, checked against DOMAIN.md section 5's table, read literally.
@Suite("Who may run what")
struct PermissionMatrixTests {
    /// Actors with exactly one role each in `jiangshan` (see `World.setUpCommunity`), the resident `r-1`
    /// acting for themselves, and an unknown actor.
    static let actors: [(actor: String, role: String)] = [
        ("admin", "admin"), ("sw-1", "socialWorker"), ("gw-1", "gridWorker"), ("sk-1", "storeKeeper"), ("cv-1", "convener"),
        ("md-1", "mediator"), ("au-1", "auditor"), ("r-1", "resident"), ("stranger", "unknown"),
    ]

    /// The roles section 5 allows for each command ("resident" meaning the resident acting for themselves).
    static let allowed: [String: Set<String>] = [
        "community.register": ["admin"], "organization.register": ["admin"], "unit.register": ["admin"],
        "team.form": ["admin"], "team.join": ["admin"], "team.leave": ["admin"],
        "role.grant": ["admin"], "role.revoke": ["admin"], "points.rate.set": ["admin"], "points.adjust": ["admin"],
        "resident.register": ["gridWorker"], "resident.tag": ["gridWorker", "socialWorker"], "resident.untag": ["gridWorker", "socialWorker"],
        "hours.log": ["gridWorker", "resident"], "hours.verify": ["socialWorker"], "hours.reject": ["socialWorker"],
        "points.transfer": ["resident"],
        "gift.stock": ["storeKeeper"], "gift.redeem": ["storeKeeper"], "redemption.reverse": ["storeKeeper"],
        "wish.post": ["socialWorker"], "wish.claim": ["socialWorker"], "wish.fulfil": ["socialWorker"], "wish.cancel": ["socialWorker"],
        "fund.income": ["socialWorker"], "fund.disburse": ["socialWorker"],
        "issue.propose": ["resident"], "issue.comment": ["resident"],
        "issue.assess": ["convener"], "issue.admit": ["convener"], "issue.decline": ["convener"], "issue.merge": ["convener"],
        "meeting.schedule": ["convener"], "meeting.attend": ["convener"], "meeting.opinion": ["convener"], "meeting.close": ["convener"],
        "vote.cast": ["convener", "resident"],
        "outcome.submit": ["convener"], "outcome.progress": ["convener"], "outcome.implement": ["convener"], "outcome.evaluate": ["convener"],
        "dispute.report": ["gridWorker", "mediator", "resident"], "dispute.assign": ["mediator"], "dispute.session": ["mediator"],
        "dispute.resolve": ["mediator"], "dispute.escalate": ["mediator"], "dispute.withdraw": ["mediator"], "dispute.followUp": ["mediator"],
        "elder.survey": ["socialWorker"], "elder.tier.assign": ["socialWorker"], "elder.plan.set": ["socialWorker"],
        "elder.tier.policy": ["admin"], "station.register": ["admin"], "service.deliver": ["gridWorker"], "visit.log": ["gridWorker"],
    ]

    /// Set-up lines that bring a fresh dispute to `state`.
    static func disputeSetup(_ dispute: String, _ state: String) -> [(String, String, [(String, JSONValue)])] {
        let id = JSONValue.string(dispute)
        let path: [(String, String, [(String, JSONValue)])] = [
            (
                "dispute.report", "gw-1",
                [
                    ("dispute", id), ("community", "jiangshan"), ("parties", ["r-1", "r-2"]), ("category", "noise"),
                    ("description", "楼上装修噪音"), ("channel", "doorKnock"),
                ]
            ),
            ("dispute.assign", "md-1", [("dispute", id), ("mediator", "md-1")]),
            ("dispute.session", "md-1", [("dispute", id), ("session", .string("\(dispute)-s1")), ("attendees", ["r-1", "r-2", "md-1"]), ("notes", "双方陈述")]),
            ("dispute.resolve", "md-1", [("dispute", id), ("agreement", "施工时间限定在工作日白天")]),
        ]
        return Array(path.prefix(["reported": 1, "assigned": 2, "mediating": 3, "resolved": 4][state]!))
    }

    /// Set-up lines that bring a fresh issue to `state` (see DeliberationWorld for the same path).
    static func issueSetup(_ issue: String, _ state: String) -> [(String, String, [(String, JSONValue)])] {
        let id = JSONValue.string(issue), meeting = JSONValue.string("\(issue)-m")
        var lines: [(String, String, [(String, JSONValue)])] = [
            (
                "issue.propose", "r-1",
                [
                    ("issue", id), ("community", "jiangshan"), ("scope", ["level": "community", "ref": "jiangshan"]), ("title", "停车"),
                    ("description", "车位不足"), ("category", "parking"), ("channel", "doorKnock"),
                ]
            )
        ]
        let path: [(String, String, [(String, JSONValue)])] = [
            ("issue.assess", "cv-1", [("issue", id), ("importance", 3), ("urgency", 3), ("feasibility", 3)]),
            ("issue.admit", "cv-1", [("issue", id)]),
            (
                "meeting.schedule", "cv-1",
                [("meeting", meeting), ("issue", id), ("format", "triParty"), ("rule", "simpleMajority"), ("startsAt", "2024-03-09T19:00:00+08:00")]
            ),
            ("meeting.attend", "cv-1", [("meeting", meeting), ("participant", "r-1"), ("role", "resident")]),
            ("vote.cast", "r-1", [("meeting", meeting), ("participant", "r-1"), ("choice", "for")]),
            ("meeting.close", "cv-1", [("meeting", meeting), ("resolution", "通过")]),
            ("outcome.submit", "cv-1", [("issue", id), ("department", "城管")]),
            ("outcome.progress", "cv-1", [("issue", id), ("percent", 10), ("note", "开工")]),
            ("outcome.implement", "cv-1", [("issue", id)]),
        ]
        let steps = [
            "proposed": 0, "assessed": 1, "onAgenda": 2, "inDeliberation": 3, "attended": 4, "resolved": 6, "submitted": 7, "implementing": 8, "implemented": 9,
        ][state]!
        lines += path.prefix(steps)
        return lines
    }

    /// For each command: the set-up lines (run by the right staff) that make it valid, and the command's fields.
    /// `n` makes every attempt's ids fresh.
    static func scenario(_ name: String, _ n: Int) -> (setup: [(String, String, [(String, JSONValue)])], fields: [(String, JSONValue)]) {
        let s = { (id: String) -> JSONValue in .string("\(id)-\(n)") }
        switch name {
        case "community.register": return ([], [("community", s("c")), ("name", "新社区"), ("district", "虎山街道")])
        case "organization.register": return ([], [("organization", s("o")), ("community", "jiangshan"), ("name", "社工站"), ("kind", "socialOrg")])
        case "unit.register":
            return ([], [("unit", s("u")), ("community", "jiangshan"), ("compound", "鹿溪小区"), ("building", "3幢"), ("areaSqm", 89), ("owner", "r-2")])
        case "team.form":
            return ([], [("team", s("t")), ("community", "jiangshan"), ("name", "敲门嫂"), ("kind", "doorKnock"), ("members", ["sw-1", "gw-1", "r-2"])])
        case "team.join":
            return (
                [("team.form", "admin", [("team", s("t")), ("community", "jiangshan"), ("name", "队"), ("kind", "doorKnock"), ("members", [])])],
                [("team", s("t")), ("member", "r-2")]
            )
        case "team.leave":
            return (
                [("team.form", "admin", [("team", s("t")), ("community", "jiangshan"), ("name", "队"), ("kind", "doorKnock"), ("members", ["r-2"])])],
                [("team", s("t")), ("member", "r-2")]
            )
        case "role.grant": return ([], [("subject", s("staff")), ("role", "auditor"), ("community", "jiangshan")])
        case "role.revoke":
            return (
                [("role.grant", "admin", [("subject", s("staff")), ("role", "auditor"), ("community", "jiangshan")])],
                [("subject", s("staff")), ("role", "auditor"), ("community", "jiangshan")]
            )
        case "points.rate.set": return ([], [("community", "jiangshan"), ("category", s("cat")), ("pointsPerHour", 12)])
        case "points.adjust": return ([], [("account", "resident:r-2"), ("points", 5), ("reason", "补录")])
        case "resident.register": return ([], [("resident", s("r")), ("community", "jiangshan"), ("household", "h-9"), ("name", "赵四"), ("birthYear", 1960)])
        case "resident.tag":
            return (
                [("resident.register", "gw-1", [("resident", s("r")), ("community", "jiangshan"), ("household", "h"), ("name", "甲"), ("birthYear", 1960)])],
                [("resident", s("r")), ("tag", "hardship")]
            )
        case "resident.untag":
            return (
                [
                    (
                        "resident.register", "gw-1",
                        [("resident", s("r")), ("community", "jiangshan"), ("household", "h"), ("name", "甲"), ("birthYear", 1960), ("tags", ["hardship"])]
                    )
                ],
                [("resident", s("r")), ("tag", "hardship")]
            )
        case "hours.log": return ([], [("log", s("l")), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
        case "hours.verify", "hours.reject":
            return (
                [("hours.log", "gw-1", [("log", s("l")), ("volunteer", "r-2"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])],
                name == "hours.verify" ? [("log", s("l"))] : [("log", s("l")), ("reason", "不符")]
            )
        case "points.transfer": return ([], [("from", "r-1"), ("to", "r-2"), ("points", 1), ("reason", "转赠")])
        case "gift.stock": return ([], [("item", s("i")), ("community", "jiangshan"), ("name", "毛巾"), ("pricePoints", 1), ("quantity", 5)])
        case "gift.redeem":
            return (
                [("gift.stock", "sk-1", [("item", s("i")), ("community", "jiangshan"), ("name", "毛巾"), ("pricePoints", 1), ("quantity", 5)])],
                [("redemption", s("x")), ("resident", "r-2"), ("item", s("i")), ("quantity", 1)]
            )
        case "redemption.reverse":
            return (
                [
                    ("gift.stock", "sk-1", [("item", s("i")), ("community", "jiangshan"), ("name", "毛巾"), ("pricePoints", 1), ("quantity", 5)]),
                    ("gift.redeem", "sk-1", [("redemption", s("x")), ("resident", "r-2"), ("item", s("i")), ("quantity", 1)]),
                ],
                [("redemption", s("x")), ("reason", "退")]
            )
        case "wish.post": return ([], [("wish", s("w")), ("beneficiary", "r-3"), ("community", "jiangshan"), ("description", "书包")])
        case "wish.claim", "wish.cancel":
            return (
                [("wish.post", "sw-1", [("wish", s("w")), ("beneficiary", "r-3"), ("community", "jiangshan"), ("description", "书包")])],
                name == "wish.claim" ? [("wish", s("w")), ("claimant", "r-2")] : [("wish", s("w"))]
            )
        case "wish.fulfil":
            return (
                [
                    ("wish.post", "sw-1", [("wish", s("w")), ("beneficiary", "r-3"), ("community", "jiangshan"), ("description", "书包")]),
                    ("wish.claim", "sw-1", [("wish", s("w")), ("claimant", "r-2")]),
                ],
                [("wish", s("w")), ("note", "送达")]
            )
        case "fund.income": return ([], [("fund", s("f")), ("community", "jiangshan"), ("source", "donation"), ("amountFen", 500)])
        case "fund.disburse":
            return (
                [("fund.income", "sw-1", [("fund", s("f")), ("community", "jiangshan"), ("source", "donation"), ("amountFen", 500)])],
                [("fund", s("f")), ("beneficiary", "r-3"), ("amountFen", 100), ("purpose", "慰问")]
            )
        case "issue.propose":
            return (
                [],
                [
                    ("issue", s("i")), ("community", "jiangshan"), ("scope", ["level": "compound", "ref": "鹿溪小区"]), ("title", "宠物"),
                    ("description", "遛狗不牵绳"), ("category", "pets"), ("channel", "wechatGroup"),
                ]
            )
        case "issue.comment": return (issueSetup("i-\(n)", "proposed"), [("issue", s("i")), ("resident", "r-1"), ("stance", "support"), ("text", "赞成")])
        case "issue.assess": return (issueSetup("i-\(n)", "proposed"), [("issue", s("i")), ("importance", 2), ("urgency", 2), ("feasibility", 2)])
        case "issue.admit": return (issueSetup("i-\(n)", "assessed"), [("issue", s("i"))])
        case "issue.decline": return (issueSetup("i-\(n)", "assessed"), [("issue", s("i")), ("reason", "重复")])
        case "issue.merge": return (issueSetup("i-\(n)", "proposed") + issueSetup("j-\(n)", "proposed"), [("issue", s("i")), ("into", s("j"))])
        case "meeting.schedule":
            return (
                issueSetup("i-\(n)", "onAgenda"),
                [("meeting", s("m")), ("issue", s("i")), ("format", "communityConsultation"), ("rule", "twoThirds"), ("startsAt", "2024-03-09T19:00:00+08:00")]
            )
        case "meeting.attend":
            return (issueSetup("i-\(n)", "inDeliberation"), [("meeting", .string("i-\(n)-m")), ("participant", "r-2"), ("role", "resident")])
        case "meeting.opinion": return (issueSetup("i-\(n)", "attended"), [("meeting", .string("i-\(n)-m")), ("participant", "r-1"), ("text", "同意")])
        case "vote.cast": return (issueSetup("i-\(n)", "attended"), [("meeting", .string("i-\(n)-m")), ("participant", "r-1"), ("choice", "for")])
        case "meeting.close": return (issueSetup("i-\(n)", "attended"), [("meeting", .string("i-\(n)-m")), ("resolution", "通过")])
        case "outcome.submit": return (issueSetup("i-\(n)", "resolved"), [("issue", s("i")), ("department", "住建局")])
        case "outcome.progress": return (issueSetup("i-\(n)", "submitted"), [("issue", s("i")), ("percent", 50), ("note", "过半")])
        case "outcome.implement": return (issueSetup("i-\(n)", "implementing"), [("issue", s("i"))])
        case "outcome.evaluate": return (issueSetup("i-\(n)", "implemented"), [("issue", s("i")), ("evaluator", "r-2"), ("satisfaction", 4)])
        case "dispute.report":
            return (
                [],
                [
                    ("dispute", s("d")), ("community", "jiangshan"), ("parties", ["r-1", "public"]), ("category", "parking"),
                    ("description", "占用消防通道"), ("channel", "other"),
                ]
            )
        case "dispute.assign": return (disputeSetup("d-\(n)", "reported"), [("dispute", s("d")), ("mediator", "md-1")])
        case "dispute.session": return (disputeSetup("d-\(n)", "assigned"), [("dispute", s("d")), ("session", s("s")), ("attendees", ["r-1"]), ("notes", "")])
        case "dispute.resolve": return (disputeSetup("d-\(n)", "mediating"), [("dispute", s("d")), ("agreement", "和解")])
        case "dispute.escalate": return (disputeSetup("d-\(n)", "reported"), [("dispute", s("d")), ("to", ["department": "司法所"]), ("reason", "涉及法律")])
        case "dispute.withdraw": return (disputeSetup("d-\(n)", "reported"), [("dispute", s("d")), ("reason", "已自行和解")])
        case "dispute.followUp": return (disputeSetup("d-\(n)", "resolved"), [("dispute", s("d")), ("satisfaction", 5), ("notes", "满意")])
        case "elder.survey":
            return (
                [],
                [
                    ("elder", "r-3"), ("basic", ["livingAlone": true]), ("health", ["adl": 55, "conditions": ["高血压"]]), ("needs", ["mealDelivery"]),
                    ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
                ]
            )
        case "elder.tier.policy":
            return (
                [],
                [
                    ("community", "jiangshan"),
                    (
                        "bands",
                        [
                            ["minAdl": 100, "maxAdl": 100, "tier": 0], ["minAdl": 61, "maxAdl": 99, "tier": 1],
                            ["minAdl": 41, "maxAdl": 60, "tier": 2], ["minAdl": 0, "maxAdl": 40, "tier": 3],
                        ]
                    ),
                ]
            )
        case "elder.tier.assign": return ([], [("elder", "r-3"), ("tier", 2), ("reason", "独居且行动不便")])
        case "elder.plan.set": return ([], [("elder", "r-3"), ("services", [["service": "mealDelivery", "perWeek": 7]])])
        case "station.register": return ([], [("station", s("st")), ("community", "jiangshan"), ("kind", "station"), ("functions", ["助餐点", "应急设备"])])
        case "service.deliver":
            return ([], [("delivery", s("dl")), ("elder", "r-3"), ("service", "mealDelivery"), ("provider", "r-3"), ("mode", "self"), ("minutes", 30)])
        case "visit.log":
            return (
                [("team.form", "admin", [("team", s("t")), ("community", "jiangshan"), ("name", "敲门嫂"), ("kind", "doorKnock"), ("members", ["gw-1"])])],
                [("visit", s("v")), ("elder", "r-3"), ("visitor", "gw-1"), ("team", s("t")), ("observations", "精神好"), ("concern", false)]
            )
        default:
            Issue.record("no scenario for \(name)")
            return ([], [])
        }
    }

    @Test("every command under every role is allowed or refused as section 5 says")
    func matrix() throws {
        let w = try World()
        try w.setUpCommunity()
        // r-1 and r-2 need points for transfers and redemptions.
        for resident in ["r-1", "r-2"] {
            try w.ok("points.adjust", actor: "admin", [("account", .string("resident:\(resident)")), ("points", 1000), ("reason", "启动")])
        }
        #expect(Set(CommandCatalog.names).isSuperset(of: Self.allowed.keys))
        var n = 0
        var checked = 0
        for name in CommandCatalog.names {
            guard let roles = Self.allowed[name] else { Issue.record("\(name) is missing from the expected table"); continue }
            for (actor, role) in Self.actors {
                n += 1
                let (setup, fields) = Self.scenario(name, n)
                for (setupName, setupActor, setupFields) in setup { try w.ok(setupName, actor: setupActor, setupFields) }
                let outcome = try w.run(name, actor: actor, fields)
                if roles.contains(role) {
                    #expect(outcome.rejection == nil, "\(name) as \(role) should be allowed: \(outcome)")
                } else {
                    #expect(outcome.rejection?.reason == .unauthorized, "\(name) as \(role) should be refused: \(outcome)")
                }
                checked += 1
            }
        }
        #expect(checked == CommandCatalog.names.count * Self.actors.count)
    }

    @Test("a resident may act only for themselves; an unknown actor is unauthorized")
    func residentsActForThemselves() throws {
        let w = try World()
        try w.setUpCommunity()
        _ = try w.refused(
            .unauthorized, "hours.log", actor: "r-2", [("log", "l-x"), ("volunteer", "r-1"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")])
        let unknown = try w.refused(
            .unauthorized, "hours.log", actor: "ghost", [("log", "l-y"), ("volunteer", "r-1"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")])
        #expect(unknown?.message == "actor: ghost is unknown")
        // A role holds only in the community it was granted in.
        try w.ok("community.register", actor: "admin", [("community", "hexi"), ("name", "河西街社区"), ("district", "龙游县")])
        try w.ok("role.grant", actor: "admin", [("subject", "gw-2"), ("role", "gridWorker"), ("community", "hexi")])
        _ = try w.refused(
            .unauthorized, "resident.register", actor: "gw-2",
            [("resident", "r-9"), ("community", "jiangshan"), ("household", "h"), ("name", "甲"), ("birthYear", 1950)])
        try w.ok("resident.register", actor: "gw-2", [("resident", "r-9"), ("community", "hexi"), ("household", "h"), ("name", "甲"), ("birthYear", 1950)])
    }
}
