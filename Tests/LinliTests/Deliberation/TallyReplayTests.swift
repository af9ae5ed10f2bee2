import Foundation
@testable import Linli
import Testing

/// Random owners' assemblies: the tally recorded when each meeting closed equals one recomputed from the
/// log alone by an independent reading of the rules, and a rebuild reproduces every projection.
@Suite("Tallies replayed from the log")
struct TallyReplayTests {
    /// The rules again, written differently from `Tally`: thresholds as smallest whole counts
    /// (⌈2n/3⌉, ⌊n/2⌋+1, ⌈3n/4⌉) instead of cross-multiplication.
    static func reference(rule: String, votes: [String: String], areas: [String: Int64]) -> Bool {
        guard !votes.isEmpty else { return false }
        let cast = Int64(votes.count), forVotes = Int64(votes.values.filter { $0 == "for" }.count)
        func atLeastTwoThirds(_ part: Int64, _ whole: Int64) -> Bool { part >= (2 * whole + 2) / 3 }
        func moreThanHalf(_ part: Int64, _ whole: Int64) -> Bool { part >= whole / 2 + 1 }
        func atLeastThreeQuarters(_ part: Int64, _ whole: Int64) -> Bool { part >= (3 * whole + 3) / 4 }
        switch rule {
        case "simpleMajority": return moreThanHalf(forVotes, cast)
        case "twoThirds": return atLeastTwoThirds(forVotes, cast)
        default:
            let totalArea = areas.values.reduce(0, +)
            let area = votes.keys.reduce(Int64(0)) { $0 + areas[$1]! }
            let forArea = votes.filter { $0.value == "for" }.keys.reduce(Int64(0)) { $0 + areas[$1]! }
            guard atLeastTwoThirds(cast, Int64(areas.count)), atLeastTwoThirds(area, totalArea) else { return false }
            return rule == "doubleMajority"
                ? moreThanHalf(forVotes, cast) && moreThanHalf(forArea, area)
                : atLeastThreeQuarters(forVotes, cast) && atLeastThreeQuarters(forArea, area)
        }
    }

    @Test("recorded tallies equal a recomputation from the log; a rebuild reproduces the projections", arguments: [20_261_127 as UInt64, 42])
    func replay(seed: UInt64) throws {
        let w = try World()
        try w.setUpCommunity()
        var rng = SplitMix64(state: seed)
        var lines: [String] = []
        // 24 owners; each holds 1–3 units, some outside the compound in scope.
        let owners = (0..<24).map { "o-\($0)" }
        for owner in owners {
            lines.append(
                w.line(
                    "resident.register", actor: "gw-1",
                    [("resident", .string(owner)), ("community", "jiangshan"), ("household", .string("h-\(owner)")), ("name", "业主"), ("birthYear", 1970)]))
            for unit in 0..<(1 + rng.below(3)) {
                lines.append(
                    w.line(
                        "unit.register", actor: "admin",
                        [
                            ("unit", .string("\(owner)-u\(unit)")), ("community", "jiangshan"),
                            ("compound", rng.below(4) == 0 ? "江滨花园" : "鹿溪小区"), ("building", "1幢"),
                            ("areaSqm", .int(Int64(40 + rng.below(160)))), ("owner", .string(owner)),
                        ]))
            }
        }
        let report = try w.engine.apply(lines: lines.map { Array($0.utf8) })
        #expect(report.rejected == 0)
        let rules = ["simpleMajority", "twoThirds", "doubleMajority", "doubleMajorityMajor"]
        var passedCount = 0
        for m in 0..<16 {
            let issue = "i-\(m)", meeting = JSONValue.string("m-\(m)")
            try w.propose(issue, scope: ["level": "compound", "ref": "鹿溪小区"])
            try w.ok("issue.assess", actor: "cv-1", [("issue", .string(issue)), ("importance", 3), ("urgency", 3), ("feasibility", 3)])
            try w.ok("issue.admit", actor: "cv-1", [("issue", .string(issue))])
            try w.ok(
                "meeting.schedule", actor: "cv-1",
                [
                    ("meeting", meeting), ("issue", .string(issue)), ("format", "ownersAssembly"),
                    ("rule", .string(rules[m % 4])), ("startsAt", "2024-03-09T19:00:00+08:00"),
                ])
            var batch: [String] = []
            // Most owners come when participation matters; a random share otherwise. Attending owners out
            // of scope are refused, which the batch reports (continue mode) and the tally ignores.
            let turnout = 50 + rng.below(51)
            for owner in owners where rng.below(100) < turnout {
                batch.append(w.line("meeting.attend", actor: "cv-1", [("meeting", meeting), ("participant", .string(owner)), ("role", "owner")]))
                for _ in 0..<(1 + rng.below(2)) {
                    let choice = ["for", "for", "for", "against", "abstain"][rng.below(5)]
                    batch.append(w.line("vote.cast", actor: "cv-1", [("meeting", meeting), ("participant", .string(owner)), ("choice", .string(choice))]))
                }
            }
            _ = try w.engine.apply(lines: batch.map { Array($0.utf8) }, mode: .continueOnRejection)
            try w.ok("meeting.close", actor: "cv-1", [("meeting", meeting), ("resolution", "表决")])
        }
        // Recompute every meeting from the log alone.
        var unitsInScope: [String: Int64] = [:]  // owner → area in 鹿溪小区
        var votes: [String: [String: String]] = [:]
        var rule: [String: String] = [:]
        var checked = 0
        for event in try w.engine.log.events() {
            let e = try DomainEvent(event)
            switch e.type {
            case .registry(.unitRegistered) where e.optionalString("compound") == "鹿溪小区":
                unitsInScope[try e.string("owner"), default: 0] += try e.int("areaSqm")
            case .deliberation(.meetingScheduled): rule[try e.string("meeting")] = try e.string("rule")
            case .deliberation(.voteCast): votes[try e.string("meeting"), default: [:]][try e.string("participant")] = try e.string("choice")
            case .deliberation(.meetingClosed):
                let meeting = try e.string("meeting")
                let expected = Self.reference(rule: rule[meeting]!, votes: votes[meeting] ?? [:], areas: unitsInScope)
                #expect(e.payload["passed"] == .bool(expected), "meeting \(meeting) under \(rule[meeting]!)")
                #expect(e.payload["tally"]?["votesCast"]?.intValue == Int64(votes[meeting]?.count ?? 0))
                // The engine's own recount from the meeting's stream agrees with the recorded tally.
                #expect(try w.engine.recount(meeting: meeting)?.json == e.payload["tally"])
                if expected { passedCount += 1 }
                checked += 1
            default: break
            }
        }
        #expect(checked == 16)
        #expect(passedCount > 0 && passedCount < 16, "the sample exercised both results: \(passedCount) passed")
        let live = try projectionDump(w.engine)
        try w.engine.log.rebuildProjections()
        #expect(try projectionDump(w.engine) == live, "replaying the log reproduces every tally and state byte for byte")
        #expect(try w.engine.audit().ok)
    }
}
