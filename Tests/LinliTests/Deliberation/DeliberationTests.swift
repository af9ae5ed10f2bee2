import Foundation
@testable import Linli
import Testing

@Suite("Deliberation: the four steps")
struct DeliberationTests {
    /// Section 5's transitions: for each command, the states it may start from and the state it leads to.
    static let transitions: [(command: String, from: Set<String>, to: String)] = [
        ("issue.assess", ["proposed", "assessed"], "assessed"),
        ("issue.admit", ["assessed", "rejectedByVote"], "onAgenda"),
        ("issue.decline", ["proposed", "assessed", "onAgenda", "rejectedByVote"], "declined"),
        ("issue.merge", ["proposed", "assessed", "onAgenda"], "merged"),
        ("meeting.schedule", ["onAgenda"], "inDeliberation"),
        ("outcome.submit", ["resolved"], "submitted"),
        ("outcome.progress", ["submitted", "implementing"], "implementing"),
        ("outcome.implement", ["implementing"], "implemented"),
        ("outcome.evaluate", ["implemented"], "evaluated"),
    ]

    static func fields(_ command: String, issue: String) -> [(String, JSONValue)] {
        let id = JSONValue.string(issue)
        switch command {
        case "issue.assess": return [("issue", id), ("importance", 3), ("urgency", 3), ("feasibility", 3)]
        case "issue.merge": return [("issue", id), ("into", "host")]
        case "meeting.schedule":
            return [
                ("meeting", .string("\(issue)-mx")), ("issue", id), ("format", "triParty"), ("rule", "twoThirds"), ("startsAt", "2024-03-09T19:00:00+08:00"),
            ]
        case "outcome.submit": return [("issue", id), ("department", "住建局")]
        case "outcome.progress": return [("issue", id), ("percent", 60), ("note", "施工中")]
        case "outcome.evaluate": return [("issue", id), ("evaluator", "r-3"), ("satisfaction", 5)]
        default: return [("issue", id)]
        }
    }

    @Test("every transition from every state is legal or illegal as section 5 says, naming the current state")
    func everyTransition() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.propose("host")
        var checked = 0
        for (command, from, to) in Self.transitions {
            for state in World.issueStates {
                let issue = "i-\(command)-\(state)"
                try w.issue(issue, in: state)
                #expect(try w.state(of: issue) == state)
                if from.contains(state) {
                    try w.ok(command, actor: "cv-1", Self.fields(command, issue: issue))
                    #expect(try w.state(of: issue) == to, "\(command) from \(state)")
                } else {
                    let rejection = try w.refused(.illegalTransition, command, actor: "cv-1", Self.fields(command, issue: issue))
                    #expect(rejection?.message.contains("is \(state)") == true, "\(command) from \(state): \(String(describing: rejection))")
                    #expect(try w.state(of: issue) == state)
                }
                checked += 1
            }
        }
        #expect(checked == Self.transitions.count * World.issueStates.count)
        // Closing needs an open meeting: a closed one cannot close again.
        try w.issue("again", in: "resolved")
        let closed = try w.refused(.illegalTransition, "meeting.close", actor: "cv-1", [("meeting", "again-m1"), ("resolution", "再议")])
        #expect(closed?.message.contains("closed") == true)
    }

    @Test("rejectedByVote goes back on the agenda and can pass at a second meeting")
    func backOnTheAgenda() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.issue("pets", in: "rejectedByVote")
        try w.ok("issue.admit", actor: "cv-1", [("issue", "pets"), ("reason", "修改方案后重新上会")])
        try w.ok(
            "meeting.schedule", actor: "cv-1",
            [
                ("meeting", "pets-m2"), ("issue", "pets"), ("format", "communityConsultation"), ("rule", "simpleMajority"),
                ("startsAt", "2024-04-01T19:00:00+08:00"),
            ])
        try w.ok("meeting.attend", actor: "cv-1", [("meeting", "pets-m2"), ("participant", "r-2"), ("role", "resident")])
        try w.ok("vote.cast", actor: "r-2", [("meeting", "pets-m2"), ("participant", "r-2"), ("choice", "for")])
        try w.ok("meeting.close", actor: "cv-1", [("meeting", "pets-m2"), ("resolution", "文明养犬公约")])
        #expect(try w.state(of: "pets") == "resolved")
        let document = try #require(try w.engine.issueDocument("pets"))
        let meetings = document["meetings"]?.arrayValue ?? []
        #expect(meetings.map { $0["passed"] } == [.bool(false), .bool(true)])
    }

    @Test("assessments are kept apart per assessor and combined as the mean of the three means; the agenda follows priority")
    func priorityAndAgenda() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("role.grant", actor: "admin", [("subject", "cv-2"), ("role", "convener"), ("community", "jiangshan")])
        for issue in ["a", "b", "c", "never"] { try w.propose(issue) }
        try w.ok("issue.assess", actor: "cv-1", [("issue", "a"), ("importance", 5), ("urgency", 4), ("feasibility", 2)])
        try w.ok("issue.assess", actor: "cv-2", [("issue", "a"), ("importance", 3), ("urgency", 2), ("feasibility", 5)])
        // A later assessment by the same assessor replaces theirs.
        try w.ok("issue.assess", actor: "cv-1", [("issue", "b"), ("importance", 1), ("urgency", 1), ("feasibility", 1)])
        try w.ok("issue.assess", actor: "cv-1", [("issue", "b"), ("importance", 4), ("urgency", 4), ("feasibility", 4)])
        try w.ok("issue.assess", actor: "cv-1", [("issue", "c"), ("importance", 2), ("urgency", 2), ("feasibility", 3)])
        let issues = try w.engine.issues()
        #expect(issues.map(\.issue) == ["b", "a", "c", "never"])
        // a: means 4, 3, 3.5 → 3.5; b: 4; c: 7/3 → 2.333; never: null.
        #expect(issues.map(\.priority) == [.decimal(units: 4000, scale: 3), .decimal(units: 3500, scale: 3), .decimal(units: 2333, scale: 3), .null])
        let a = try #require(try w.engine.issueDocument("a"))
        #expect(a["priority"]?.text == "3.5")
        #expect(a["scores"]?.arrayValue?.count == 2)
        let b = try #require(try w.engine.issueDocument("b"))
        #expect(b["scores"]?.arrayValue?.count == 1)
    }

    @Test("comments count by stance, and a merge carries the duplicate's comments over to the survivor's view")
    func commentsAndMerge() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.propose("lift")
        try w.propose("lift-dup")
        try w.ok("issue.comment", actor: "r-1", [("issue", "lift"), ("resident", "r-1"), ("stance", "support"), ("text", "老人爬楼太难")])
        try w.ok("issue.comment", actor: "r-2", [("issue", "lift-dup"), ("resident", "r-2"), ("stance", "oppose"), ("text", "一楼住户受影响")])
        try w.ok("issue.comment", actor: "r-3", [("issue", "lift-dup"), ("resident", "r-3"), ("stance", "neutral"), ("text", "看费用分摊")])
        // A resident comments only for themselves.
        _ = try w.refused(.unauthorized, "issue.comment", actor: "r-1", [("issue", "lift"), ("resident", "r-2"), ("stance", "support"), ("text", "代评")])
        try w.ok("issue.merge", actor: "cv-1", [("issue", "lift-dup"), ("into", "lift"), ("reason", "同一议题")])
        let document = try #require(try w.engine.issueDocument("lift"))
        #expect(document["comments"]?.arrayValue?.compactMap { $0["resident"]?.stringValue } == ["r-1", "r-2", "r-3"])
        #expect(document["mergedFrom"] == ["lift-dup"])
        #expect(document["timeline"]?.arrayValue?.contains { $0["type"] == "issue.merged" } == true)
        let duplicate = try #require(try w.engine.issueDocument("lift-dup"))
        #expect(duplicate["state"] == "merged")
        #expect(duplicate["mergedInto"] == "lift")
        // A merged issue takes no more comments, and nothing merges into a closed issue.
        let rejection = try w.refused(
            .illegalTransition, "issue.comment", actor: "r-1", [("issue", "lift-dup"), ("resident", "r-1"), ("stance", "support"), ("text", "迟到的意见")])
        #expect(rejection?.message.contains("merged into lift") == true)
        try w.propose("third")
        _ = try w.refused(.illegalTransition, "issue.merge", actor: "cv-1", [("issue", "third"), ("into", "lift-dup")])
        _ = try w.refused(.invalidField, "issue.merge", actor: "cv-1", [("issue", "third"), ("into", "third")])
    }

    @Test("who votes: children, experts and officials speak but never vote; one vote per participant, the latest counts")
    func whoVotes() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok(
            "organization.register", actor: "admin", [("organization", "pm-1"), ("community", "jiangshan"), ("name", "物业公司"), ("kind", "propertyCompany")])
        try w.issue("play", in: "inDeliberation")
        let meeting = JSONValue.string("play-m1")
        for (participant, role) in [
            ("r-1", "resident"), ("r-3", "child"), ("lawyer-1", "expert"), ("street-1", "official"), ("pm-1", "propertyCompany"), ("r-2", "elderAdvisor"),
        ] {
            try w.ok("meeting.attend", actor: "cv-1", [("meeting", meeting), ("participant", .string(participant)), ("role", .string(role))])
        }
        // The property company's role must match its kind; a person attends once.
        _ = try w.refused(.illegalTransition, "meeting.attend", actor: "cv-1", [("meeting", meeting), ("participant", "r-1"), ("role", "owner")])
        try w.ok("meeting.opinion", actor: "cv-1", [("meeting", meeting), ("participant", "r-3"), ("text", "想要一个能玩沙的地方")])
        try w.ok("meeting.opinion", actor: "cv-1", [("meeting", meeting), ("participant", "lawyer-1"), ("text", "公共部分改变用途需业主表决")])
        for participant in ["r-3", "lawyer-1", "street-1"] {
            _ = try w.refused(.notEligible, "vote.cast", actor: "cv-1", [("meeting", meeting), ("participant", .string(participant)), ("choice", "for")])
        }
        _ = try w.refused(.notEligible, "vote.cast", actor: "cv-1", [("meeting", meeting), ("participant", "nobody"), ("choice", "for")])
        // A resident votes only for themselves; a convener records paper ballots.
        _ = try w.refused(.unauthorized, "vote.cast", actor: "r-1", [("meeting", meeting), ("participant", "r-2"), ("choice", "for")])
        try w.ok("vote.cast", actor: "r-1", [("meeting", meeting), ("participant", "r-1"), ("choice", "against")])
        try w.ok("vote.cast", actor: "r-1", [("meeting", meeting), ("participant", "r-1"), ("choice", "for")])
        try w.ok("vote.cast", actor: "cv-1", [("meeting", meeting), ("participant", "pm-1"), ("choice", "against")])
        try w.ok("vote.cast", actor: "cv-1", [("meeting", meeting), ("participant", "r-2"), ("choice", "for")])
        try w.ok("meeting.close", actor: "cv-1", [("meeting", meeting), ("resolution", "儿童游乐区按孩子们的设计建设")])
        let tally = try #require(try w.engine.meeting("play-m1")?.value["tally"])
        #expect(tally["votesCast"] == 3)
        #expect(tally["for"] == 2)
        #expect(tally["against"] == 1)
        #expect(tally["passed"] == true)
        _ = try w.refused(.illegalTransition, "vote.cast", actor: "r-1", [("meeting", meeting), ("participant", "r-1"), ("choice", "against")])
        // Both of r-1's votes stay in the log; the second names the first.
        let votes = try w.engine.log.events(inStream: "meeting:play-m1").filter { $0.type == "vote.cast" }
        #expect(votes.count == 4)
        let replacing = try DomainEvent(votes[1])
        #expect(replacing.optionalInt("replaces") == Int64(votes[0].position))
    }

    @Test("the outcome loop: progress never decreases, the first progress starts implementation, evaluation closes it once")
    func outcomeLoop() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.issue("renovate", in: "submitted")
        try w.ok("outcome.progress", actor: "cv-1", [("issue", "renovate"), ("percent", 30), ("note", "雨污分流")])
        #expect(try w.state(of: "renovate") == "implementing")
        let lower = try w.refused(.invalidField, "outcome.progress", actor: "cv-1", [("issue", "renovate"), ("percent", 20), ("note", "回退")])
        #expect(lower?.field == "percent")
        try w.ok("outcome.progress", actor: "cv-1", [("issue", "renovate"), ("percent", 30), ("note", "同上")])
        try w.ok("outcome.progress", actor: "cv-1", [("issue", "renovate"), ("percent", 100), ("note", "完工")])
        _ = try w.refused(.invalidField, "outcome.progress", actor: "cv-1", [("issue", "renovate"), ("percent", 101), ("note", "超")])
        try w.ok("outcome.implement", actor: "cv-1", [("issue", "renovate")])
        _ = try w.refused(.unknownResident, "outcome.evaluate", actor: "cv-1", [("issue", "renovate"), ("evaluator", "ghost"), ("satisfaction", 5)])
        _ = try w.refused(.invalidField, "outcome.evaluate", actor: "cv-1", [("issue", "renovate"), ("evaluator", "r-2"), ("satisfaction", 6)])
        try w.ok("outcome.evaluate", actor: "cv-1", [("issue", "renovate"), ("evaluator", "r-2"), ("satisfaction", 5)])
        _ = try w.refused(.illegalTransition, "outcome.evaluate", actor: "cv-1", [("issue", "renovate"), ("evaluator", "r-3"), ("satisfaction", 1)])
        let document = try #require(try w.engine.issueDocument("renovate"))
        #expect(document["outcome"]?["percent"] == 100)
        #expect(document["outcome"]?["satisfaction"] == 5)
        #expect(document["outcome"]?["department"] == "街道城管办")
        // The timeline holds every event of the issue and its meetings, with positions in order.
        let positions = document["timeline"]?.arrayValue?.compactMap { $0["position"]?.intValue } ?? []
        #expect(positions == positions.sorted() && positions.count == 13)
    }

    @Test("days in each step follow occurred times; counts per community follow states")
    func stepsAndCounts() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.propose("noise", at: "2024-03-01T09:00:00+08:00")
        try w.ok("issue.assess", actor: "cv-1", at: "2024-03-04T09:00:00+08:00", [("issue", "noise"), ("importance", 3), ("urgency", 3), ("feasibility", 3)])
        try w.ok("issue.admit", actor: "cv-1", at: "2024-03-14T21:00:00+08:00", [("issue", "noise")])
        let document = try #require(try w.engine.issueDocument("noise", now: Timestamp(iso8601: "2024-03-16T21:00:00+08:00")))
        #expect(document["stepDays"]?.text == #"{"proposed":3,"assessed":10.5,"onAgenda":2}"#)
        try w.propose("other")
        let counts = try w.engine.issueCounts().map { "\($0.community)/\($0.state)=\($0.count)" }
        #expect(counts == ["jiangshan/onAgenda=1", "jiangshan/proposed=1"])
    }

    @Test("who may propose: a resident of the issue's community; a community scope names the community")
    func proposals() throws {
        let w = try World()
        try w.setUpCommunity()
        _ = try w.refused(
            .unauthorized, "issue.propose", actor: "cv-1",
            [
                ("issue", "x"), ("community", "jiangshan"), ("scope", ["level": "community", "ref": "jiangshan"]),
                ("title", "题"), ("description", "述"), ("category", "pets"), ("channel", "other"),
            ])
        _ = try w.refused(
            .invalidField, "issue.propose", actor: "r-1",
            [
                ("issue", "x"), ("community", "jiangshan"), ("scope", ["level": "community", "ref": "hexi"]),
                ("title", "题"), ("description", "述"), ("category", "pets"), ("channel", "other"),
            ])
        _ = try w.refused(
            .invalidField, "issue.propose", actor: "r-1",
            [
                ("issue", "x"), ("community", "jiangshan"), ("scope", ["level": "street", "ref": "x"]),
                ("title", "题"), ("description", "述"), ("category", "pets"), ("channel", "other"),
            ])
        try w.propose("x")
        _ = try w.refused(
            .duplicateId, "issue.propose", actor: "r-1",
            [
                ("issue", "x"), ("community", "jiangshan"), ("scope", ["level": "community", "ref": "jiangshan"]),
                ("title", "题"), ("description", "述"), ("category", "pets"), ("channel", "other"),
            ])
        _ = try w.refused(
            .invalidField, "meeting.schedule", actor: "cv-1",
            [("meeting", "m"), ("issue", "x"), ("format", "triParty"), ("rule", "simpleMajority"), ("startsAt", "2024-02-30T19:00:00+08:00")])
    }
}
