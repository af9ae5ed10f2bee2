import Foundation
@testable import Linli
import Testing

extension World {
    static let disputeStates = ["reported", "assigned", "mediating", "resolved", "followedUp", "escalated", "withdrawn"]

    func report(_ dispute: String, at: String = "2024-03-01T09:00:00+08:00", category: String = "noise", visit: String? = nil) throws {
        var fields: [(String, JSONValue)] = [
            ("dispute", .string(dispute)), ("community", "jiangshan"), ("parties", ["r-1", "r-2"]),
            ("category", .string(category)), ("description", "楼上深夜噪音"), ("channel", visit == nil ? "wechatGroup" : "doorKnock"),
        ]
        if let visit { fields.append(("visit", .string(visit))) }
        try ok("dispute.report", actor: "gw-1", at: at, fields)
    }

    /// Drives a fresh dispute to `state`, one hour per step from 09:00 on 1 March 2024.
    func dispute(_ dispute: String, in state: String, sessions: Int = 1) throws {
        let id = JSONValue.string(dispute)
        try report(dispute)
        if state == "reported" { return }
        if state == "escalated" { try ok("dispute.escalate", actor: "md-1", [("dispute", id), ("to", ["department": "司法所"]), ("reason", "需要仲裁")]); return }
        if state == "withdrawn" { try ok("dispute.withdraw", actor: "md-1", [("dispute", id), ("reason", "自行和解")]); return }
        try ok("dispute.assign", actor: "md-1", at: "2024-03-01T11:00:00+08:00", [("dispute", id), ("mediator", "md-1")])
        if state == "assigned" { return }
        for n in 1...sessions {
            try ok(
                "dispute.session", actor: "md-1", at: "2024-03-0\(n)T14:00:00+08:00",
                [("dispute", id), ("session", .string("\(dispute)-s\(n)")), ("attendees", ["r-1", "r-2", "md-1"]), ("notes", "调解")])
        }
        if state == "mediating" { return }
        try ok("dispute.resolve", actor: "md-1", at: "2024-03-0\(sessions)T15:30:00+08:00", [("dispute", id), ("agreement", "夜间十点后不施工")])
        if state == "resolved" { return }
        try ok("dispute.followUp", actor: "md-1", [("dispute", id), ("satisfaction", 4), ("notes", "回访满意")])
    }
}

@Suite("Mediation: report to agreement, follow-up or escalation")
struct MediationTests {
    static let transitions: [(command: String, from: Set<String>, to: String, fields: [(String, JSONValue)])] = [
        ("dispute.assign", ["reported", "assigned"], "assigned", [("mediator", "md-1")]),
        ("dispute.session", ["assigned", "mediating"], "mediating", [("attendees", ["r-1"]), ("notes", "面谈")]),
        ("dispute.resolve", ["mediating"], "resolved", [("agreement", "协议")]),
        ("dispute.escalate", ["reported", "assigned", "mediating"], "escalated", [("to", ["department": "派出所"]), ("reason", "升级")]),
        ("dispute.withdraw", ["reported", "assigned", "mediating"], "withdrawn", [("reason", "撤回")]),
        ("dispute.followUp", ["resolved"], "followedUp", [("satisfaction", 3), ("notes", "一般")]),
    ]

    @Test("every transition from every state is legal or illegal, naming the current state")
    func everyTransition() throws {
        let w = try World()
        try w.setUpCommunity()
        var n = 0
        for (command, from, to, fields) in Self.transitions {
            for state in World.disputeStates {
                n += 1
                let dispute = "d-\(n)"
                try w.dispute(dispute, in: state)
                var all: [(String, JSONValue)] = [("dispute", .string(dispute))] + fields
                if command == "dispute.session" { all.append(("session", .string("x-\(n)"))) }
                if from.contains(state) {
                    try w.ok(command, actor: "md-1", all)
                    #expect(try w.engine.disputes().first { $0.dispute == dispute }?.state == to, "\(command) from \(state)")
                } else {
                    let rejection = try w.refused(.illegalTransition, command, actor: "md-1", all)
                    #expect(rejection?.message.contains("is \(state)") == true, "\(command) from \(state)")
                }
            }
        }
        #expect(n == Self.transitions.count * World.disputeStates.count)
    }

    @Test("parties, reporters and mediators are checked")
    func reporting() throws {
        let w = try World()
        try w.setUpCommunity()
        let base: [(String, JSONValue)] = [("community", "jiangshan"), ("category", "pets"), ("description", "狗吠"), ("channel", "other")]
        _ = try w.refused(.invalidField, "dispute.report", actor: "gw-1", [("dispute", "d"), ("parties", ["r-1"])] + base)
        _ = try w.refused(.invalidField, "dispute.report", actor: "gw-1", [("dispute", "d"), ("parties", ["r-1", "r-1"])] + base)
        _ = try w.refused(.unknownResident, "dispute.report", actor: "gw-1", [("dispute", "d"), ("parties", ["r-1", "ghost"])] + base)
        // A resident reports only a dispute they are a party to.
        _ = try w.refused(.unauthorized, "dispute.report", actor: "r-3", [("dispute", "d"), ("parties", ["r-1", "r-2"])] + base)
        try w.ok("dispute.report", actor: "r-1", [("dispute", "d"), ("parties", ["r-1", "public"])] + base)
        _ = try w.refused(.duplicateId, "dispute.report", actor: "gw-1", [("dispute", "d"), ("parties", ["r-1", "r-2"])] + base)
        // The mediator assigned must hold the mediator role in the community.
        let rejection = try w.refused(.unauthorized, "dispute.assign", actor: "md-1", [("dispute", "d"), ("mediator", "sw-1")])
        #expect(rejection?.field == "mediator")
    }

    @Test("escalation into the issue library proposes the issue in the same append; a failed proposal leaves no escalation")
    func escalationJoin() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.dispute("parking-1", in: "mediating")
        try w.propose("taken")
        let before = try w.engine.log.head
        let rejection = try w.refused(
            .duplicateId, "dispute.escalate", actor: "md-1",
            [
                ("dispute", "parking-1"), ("reason", "涉及全体业主"),
                ("to", ["issue": "taken", "title": "车位分配", "scope": ["level": "compound", "ref": "鹿溪小区"]]),
            ])
        #expect(rejection?.field == "to.issue")
        #expect(try w.engine.log.head == before)
        #expect(try w.engine.disputes().first?.state == "mediating")
        _ = try w.refused(
            .invalidField, "dispute.escalate", actor: "md-1",
            [
                ("dispute", "parking-1"), ("reason", "缺标题"),
                ("to", ["issue": "new", "scope": ["level": "compound", "ref": "鹿溪小区"]]),
            ])
        _ = try w.refused(
            .invalidField, "dispute.escalate", actor: "md-1",
            [
                ("dispute", "parking-1"), ("reason", "两者"),
                ("to", ["issue": "new", "department": "城管", "title": "车位", "scope": ["level": "compound", "ref": "鹿溪小区"]]),
            ])
        try w.ok(
            "dispute.escalate", actor: "md-1",
            [
                ("dispute", "parking-1"), ("reason", "涉及全体业主"),
                ("to", ["issue": "parking-rules", "title": "小区车位分配规则", "scope": ["level": "compound", "ref": "鹿溪小区"]]),
            ])
        let head = try w.engine.log.head.position
        let escalated = try #require(try w.engine.log.event(at: head - 1))
        let proposed = try #require(try w.engine.log.event(at: head))
        #expect(escalated.type == "dispute.escalated" && proposed.type == "issue.proposed")
        let issue = try #require(try w.engine.issueDocument("parking-rules"))
        #expect(issue["state"] == "proposed")
        #expect(issue["category"] == "dispute")
        #expect(issue["channel"] == "meeting")
        #expect(issue["dispute"] == "parking-1")
        #expect(issue["description"] == "楼上深夜噪音")
        #expect(issue["timeline"]?.arrayValue?.first?["position"] == .int(Int64(head)))
        let dispute = try #require(try w.engine.disputeDocument("parking-1"))
        #expect(dispute["state"] == "escalated")
        #expect(dispute["issue"] == "parking-rules")
        #expect(dispute["timeline"]?.arrayValue?.last?["position"] == .int(Int64(head - 1)))
        // The issue goes on through the four steps like any other.
        try w.ok("issue.assess", actor: "cv-1", [("issue", "parking-rules"), ("importance", 5), ("urgency", 4), ("feasibility", 4)])
        #expect(try w.state(of: "parking-rules") == "assessed")
    }

    @Test("ages count calendar days in Asia/Shanghai; older-than lists open disputes only")
    func agesAcrossDayBoundaries() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.report("late", at: "2024-03-01T23:50:00+08:00")
        try w.report("early", at: "2024-03-01T00:10:00+08:00")  // 2024-02-29 16:10 UTC
        try w.report("week", at: "2024-03-01T09:00:00+08:00")
        try w.dispute("done", in: "resolved")
        let now = Timestamp(iso8601: "2024-03-02T00:10:00+08:00")!
        let ages = Dictionary(uniqueKeysWithValues: try w.engine.disputes(now: now).map { ($0.dispute, $0.ageDays) })
        #expect(ages["late"] == 1)  // twenty minutes old, but reported yesterday
        #expect(ages["early"] == 1)
        let sameDay = Timestamp(iso8601: "2024-03-01T23:59:00+08:00")!
        #expect(try w.engine.disputes(now: sameDay).first { $0.dispute == "early" }?.ageDays == 0)
        #expect(try w.engine.disputes(olderThanDays: 7, now: Timestamp(iso8601: "2024-03-08T23:59:00+08:00")!).isEmpty)
        let old = try w.engine.disputes(olderThanDays: 7, now: Timestamp(iso8601: "2024-03-09T00:00:00+08:00")!).map(\.dispute)
        #expect(old == ["early", "late", "week"])  // "done" is as old, but resolved
    }

    @Test("hours to assignment and resolution, first-session share and satisfaction")
    func figures() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.dispute("one", in: "followedUp")  // 1 session: 09:00 → 11:00 → 15:30 on 1 March
        try w.dispute("two", in: "resolved", sessions: 2)  // resolved on 2 March 15:30
        try w.dispute("open", in: "assigned")
        let one = try #require(try w.engine.disputes().first { $0.dispute == "one" })
        #expect(one.hoursToAssignment == .decimal(units: 20, scale: 1))
        #expect(one.hoursToResolution.text == "6.5")
        let figures = try w.engine.mediationFigures(now: Timestamp(iso8601: "2024-03-03T09:00:00+08:00"))
        #expect(figures["resolved"] == 2)
        #expect(figures["resolvedAtFirstSession"] == 1)
        #expect(figures["firstSessionShare"]?.text == "0.5")
        #expect(figures["meanHoursToResolution"]?.text == "18.5")  // (6.5 + 30.5) / 2
        #expect(figures["meanSatisfaction"]?.text == "4")
        let byState = figures["byStateAndCategory"]?.arrayValue?.map { "\($0["state"]!.stringValue!)=\($0["count"]!.intValue!)" }
        #expect(byState == ["assigned=1", "followedUp=1", "resolved=1"])
    }

    @Test("a door-knock visit with a concern is a report's channel, and they link to each other")
    func visitChannel() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok(
            "team.form", actor: "admin", [("team", "knock"), ("community", "jiangshan"), ("name", "敲门嫂"), ("kind", "doorKnock"), ("members", ["gw-1", "r-2"])])
        try w.ok(
            "visit.log", actor: "gw-1",
            [("visit", "v-1"), ("elder", "r-1"), ("visitor", "gw-1"), ("team", "knock"), ("observations", "与邻居因漏水争吵"), ("concern", true)])
        try w.ok(
            "visit.log", actor: "gw-1",
            [("visit", "v-2"), ("elder", "r-1"), ("visitor", "gw-1"), ("team", "knock"), ("observations", "一切正常"), ("concern", false)])
        _ = try w.refused(
            .invalidField, "dispute.report", actor: "gw-1",
            [
                ("dispute", "leak"), ("community", "jiangshan"), ("parties", ["r-1", "r-2"]),
                ("category", "neighbour"), ("description", "漏水"), ("channel", "doorKnock"), ("visit", "v-2"),
            ])
        _ = try w.refused(
            .unknownVisit, "dispute.report", actor: "gw-1",
            [
                ("dispute", "leak"), ("community", "jiangshan"), ("parties", ["r-1", "r-2"]),
                ("category", "neighbour"), ("description", "漏水"), ("channel", "doorKnock"), ("visit", "v-9"),
            ])
        try w.report("leak", category: "neighbour", visit: "v-1")
        let dispute = try #require(try w.engine.disputeDocument("leak"))
        #expect(dispute["visit"] == "v-1")
        let visit = try w.engine.read { reader, tables in try reader.withTransaction { try Rows.get(tables.elders["visits"], "v-1", $0) } }
        #expect(try visit?.string("dispute") == "leak")
        let live = try projectionDump(w.engine)
        try w.engine.log.rebuildProjections()
        #expect(try projectionDump(w.engine) == live)
    }
}
