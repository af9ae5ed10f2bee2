import LinliStore

/// Deliberation (四步走 and 微协商, DOMAIN.md section 2): the issue library, selection by assessment and
/// residents' views, meetings in four formats with Civil Code voting, and the outcome loop.
enum DeliberationDomain {
    static let channels = Channel.values
    static let scopeLevels = ScopeLevel.values
    static let formats = MeetingFormat.values
    static let attendeeRoles = AttendeeRole.values
    /// Who votes outside owners' assemblies (section 5); in an owners' assembly only `owner` attendees vote.
    static let votingRoles: Set<String> = ["resident", "owner", "propertyCompany", "ownersCommittee", "socialOrg", "elderAdvisor"]
    /// States from which nothing more happens to an issue.
    static let closedStates: Set<String> = ["declined", "merged", "evaluated"]

    static let scopeSpec = FieldType.object([.required("level", .oneOf(scopeLevels)), .required("ref", .name)])
    static let proposeFields: [FieldSpec] = [
        .required("issue", .id), .required("community", .id), .required("scope", scopeSpec), .required("title", .name),
        .required("description", .description), .required("category", .id), .required("channel", .oneOf(channels)),
    ]

    static let handlers: [CommandHandler] = [
        CommandHandler(
            spec: CommandSpec(name: "issue.propose", fields: proposeFields),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([], asResident: true, txn)
                try checkProposal(d, issueId: d.command.string("issue"), field: "issue", scope: d.command.fields["scope"] ?? .null, scopeField: "scope", txn)
                d.emitFields(
                    .deliberation(.issueProposed), stream: "issue:\(d.command.string("issue"))", expected: .noStream,
                    adding: [("proposer", .string(d.command.actor))])
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "issue.comment",
                fields: [
                    .required("issue", .id), .required("resident", .id), .required("stance", .oneOf(Stance.self)), .required("text", .description),
                ]),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                _ = try d.resident("resident", txn)
                try d.authorize([], asResident: d.command.string("resident") == d.command.actor, txn)
                guard !closedStates.contains(try issue.string("state")) else { throw try illegal(d, issue, needs: "a live issue") }
                d.emitFields(.deliberation(.issueCommented), stream: "issue:\(try issue.string("issue"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "issue.assess",
                fields: [
                    .required("issue", .id), .required("importance", .int(1...5)), .required("urgency", .int(1...5)), .required("feasibility", .int(1...5)),
                ]),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                try d.authorize([.convener], txn)
                try require(d, issue, in: ["proposed", "assessed"])
                d.emitFields(.deliberation(.issueAssessed), stream: "issue:\(try issue.string("issue"))", adding: [("assessor", .string(d.command.actor))])
            }),
        transition("issue.admit", from: ["assessed", "rejectedByVote"], event: .deliberation(.issueAdmitted)),
        transition("issue.decline", from: ["proposed", "assessed", "onAgenda", "rejectedByVote"], event: .deliberation(.issueDeclined)),
        CommandHandler(
            spec: CommandSpec(name: "issue.merge", fields: [.required("issue", .id), .required("into", .id), .optional("reason", .note)]),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                try d.authorize([.convener], txn)
                try require(d, issue, in: ["proposed", "assessed", "onAgenda"])
                let into = try d.require(d.tables.deliberation["issues"], d.command.string("into"), .unknownIssue, field: "into", what: "issue", txn)
                guard try into.string("issue") != issue.string("issue") else { throw Rejection.invalid("into", "an issue cannot merge into itself") }
                guard try into.string("community") == d.community else {
                    throw try Rejection.invalid("into", "\(into.string("issue")) is in \(into.string("community")), not \(d.community)")
                }
                guard !closedStates.contains(try into.string("state")) else {
                    throw try Rejection(.illegalTransition, field: "into", "into: \(into.string("issue")) is \(into.string("state")); merge into a live issue")
                }
                d.emitFields(.deliberation(.issueMerged), stream: "issue:\(try issue.string("issue"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "meeting.schedule",
                fields: [
                    .required("meeting", .id), .required("issue", .id), .required("format", .oneOf(formats)),
                    .required("rule", .oneOf(VotingRule.self)), .required("startsAt", .time),
                ]),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                try d.authorize([.convener], txn)
                try d.requireAbsent(d.tables.deliberation["meetings"], d.command.string("meeting"), field: "meeting", what: "meeting", txn)
                try require(d, issue, in: ["onAgenda"])
                if VotingRule(rawValue: d.command.string("rule"))!.isDoubleMajority && d.command.string("format") != "ownersAssembly" {
                    throw Rejection.invalid("rule", "\(d.command.string("rule")) is for owners' assemblies only (Civil Code art. 278)")
                }
                d.emitFields(.deliberation(.meetingScheduled), stream: "meeting:\(d.command.string("meeting"))", expected: .noStream)
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "meeting.attend",
                fields: [
                    .required("meeting", .id), .required("participant", .id), .required("role", .oneOf(attendeeRoles)),
                ]),
            decide: { d, txn in
                let (meeting, issue) = try openMeeting(d, txn)
                try d.authorize([.convener], txn)
                let participant = d.command.string("participant")
                if let earlier = try Rows.get(d.tables.deliberation["attendance"], compositeKey(meeting.string("meeting"), participant), txn) {
                    throw try Rejection(
                        .illegalTransition, field: "participant",
                        "participant: \(participant) attends \(meeting.string("meeting")) already, as \(earlier.string("role"))")
                }
                try checkAttendee(d, role: d.command.string("role"), issue: issue, txn)
                try d.emitFields(
                    .deliberation(.meetingAttended), stream: "meeting:\(meeting.string("meeting"))", adding: [("issue", .string(issue.string("issue")))])
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "meeting.opinion",
                fields: [
                    .required("meeting", .id), .required("participant", .id), .required("text", .description),
                ]),
            decide: { d, txn in
                let (meeting, issue) = try openMeeting(d, txn)
                try d.authorize([.convener], txn)
                _ = try attendee(d, meeting, txn)
                try d.emitFields(
                    .deliberation(.opinionGiven), stream: "meeting:\(meeting.string("meeting"))", adding: [("issue", .string(issue.string("issue")))])
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "vote.cast",
                fields: [
                    .required("meeting", .id), .required("participant", .id), .required("choice", .oneOf(VoteChoice.self)),
                ]),
            decide: { d, txn in
                let (meeting, issue) = try openMeeting(d, txn)
                let participant = d.command.string("participant")
                // The participant's own vote, or a convener recording a paper ballot (section 3).
                try d.authorize([.convener], asResident: participant == d.command.actor, txn)
                let role = try attendee(d, meeting, txn).string("role")
                let assembly = try meeting.string("format") == "ownersAssembly"
                guard assembly ? role == "owner" : votingRoles.contains(role) else {
                    throw Rejection(
                        .notEligible, field: "participant",
                        "participant: \(participant) attends as \(role), which does not vote in \(assembly ? "an owners' assembly (owners only)" : "this meeting")"
                    )
                }
                var pairs = d.fieldPairs() + [("issue", .string(try issue.string("issue")))]
                if let earlier = try Rows.get(d.tables.deliberation["votes"], compositeKey(meeting.string("meeting"), participant), txn) {
                    pairs.append(("replaces", .int(Int64(earlier.position))))
                }
                d.emit(.deliberation(.voteCast), stream: "meeting:\(try meeting.string("meeting"))", pairs)
            }),
        CommandHandler(
            spec: CommandSpec(name: "meeting.close", fields: [.required("meeting", .id), .required("resolution", .description)]),
            decide: { d, txn in
                let (meeting, issue) = try openMeeting(d, txn)
                try d.authorize([.convener], txn)
                let tally = try tallyMeeting(d.tables, meeting: meeting, issue: issue, txn)
                try d.emitFields(
                    .deliberation(.meetingClosed), stream: "meeting:\(meeting.string("meeting"))",
                    adding: [
                        ("issue", .string(issue.string("issue"))), ("format", .string(meeting.string("format"))),
                        ("passed", .bool(tally.passed)), ("tally", tally.json),
                    ])
            }),
        CommandHandler(
            spec: CommandSpec(name: "outcome.submit", fields: [.required("issue", .id), .required("department", .name)]),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                try d.authorize([.convener], txn)
                try require(d, issue, in: ["resolved"])
                d.emitFields(.deliberation(.outcomeSubmitted), stream: "issue:\(try issue.string("issue"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "outcome.progress",
                fields: [
                    .required("issue", .id), .required("percent", .int(0...100)), .required("note", .note),
                ]),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                try d.authorize([.convener], txn)
                try require(d, issue, in: ["submitted", "implementing"])
                let last = issue["outcome"]?["percent"]?.intValue ?? 0
                guard d.command.int("percent") >= last else {
                    throw Rejection.invalid("percent", "\(d.command.int("percent")) is below the last progress, \(last)%; progress never decreases")
                }
                d.emitFields(.deliberation(.outcomeProgressed), stream: "issue:\(try issue.string("issue"))")
            }),
        transition("outcome.implement", from: ["implementing"], event: .deliberation(.outcomeImplemented), reason: false),
        CommandHandler(
            spec: CommandSpec(
                name: "outcome.evaluate",
                fields: [
                    .required("issue", .id), .required("evaluator", .id), .required("satisfaction", .int(1...5)),
                ]),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                try d.authorize([.convener], txn)
                _ = try d.resident("evaluator", txn)
                try require(d, issue, in: ["implemented"])
                d.emitFields(.deliberation(.outcomeEvaluated), stream: "issue:\(try issue.string("issue"))")
            }),
    ]

    /// A convener's move of an issue from some states to the next, with an optional reason.
    static func transition(_ name: String, from states: Set<String>, event: EventType, reason: Bool = true) -> CommandHandler {
        CommandHandler(
            spec: CommandSpec(name: name, fields: [.required("issue", .id)] + (reason ? [.optional("reason", .note)] : [])),
            decide: { d, txn in
                let issue = try loadIssue(d, txn)
                try d.authorize([.convener], txn)
                try require(d, issue, in: states)
                d.emitFields(event, stream: "issue:\(try issue.string("issue"))")
            })
    }

    // MARK: Rules

    /// The issue named by the `issue` field; sets the command's community to the issue's.
    static func loadIssue(_ d: Decision, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row {
        let row = try d.require(d.tables.deliberation["issues"], d.command.string("issue"), .unknownIssue, field: "issue", what: "issue", txn)
        d.community = try row.string("community")
        return row
    }

    static func require(_ d: Decision, _ issue: Row, in states: Set<String>) throws {
        guard states.contains(try issue.string("state")) else { throw try illegal(d, issue, needs: states.sorted().joined(separator: " or ")) }
    }

    static func illegal(_ d: Decision, _ issue: Row, needs: String) throws -> Rejection {
        // Only a merged issue has `mergedInto`.
        let merged = issue.optionalString("mergedInto").map { " into \($0)" } ?? ""
        return try Rejection(
            .illegalTransition, field: "issue", "issue: \(issue.string("issue")) is \(issue.string("state"))\(merged); \(d.command.name) needs \(needs)")
    }

    /// Checks a new issue: a fresh id, and a scope whose community-level ref is the community itself.
    static func checkProposal(
        _ d: Decision, issueId: String, field: String, scope: JSONValue, scopeField: String,
        _ txn: borrowing some TransactionReading & ~Copyable
    ) throws {
        try d.requireAbsent(d.tables.deliberation["issues"], issueId, field: field, what: "issue", txn)
        if scope["level"]?.stringValue == "community", scope["ref"]?.stringValue != d.community {
            throw Rejection.invalid("\(scopeField).ref", "a community-level scope's ref is the community, \(d.community)")
        }
    }

    /// The open meeting named by `meeting`, and its issue; sets the command's community.
    static func openMeeting(_ d: Decision, _ txn: borrowing some TransactionReading & ~Copyable) throws -> (meeting: Row, issue: Row) {
        let meeting = try d.require(d.tables.deliberation["meetings"], d.command.string("meeting"), .unknownMeeting, field: "meeting", what: "meeting", txn)
        guard let issue = try Rows.get(d.tables.deliberation["issues"], meeting.string("issue"), txn) else {
            throw LogError.corrupt(position: meeting.position, reason: "meeting \(try meeting.string("meeting")) names an issue the projection does not have")
        }
        d.community = try issue.string("community")
        guard try meeting.string("state") == "open" else {
            throw Rejection(
                .illegalTransition, field: "meeting", "meeting: \(try meeting.string("meeting")) is closed; \(d.command.name) needs an open meeting")
        }
        return (meeting, issue)
    }

    static func attendee(_ d: Decision, _ meeting: Row, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row {
        let participant = d.command.string("participant")
        guard let row = try Rows.get(d.tables.deliberation["attendance"], compositeKey(meeting.string("meeting"), participant), txn) else {
            throw Rejection(.notEligible, field: "participant", "participant: \(participant) does not attend \(try meeting.string("meeting"))")
        }
        return row
    }

    /// Who may attend as what: people (residents, owners, children, the 三老) are registered residents;
    /// the property company, owners' committee and social organisations are registered organizations;
    /// experts (lawyers, psychologists) and officials may come from outside and need no registration.
    /// An `owner` must own a unit in the issue's scope.
    static func checkAttendee(_ d: Decision, role: String, issue: Row, _ txn: borrowing some TransactionReading & ~Copyable) throws {
        let participant = d.command.string("participant")
        switch role {
        case "resident", "owner", "child", "elderAdvisor":
            _ = try d.resident("participant", txn)
            if role == "owner" {
                let scope = issue["scope"] ?? .null
                let owns = try ownedUnitsInScope(d.tables, owner: participant, community: issue.string("community"), scope: scope, txn)
                guard !owns.isEmpty else {
                    throw Rejection(.notEligible, field: "participant", "participant: \(participant) owns no unit in the issue's scope (\(scopeText(scope)))")
                }
            }
        case "propertyCompany", "ownersCommittee", "socialOrg":
            let organization = try d.require(
                d.tables.registry["organizations"], participant, .unknownParticipant, field: "participant", what: "organization", txn)
            if role != "socialOrg", try organization.string("kind") != role {
                throw Rejection.invalid("role", "\(participant) is a \(try organization.string("kind")), not a \(role)")
            }
        default:
            break
        }
    }

    static func scopeText(_ scope: JSONValue) -> String {
        "\(scope["level"]?.stringValue ?? "?") \(scope["ref"]?.stringValue ?? "?")"
    }

    /// Whether a registered unit lies in an issue's scope (section 5: a compound scope's ref is a unit's
    /// `compound`, a building scope's ref is a unit's `building`).
    static func unitInScope(_ unit: Row, community: String, scope: JSONValue) throws -> Bool {
        guard try unit.string("community") == community else { return false }
        switch scope["level"]?.stringValue {
        case "compound": return try unit.string("compound") == scope["ref"]?.stringValue
        case "building": return try unit.string("building") == scope["ref"]?.stringValue
        default: return true
        }
    }

    static func ownedUnitsInScope(
        _ tables: Tables, owner: String, community: String, scope: JSONValue,
        _ txn: borrowing some TransactionReading & ~Copyable
    ) throws -> [Row] {
        var units: [Row] = []
        try Rows.scan(tables.registry["units-by-owner"], prefix: compositeKey(owner) + [0], txn) { _, unit in
            if try unitInScope(unit, community: community, scope: scope) { units.append(unit) }
            return true
        }
        return units
    }

    /// Tallies a meeting from its attendance and latest votes, and, for owners' assemblies, the units
    /// registered in the issue's scope now (section 5: as registered when the meeting closes).
    static func tallyMeeting(_ tables: Tables, meeting: Row, issue: Row, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Tally {
        let rule = VotingRule(rawValue: try meeting.string("rule"))!
        let id = try meeting.string("meeting")
        var ballots: [Tally.Ballot] = []
        try Rows.scan(tables.deliberation["votes"], prefix: compositeKey(id) + [0], txn) { _, vote in
            try ballots.append(Tally.Ballot(participant: vote.string("participant"), choice: vote.string("choice")))
            return true
        }
        return try doubleMajorityTally(tables, rule: rule, ballots: ballots, issue: issue, txn)
    }

    /// Tallies ballots under `rule`; for the double-majority rules each owner of a unit in the issue's scope
    /// counts once, with the sum of their units' areas there. Shared by closing and by recounting.
    static func doubleMajorityTally(
        _ tables: Tables, rule: VotingRule, ballots: [Tally.Ballot], issue: Row,
        _ txn: borrowing some TransactionReading & ~Copyable
    ) throws -> Tally {
        guard rule.isDoubleMajority else { return Tally(rule: rule, ballots: ballots) }
        var areaByOwner: [String: Int64] = [:]
        let community = try issue.string("community"), scope = issue["scope"] ?? .null
        try Rows.scan(tables.registry["units-by-community"], prefix: compositeKey(community) + [0], txn) { _, unit in
            if try unitInScope(unit, community: community, scope: scope) { try areaByOwner[unit.string("owner"), default: 0] += unit.int("areaSqm") }
            return true
        }
        var weighted = ballots
        for index in weighted.indices { weighted[index].areaSqm = areaByOwner[weighted[index].participant] ?? 0 }
        return Tally(rule: rule, ballots: weighted, eligibleOwners: Int64(areaByOwner.count), totalAreaSqm: areaByOwner.values.reduce(0, +))
    }
}
