import LinliStore

/// The deliberation projection: issues with their state, scores, stances and time in each step; every
/// assessment, comment, meeting, attendance, latest vote and opinion; each issue's timeline; and the
/// number of issues per community and state.
final class DeliberationProjection: Projection {
    let name = "deliberation"
    let version: UInt32 = 1
    let databaseNames = ["issues", "assessments", "comments", "meetings", "attendance", "votes", "opinions", "timeline", "counts"]
    /// An issue's timeline, `issue ‖ 0 ‖ position`: only added.
    let appendOnlyDatabases: [String: AppendOnlyLayout] = ["timeline": .entityThenPosition]

    var eventTypes: Set<String>? { Self.types }
    static let types: Set<String> = [
        "issue.proposed", "issue.commented", "issue.assessed", "issue.admitted", "issue.declined", "issue.merged",
        "meeting.scheduled", "meeting.attended", "meeting.opinionGiven", "vote.cast", "meeting.closed",
        "outcome.submitted", "outcome.progressed", "outcome.implemented", "outcome.evaluated",
    ]

    /// The state each event moves its issue to, when it moves it.
    static let nextState: [String: String] = [
        "issue.assessed": "assessed", "issue.admitted": "onAgenda", "issue.declined": "declined", "issue.merged": "merged",
        "meeting.scheduled": "inDeliberation", "outcome.submitted": "submitted", "outcome.progressed": "implementing",
        "outcome.implemented": "implemented", "outcome.evaluated": "evaluated",
    ]

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        assert(Self.types.contains(event.type), "the log hands a projection only the event types it names")
        let e = try DomainEvent(event)
        let p = e.position
        let atMs = event.occurredAt.epochMilliseconds
        let issueId = e.string("issue")

        if event.type == "issue.proposed" {
            var value = e.payload
            value = value.setting("state", "proposed").setting("proposedAt", .string(event.occurredAt.iso8601))
                .setting("stateSinceMs", .int(atMs)).setting("stepMs", .object([]))
            try Rows.put(db["issues"], issueId, value, position: p, txn)
            try count(db, txn, p, community: e.string("community"), state: "proposed", by: 1)
            try timeline(db, txn, e)
            return
        }
        guard let row = try Rows.get(db["issues"], issueId, txn) else { throw missing(e, "issue") }
        var issue = row.value
        try timeline(db, txn, e)

        switch event.type {
        case "issue.commented":
            let stance = e.string("stance")
            var stances = issue["stances"] ?? .object([])
            stances = stances.setting(stance, .int((stances[stance]?.intValue ?? 0) + 1))
            issue = issue.setting("stances", stances)
            try Rows.put(
                db["comments"], compositeKey(issueId) + [0] + bigEndianKey(p),
                [
                    "issue": .string(issueId), "resident": .string(e.string("resident")), "stance": .string(stance),
                    "text": .string(e.string("text")), "at": .string(event.occurredAt.iso8601), "position": .int(Int64(p)),
                ], position: p, txn)
        case "issue.assessed":
            // Assessors are kept apart; a later assessment by the same assessor replaces theirs.
            let key = compositeKey(issueId, e.string("assessor"))
            let earlier = try Rows.get(db["assessments"], key, txn)
            var sums = [
                ("assessments", Int64(1)), ("importanceSum", e.int("importance")), ("urgencySum", e.int("urgency")), ("feasibilitySum", e.int("feasibility")),
            ]
            if let earlier {
                sums[0].1 = 0
                sums[1].1 -= earlier.int("importance")
                sums[2].1 -= earlier.int("urgency")
                sums[3].1 -= earlier.int("feasibility")
            }
            for (name, delta) in sums { issue = issue.setting(name, .int((issue[name]?.intValue ?? 0) + delta)) }
            try Rows.put(
                db["assessments"], key,
                [
                    "assessor": .string(e.string("assessor")), "importance": .int(e.int("importance")), "urgency": .int(e.int("urgency")),
                    "feasibility": .int(e.int("feasibility")), "at": .string(event.occurredAt.iso8601), "position": .int(Int64(p)),
                ], position: p, txn)
        case "issue.merged":
            let into = e.string("into")
            guard let survivor = try Rows.get(db["issues"], into, txn) else { throw missing(e, "issue merged into") }
            let mergedFrom = (survivor["mergedFrom"]?.stringsValue ?? []) + [issueId]
            try Rows.put(db["issues"], into, survivor.value.setting("mergedFrom", .array(mergedFrom.map { .string($0) })), position: p, txn)
            try Rows.put(db["timeline"], compositeKey(into) + [0] + bigEndianKey(p), timelineEntry(e), position: p, txn)
            issue = issue.setting("mergedInto", .string(into))
        case "meeting.scheduled":
            let meeting = e.string("meeting")
            try Rows.put(db["meetings"], meeting, e.payload.setting("state", "open"), position: p, txn)
            issue = issue.setting("meetings", .array((issue["meetings"]?.stringsValue ?? []).map { .string($0) } + [.string(meeting)]))
        case "meeting.attended":
            try Rows.put(
                db["attendance"], compositeKey(e.string("meeting"), e.string("participant")),
                ["participant": .string(e.string("participant")), "role": .string(e.string("role"))], position: p, txn)
        case "meeting.opinionGiven":
            try Rows.put(
                db["opinions"], compositeKey(e.string("meeting")) + [0] + bigEndianKey(p),
                ["participant": .string(e.string("participant")), "text": .string(e.string("text")), "position": .int(Int64(p))], position: p, txn)
        case "vote.cast":
            // The latest vote replaces the earlier one; both stay in the log.
            try Rows.put(
                db["votes"], compositeKey(e.string("meeting"), e.string("participant")),
                ["participant": .string(e.string("participant")), "choice": .string(e.string("choice"))], position: p, txn)
        case "meeting.closed":
            guard let meeting = try Rows.get(db["meetings"], e.string("meeting"), txn) else { throw missing(e, "meeting") }
            let passed = e.payload["passed"] == .bool(true)
            // The command writes `passed` from its tally; a stored event where they differ was not written by it.
            guard e.payload["tally"]?["passed"] == e.payload["passed"] else {
                throw LogError.corrupt(position: p, reason: "meeting \(e.string("meeting")) closed as \(passed ? "passed" : "failed") against its own tally")
            }
            let value = meeting.value.setting("state", "closed").setting("passed", .bool(passed))
                .setting("resolution", .string(e.string("resolution"))).setting("tally", e.payload["tally"] ?? .null)
                .setting("closedAt", .string(event.occurredAt.iso8601))
            try Rows.put(db["meetings"], e.string("meeting"), value, position: p, txn)
            issue = try move(issue, to: passed ? "resolved" : "rejectedByVote", atMs: atMs, db, txn, p)
        case "outcome.submitted":
            issue = issue.setting("outcome", (issue["outcome"] ?? .object([])).setting("department", .string(e.string("department"))))
        case "outcome.progressed":
            let percent = e.int("percent")
            let outcome = issue["outcome"] ?? .object([])
            guard percent >= outcome["percent"]?.intValue ?? 0 else { throw LogError.corrupt(position: p, reason: "progress of \(issueId) decreases") }
            issue = issue.setting("outcome", outcome.setting("percent", .int(percent)))
        case "outcome.evaluated":
            let outcome = (issue["outcome"] ?? .object([])).setting("evaluator", .string(e.string("evaluator")))
                .setting("satisfaction", .int(e.int("satisfaction")))
            issue = issue.setting("outcome", outcome)
        default:
            break
        }
        if let next = Self.nextState[event.type], issue["state"]?.stringValue != next {
            issue = try move(issue, to: next, atMs: atMs, db, txn, p)
        }
        try Rows.put(db["issues"], issueId, issue, position: p, txn)
    }

    /// Moves an issue to a state: the time spent in the old state (occurred times; never negative when
    /// commands arrive out of order) is added to that step, and the per-community counts follow.
    private func move(_ issue: JSONValue, to state: String, atMs: Int64, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ p: UInt64) throws
        -> JSONValue
    {
        let old = issue["state"]?.stringValue ?? ""
        let since = issue["stateSinceMs"]?.intValue ?? atMs
        var steps = issue["stepMs"] ?? .object([])
        steps = steps.setting(old, .int((steps[old]?.intValue ?? 0) + max(0, atMs - since)))
        let community = issue["community"]?.stringValue ?? ""
        try count(db, txn, p, community: community, state: old, by: -1)
        try count(db, txn, p, community: community, state: state, by: 1)
        return issue.setting("state", .string(state)).setting("stateSinceMs", .int(max(atMs, since))).setting("stepMs", steps)
    }

    private func count(_ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ p: UInt64, community: String, state: String, by delta: Int64) throws {
        let key = compositeKey(community, state)
        let current = try Rows.get(db["counts"], key, txn)?.int("count") ?? 0
        assert(current + delta >= 0, "an issue count below zero")
        try Rows.put(db["counts"], key, ["community": .string(community), "state": .string(state), "count": .int(current + delta)], position: p, txn)
    }

    private func timeline(_ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ e: DomainEvent) throws {
        try Rows.put(db["timeline"], compositeKey(e.string("issue")) + [0] + bigEndianKey(e.position), timelineEntry(e), position: e.position, txn)
    }

    private func timelineEntry(_ e: DomainEvent) -> JSONValue {
        [
            "position": .int(Int64(e.position)), "type": .string(e.record.type), "actor": .string(e.record.actor),
            "at": .string(e.record.occurredAt.iso8601), "recordedAt": .string(e.record.recordedAt.iso8601),
            "detail": e.payload.removing("community"),
        ]
    }
}
