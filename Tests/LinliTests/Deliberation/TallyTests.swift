import Foundation
@testable import Linli
import Testing

@Suite("Tallies at the exact boundaries")
struct TallyTests {
    static func ballots(_ choices: [(String, Int64)]) -> [Tally.Ballot] {
        choices.enumerated().map { Tally.Ballot(participant: "o-\($0.offset)", choice: $0.element.0, areaSqm: $0.element.1) }
    }

    @Test("simple majority is more than half of votes cast, abstentions included; exactly half fails")
    func simpleMajority() {
        #expect(!Tally(rule: .simpleMajority, ballots: Self.ballots([("for", 0), ("for", 0), ("against", 0), ("against", 0)])).passed)
        #expect(Tally(rule: .simpleMajority, ballots: Self.ballots([("for", 0), ("for", 0), ("for", 0), ("against", 0), ("against", 0)])).passed)
        let abstaining = Tally(rule: .simpleMajority, ballots: Self.ballots([("for", 0), ("for", 0), ("against", 0), ("abstain", 0)]))
        #expect(!abstaining.passed && abstaining.failedCondition == "forVotes" && abstaining.abstainVotes == 1)
        let empty = Tally(rule: .simpleMajority, ballots: [])
        #expect(!empty.passed && empty.failedCondition == "votesCast")
    }

    @Test("two thirds: exactly two thirds passes, just below fails")
    func twoThirds() {
        #expect(Tally(rule: .twoThirds, ballots: Self.ballots([("for", 0), ("for", 0), ("against", 0)])).passed)
        #expect(!Tally(rule: .twoThirds, ballots: Self.ballots([("for", 0), ("for", 0), ("for", 0), ("against", 0), ("abstain", 0)])).passed)
        #expect(Tally(rule: .twoThirds, ballots: Self.ballots([("for", 0), ("for", 0), ("for", 0), ("for", 0), ("against", 0), ("abstain", 0)])).passed)
    }

    @Test("Article 278 participation: two thirds by headcount but not by area, and the reverse")
    func participation() {
        // Three owners: 100, 100 and 1,000 m².
        let byHeadcount = Tally(rule: .doubleMajority, ballots: Self.ballots([("for", 100), ("for", 100)]), eligibleOwners: 3, totalAreaSqm: 1_200)
        #expect(!byHeadcount.passed && byHeadcount.failedCondition == "participationArea")
        #expect(byHeadcount.conditions.first { $0.name == "participationOwners" }?.met == true)
        let byArea = Tally(rule: .doubleMajority, ballots: Self.ballots([("for", 1_000)]), eligibleOwners: 3, totalAreaSqm: 1_200)
        #expect(!byArea.passed && byArea.failedCondition == "participationOwners")
        #expect(byArea.conditions.first { $0.name == "participationArea" }?.met == true)
        // Exactly two thirds of both passes the participation test.
        let exact = Tally(rule: .doubleMajority, ballots: Self.ballots([("for", 400), ("for", 400)]), eligibleOwners: 3, totalAreaSqm: 1_200)
        #expect(exact.passed)
    }

    @Test("double majority needs more than half of both; exactly half of either fails")
    func doubleMajority() {
        let halfOwners = Tally(
            rule: .doubleMajority, ballots: Self.ballots([("for", 150), ("for", 150), ("against", 50), ("against", 50)]), eligibleOwners: 4, totalAreaSqm: 400)
        #expect(!halfOwners.passed && halfOwners.failedCondition == "forOwners")
        #expect(halfOwners.conditions.first { $0.name == "forArea" }?.met == true)
        let halfArea = Tally(
            rule: .doubleMajority, ballots: Self.ballots([("for", 100), ("for", 50), ("for", 50), ("against", 200)]), eligibleOwners: 4, totalAreaSqm: 400)
        #expect(!halfArea.passed && halfArea.failedCondition == "forArea")
        let both = Tally(
            rule: .doubleMajority, ballots: Self.ballots([("for", 101), ("for", 50), ("for", 50), ("against", 199)]), eligibleOwners: 4, totalAreaSqm: 400)
        #expect(both.passed)
    }

    @Test("double majority major: exactly three quarters passes, just below fails, on owners and on area")
    func threeQuarters() {
        let exact = Tally(
            rule: .doubleMajorityMajor, ballots: Self.ballots([("for", 100), ("for", 100), ("for", 100), ("against", 100)]), eligibleOwners: 4,
            totalAreaSqm: 400)
        #expect(exact.passed)
        let areaShort = Tally(
            rule: .doubleMajorityMajor, ballots: Self.ballots([("for", 100), ("for", 100), ("for", 99), ("against", 101)]), eligibleOwners: 4, totalAreaSqm: 400
        )
        #expect(!areaShort.passed && areaShort.failedCondition == "forArea")
        // An abstention takes part but is not for: 3 of 5 owners is below three quarters.
        let ownersShort = Tally(
            rule: .doubleMajorityMajor, ballots: Self.ballots([("for", 300), ("for", 300), ("for", 300), ("abstain", 1), ("against", 1)]), eligibleOwners: 5,
            totalAreaSqm: 902)
        #expect(!ownersShort.passed && ownersShort.failedCondition == "forOwners")
        #expect(ownersShort.json["conditions"]?.arrayValue?.count == 5)
    }
}

@Suite("Owners' assemblies in the engine")
struct OwnersAssemblyTests {
    /// Units: r-1 owns two in 鹿溪小区 (60 + 40 m²), r-2 one there (90 m²), r-3 one in 江滨花园 (200 m²).
    static func world() throws -> World {
        let w = try World()
        try w.setUpCommunity()
        for (unit, compound, building, area, owner) in [
            ("u-1", "鹿溪小区", "1幢", 60, "r-1"), ("u-2", "鹿溪小区", "2幢", 40, "r-1"),
            ("u-3", "鹿溪小区", "2幢", 90, "r-2"), ("u-4", "江滨花园", "1幢", 200, "r-3"),
        ] {
            try w.ok(
                "unit.register", actor: "admin",
                [
                    ("unit", .string(unit)), ("community", "jiangshan"), ("compound", .string(compound)),
                    ("building", .string(building)), ("areaSqm", .int(Int64(area))), ("owner", .string(owner)),
                ])
        }
        return w
    }

    @Test("an owner counts once with the sum of their units in scope; only owners in scope attend as owners and vote")
    func ownerWithSeveralUnits() throws {
        let w = try Self.world()
        try w.propose("lift", scope: ["level": "compound", "ref": "鹿溪小区"], title: "加装电梯", category: "lift")
        try w.ok("issue.assess", actor: "cv-1", [("issue", "lift"), ("importance", 5), ("urgency", 4), ("feasibility", 3)])
        try w.ok("issue.admit", actor: "cv-1", [("issue", "lift")])
        _ = try w.refused(
            .invalidField, "meeting.schedule", actor: "cv-1",
            [("meeting", "m"), ("issue", "lift"), ("format", "triParty"), ("rule", "doubleMajorityMajor"), ("startsAt", "2024-03-09T19:00:00+08:00")])
        try w.ok(
            "meeting.schedule", actor: "cv-1",
            [("meeting", "m"), ("issue", "lift"), ("format", "ownersAssembly"), ("rule", "doubleMajorityMajor"), ("startsAt", "2024-03-09T19:00:00+08:00")])
        _ = try w.refused(.notEligible, "meeting.attend", actor: "cv-1", [("meeting", "m"), ("participant", "r-3"), ("role", "owner")])
        try w.ok("meeting.attend", actor: "cv-1", [("meeting", "m"), ("participant", "r-1"), ("role", "owner")])
        try w.ok("meeting.attend", actor: "cv-1", [("meeting", "m"), ("participant", "r-2"), ("role", "owner")])
        try w.ok("meeting.attend", actor: "cv-1", [("meeting", "m"), ("participant", "r-3"), ("role", "resident")])
        _ = try w.refused(.notEligible, "vote.cast", actor: "r-3", [("meeting", "m"), ("participant", "r-3"), ("choice", "for")])
        try w.ok("vote.cast", actor: "r-1", [("meeting", "m"), ("participant", "r-1"), ("choice", "for")])
        try w.ok("vote.cast", actor: "r-2", [("meeting", "m"), ("participant", "r-2"), ("choice", "against")])
        try w.ok("meeting.close", actor: "cv-1", [("meeting", "m"), ("resolution", "加装电梯方案")])
        let tally = try #require(try w.engine.meeting("m")?.value["tally"])
        #expect(tally["eligibleOwners"] == 2)
        #expect(tally["totalAreaSqm"] == 190)
        #expect(tally["participatingOwners"] == 2)
        #expect(tally["participatingAreaSqm"] == 190)
        #expect(tally["forAreaSqm"] == 100)
        #expect(tally["forOwners"] == 1)
        #expect(tally["failedCondition"] == "forOwners")
        #expect(try w.state(of: "lift") == "rejectedByVote")
    }

    @Test("a building scope counts the units of that building only")
    func buildingScope() throws {
        let w = try Self.world()
        try w.propose("stairs", scope: ["level": "building", "ref": "2幢"], title: "楼道改造", category: "renovation")
        try w.ok("issue.assess", actor: "cv-1", [("issue", "stairs"), ("importance", 3), ("urgency", 3), ("feasibility", 3)])
        try w.ok("issue.admit", actor: "cv-1", [("issue", "stairs")])
        try w.ok(
            "meeting.schedule", actor: "cv-1",
            [("meeting", "m"), ("issue", "stairs"), ("format", "ownersAssembly"), ("rule", "doubleMajority"), ("startsAt", "2024-03-09T19:00:00+08:00")])
        for owner in ["r-1", "r-2"] {
            try w.ok("meeting.attend", actor: "cv-1", [("meeting", "m"), ("participant", .string(owner)), ("role", "owner")])
            try w.ok("vote.cast", actor: "cv-1", [("meeting", "m"), ("participant", .string(owner)), ("choice", "for")])
        }
        try w.ok("meeting.close", actor: "cv-1", [("meeting", "m"), ("resolution", "通过")])
        let tally = try #require(try w.engine.meeting("m")?.value["tally"])
        // r-1's 1幢 unit is out of scope: 40 + 90.
        #expect(tally["totalAreaSqm"] == 130)
        #expect(tally["participatingAreaSqm"] == 130)
        #expect(tally["passed"] == true)
    }
}
