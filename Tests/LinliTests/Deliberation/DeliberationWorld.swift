@testable import Linli
import Testing

/// Issues in every state, made by the convener `cv-1` from proposals by the resident `r-1`.
extension World {
    /// Every state an issue can be in, with the path that leads there.
    static let issueStates = [
        "proposed", "assessed", "onAgenda", "inDeliberation", "resolved", "rejectedByVote", "submitted",
        "implementing", "implemented", "evaluated", "declined", "merged",
    ]

    /// Proposes `issue` in `jiangshan` (community scope unless given).
    func propose(
        _ issue: String, scope: JSONValue = ["level": "community", "ref": "jiangshan"], title: String = "停车位分配",
        category: String = "parking", at: String = "2024-03-01T09:30:00+08:00"
    ) throws {
        try ok(
            "issue.propose", actor: "r-1", at: at,
            [
                ("issue", .string(issue)), ("community", "jiangshan"), ("scope", scope), ("title", .string(title)),
                ("description", "小区停车位不够，外来车辆占位"), ("category", .string(category)), ("channel", "wechatGroup"),
            ])
    }

    /// Drives a fresh issue to `state`; meetings are `ISSUE-m1`, `ISSUE-m2`.
    func issue(_ issue: String, in state: String) throws {
        try propose(issue)
        if state == "proposed" { return }
        if state == "declined" { try ok("issue.decline", actor: "cv-1", [("issue", .string(issue)), ("reason", "不属于社区事务")]); return }
        if state == "merged" {
            try propose("\(issue)-survivor")
            try ok("issue.merge", actor: "cv-1", [("issue", .string(issue)), ("into", .string("\(issue)-survivor"))])
            return
        }
        try ok("issue.assess", actor: "cv-1", [("issue", .string(issue)), ("importance", 4), ("urgency", 3), ("feasibility", 5)])
        if state == "assessed" { return }
        try ok("issue.admit", actor: "cv-1", [("issue", .string(issue))])
        if state == "onAgenda" { return }
        try ok(
            "meeting.schedule", actor: "cv-1",
            [
                ("meeting", .string("\(issue)-m1")), ("issue", .string(issue)), ("format", "communityConsultation"),
                ("rule", "simpleMajority"), ("startsAt", "2024-03-05T19:00:00+08:00"),
            ])
        if state == "inDeliberation" { return }
        try ok("meeting.attend", actor: "cv-1", [("meeting", .string("\(issue)-m1")), ("participant", "r-1"), ("role", "resident")])
        try ok(
            "vote.cast", actor: "r-1", [("meeting", .string("\(issue)-m1")), ("participant", "r-1"), ("choice", state == "rejectedByVote" ? "against" : "for")])
        try ok("meeting.close", actor: "cv-1", [("meeting", .string("\(issue)-m1")), ("resolution", "按楼栋轮换分配")])
        if state == "resolved" || state == "rejectedByVote" { return }
        try ok("outcome.submit", actor: "cv-1", [("issue", .string(issue)), ("department", "街道城管办")])
        if state == "submitted" { return }
        try ok("outcome.progress", actor: "cv-1", [("issue", .string(issue)), ("percent", 40), ("note", "划线完成")])
        if state == "implementing" { return }
        try ok("outcome.implement", actor: "cv-1", [("issue", .string(issue))])
        if state == "implemented" { return }
        try ok("outcome.evaluate", actor: "cv-1", [("issue", .string(issue)), ("evaluator", "r-2"), ("satisfaction", 4)])
        precondition(state == "evaluated", "unknown state \(state)")
    }

    /// The stored state of an issue.
    func state(of issue: String) throws -> String? {
        try engine.issues().first { $0.issue == issue }?.state
    }
}
