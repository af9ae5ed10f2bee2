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

    static let types = EventType.names(DeliberationEvent.allCases.map(EventType.deliberation))
    var eventTypes: Set<String>? { Self.types }

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        let e = try DomainEvent(event)
        guard case .deliberation(let type) = e.type else { preconditionFailure("the log hands a projection only the event types it claims") }
        let issueId = try e.string("issue")
        if type == .issueProposed { return try proposed(e, issue: issueId, db, txn) }
        guard let row = try Rows.get(db["issues"], issueId, txn) else { throw missing(e, "issue") }
        var issue = row.value
        try timeline(db, txn, e, issue: issueId)
        // The state each event moves its issue to, when it moves it.
        var next: String?
        switch type {
        case .issueProposed: preconditionFailure("a proposal makes its issue's row above")
        case .issueCommented: issue = try commented(e, issue, db, txn)
        case .issueAssessed: (issue, next) = (try assessed(e, issue, db, txn), "assessed")
        case .issueAdmitted: next = "onAgenda"
        case .issueDeclined: next = "declined"
        case .issueMerged: (issue, next) = (try merged(e, issue, db, txn), "merged")
        case .meetingScheduled: (issue, next) = (try meetingScheduled(e, issue, db, txn), "inDeliberation")
        case .meetingAttended: try attended(e, db, txn)
        case .opinionGiven: try opinionGiven(e, db, txn)
        case .voteCast: try voteCast(e, db, txn)
        case .meetingClosed: issue = try meetingClosed(e, issue, db, txn)
        case .outcomeSubmitted:
            issue = issue.setting("outcome", (issue["outcome"] ?? .object([])).setting("department", .string(try e.string("department"))))
            next = "submitted"
        case .outcomeProgressed: (issue, next) = (try progressed(e, issue), "implementing")
        case .outcomeImplemented: next = "implemented"
        case .outcomeEvaluated: (issue, next) = (try evaluated(e, issue), "evaluated")
        }
        if let next, issue["state"]?.stringValue != next {
            issue = try move(issue, to: next, atMs: event.occurredAt.epochMilliseconds, db, txn, e.position)
        }
        try Rows.put(db["issues"], issueId, issue, position: e.position, txn)
    }

    private func proposed(_ e: DomainEvent, issue issueId: String, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let at = e.record.occurredAt
        let value = e.payload.setting("state", "proposed").setting("proposedAt", .string(at.iso8601))
            .setting("stateSinceMs", .int(at.epochMilliseconds)).setting("stepMs", .object([]))
        try Rows.put(db["issues"], issueId, value, position: e.position, txn)
        try count(db, txn, e.position, community: try e.string("community"), state: "proposed", by: 1)
        try timeline(db, txn, e, issue: issueId)
    }

    /// A comment, and the issue's count of each stance.
    private func commented(_ e: DomainEvent, _ issue: JSONValue, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws -> JSONValue {
        let issueId = try e.string("issue"), stance = try e.string("stance"), p = e.position
        var stances = issue["stances"] ?? .object([])
        stances = stances.setting(stance, .int((stances[stance]?.intValue ?? 0) + 1))
        try Rows.put(
            db["comments"], compositeKey(issueId) + [0] + bigEndianKey(p),
            [
                "issue": .string(issueId), "resident": .string(try e.string("resident")), "stance": .string(stance),
                "text": .string(try e.string("text")), "at": .string(e.record.occurredAt.iso8601), "position": .int(Int64(p)),
            ], position: p, txn)
        return issue.setting("stances", stances)
    }

    /// Assessors are kept apart; a later assessment by the same assessor replaces theirs in the sums.
    private func assessed(_ e: DomainEvent, _ issue: JSONValue, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws -> JSONValue {
        let assessor = try e.string("assessor"), p = e.position
        let importance = try e.int("importance"), urgency = try e.int("urgency"), feasibility = try e.int("feasibility")
        let key = compositeKey(try e.string("issue"), assessor)
        let earlier = try Rows.get(db["assessments"], key, txn)
        var sums = [("assessments", Int64(1)), ("importanceSum", importance), ("urgencySum", urgency), ("feasibilitySum", feasibility)]
        if let earlier {
            sums[0].1 = 0
            sums[1].1 -= try earlier.int("importance")
            sums[2].1 -= try earlier.int("urgency")
            sums[3].1 -= try earlier.int("feasibility")
        }
        var issue = issue
        for (name, delta) in sums { issue = issue.setting(name, .int((issue[name]?.intValue ?? 0) + delta)) }
        try Rows.put(
            db["assessments"], key,
            [
                "assessor": .string(assessor), "importance": .int(importance), "urgency": .int(urgency),
                "feasibility": .int(feasibility), "at": .string(e.record.occurredAt.iso8601), "position": .int(Int64(p)),
            ], position: p, txn)
        return issue
    }

    /// A merged issue points at its survivor, which lists it and shows the merge on its own timeline.
    private func merged(_ e: DomainEvent, _ issue: JSONValue, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws -> JSONValue {
        let into = try e.string("into"), p = e.position
        guard let survivor = try Rows.get(db["issues"], into, txn) else { throw missing(e, "issue merged into") }
        let mergedFrom = (survivor["mergedFrom"]?.stringsValue ?? []) + [try e.string("issue")]
        try Rows.put(db["issues"], into, survivor.value.setting("mergedFrom", .array(mergedFrom.map { .string($0) })), position: p, txn)
        try Rows.put(db["timeline"], compositeKey(into) + [0] + bigEndianKey(p), timelineEntry(e), position: p, txn)
        return issue.setting("mergedInto", .string(into))
    }

    private func meetingScheduled(_ e: DomainEvent, _ issue: JSONValue, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws -> JSONValue {
        let meeting = try e.string("meeting")
        try Rows.put(db["meetings"], meeting, e.payload.setting("state", "open"), position: e.position, txn)
        return issue.setting("meetings", .array((issue["meetings"]?.stringsValue ?? []).map { .string($0) } + [.string(meeting)]))
    }

    private func attended(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let participant = try e.string("participant")
        try Rows.put(
            db["attendance"], compositeKey(try e.string("meeting"), participant),
            ["participant": .string(participant), "role": .string(try e.string("role"))], position: e.position, txn)
    }

    private func opinionGiven(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        try Rows.put(
            db["opinions"], compositeKey(try e.string("meeting")) + [0] + bigEndianKey(p),
            ["participant": .string(try e.string("participant")), "text": .string(try e.string("text")), "position": .int(Int64(p))], position: p, txn)
    }

    /// The latest vote replaces the earlier one; both stay in the log.
    private func voteCast(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let participant = try e.string("participant")
        try Rows.put(
            db["votes"], compositeKey(try e.string("meeting"), participant),
            ["participant": .string(participant), "choice": .string(try e.string("choice"))], position: e.position, txn)
    }

    /// A closed meeting keeps its tally; the issue is resolved or rejected by the vote.
    private func meetingClosed(_ e: DomainEvent, _ issue: JSONValue, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws -> JSONValue {
        let meetingId = try e.string("meeting"), p = e.position
        guard let meeting = try Rows.get(db["meetings"], meetingId, txn) else { throw missing(e, "meeting") }
        let passed = e["passed"] == .bool(true)
        // The command writes `passed` from its tally; a stored event where they differ was not written by it.
        let tally = e["tally"]
        guard tally?["passed"] == e["passed"] else {
            throw LogError.corrupt(position: p, reason: "meeting \(meetingId) closed as \(passed ? "passed" : "failed") against its own tally")
        }
        let value = meeting.value.setting("state", "closed").setting("passed", .bool(passed))
            .setting("resolution", .string(try e.string("resolution"))).setting("tally", tally ?? .null)
            .setting("closedAt", .string(e.record.occurredAt.iso8601))
        try Rows.put(db["meetings"], meetingId, value, position: p, txn)
        return try move(issue, to: passed ? "resolved" : "rejectedByVote", atMs: e.record.occurredAt.epochMilliseconds, db, txn, p)
    }

    private func progressed(_ e: DomainEvent, _ issue: JSONValue) throws -> JSONValue {
        let percent = try e.int("percent")
        let outcome = issue["outcome"] ?? .object([])
        guard percent >= outcome["percent"]?.intValue ?? 0 else {
            throw LogError.corrupt(position: e.position, reason: "progress of \(try e.string("issue")) decreases")
        }
        return issue.setting("outcome", outcome.setting("percent", .int(percent)))
    }

    private func evaluated(_ e: DomainEvent, _ issue: JSONValue) throws -> JSONValue {
        let outcome = (issue["outcome"] ?? .object([])).setting("evaluator", .string(try e.string("evaluator")))
            .setting("satisfaction", .int(try e.int("satisfaction")))
        return issue.setting("outcome", outcome)
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

    private func timeline(_ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ e: DomainEvent, issue: String) throws {
        try Rows.put(db["timeline"], compositeKey(issue) + [0] + bigEndianKey(e.position), timelineEntry(e), position: e.position, txn)
    }

    private func timelineEntry(_ e: DomainEvent) -> JSONValue {
        [
            "position": .int(Int64(e.position)), "type": .string(e.record.type), "actor": .string(e.record.actor),
            "at": .string(e.record.occurredAt.iso8601), "recordedAt": .string(e.record.recordedAt.iso8601),
            "detail": e.payload.removing("community"),
        ]
    }
}
