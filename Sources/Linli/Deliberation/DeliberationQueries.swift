import LinliStore

/// One issue in the library, as `linli issues` lists it.
public struct IssueSummary: Sendable, Equatable {
    public var issue: String
    public var community: String
    public var state: String
    public var title: String
    /// Assessments counted, and the sum of all their scores: priority = mean of the three means =
    /// `scoreSum / (3 × assessments)`.
    public var assessments: Int64
    public var scoreSum: Int64
    /// Comments by stance.
    public var support: Int64, oppose: Int64, neutral: Int64
    /// Occurred time the issue entered its current state (ms since 1970).
    public var stateSinceMs: Int64
    /// The position of the last event that changed the issue.
    public var position: UInt64

    /// The priority as an exact decimal (three places, rounded half up), or null when never assessed.
    public var priority: JSONValue {
        assessments == 0 ? .null : JSONValue.rounded(scoreSum, over: assessments * 3, scale: 3)
    }

    /// Whether this issue goes before `other` on the agenda: higher priority first (compared exactly, by
    /// cross-multiplying), unassessed last, then by id.
    public func precedes(_ other: IssueSummary) -> Bool {
        switch (assessments, other.assessments) {
        case (0, 0): return issue < other.issue
        case (0, _): return false
        case (_, 0): return true
        default:
            let left = scoreSum * other.assessments, right = other.scoreSum * assessments
            return left != right ? left > right : issue < other.issue
        }
    }

    init(_ row: Row) {
        // A dozen fields of a row that holds the issue's texts: one decode, not a walk for each field.
        let value = row.value
        func int(_ key: String) -> Int64 { value[key]?.intValue ?? 0 }
        func string(_ key: String) -> String { value[key]?.stringValue ?? "" }
        issue = string("issue")
        community = string("community")
        state = string("state")
        title = string("title")
        assessments = int("assessments")
        scoreSum = int("importanceSum") + int("urgencySum") + int("feasibilitySum")
        let stances = value["stances"]
        support = stances?["support"]?.intValue ?? 0
        oppose = stances?["oppose"]?.intValue ?? 0
        neutral = stances?["neutral"]?.intValue ?? 0
        stateSinceMs = int("stateSinceMs")
        position = row.position
    }
}

extension Engine {
    /// The issue library, highest priority first (unassessed last), optionally of one state or community.
    public func issues(state: String? = nil, community: String? = nil) throws -> [IssueSummary] {
        try rows(of: \.deliberation, "issues").map(IssueSummary.init)
            .filter { (state == nil || $0.state == state) && (community == nil || $0.community == community) }
            .sorted { $0.precedes($1) }
    }

    /// Issues per community and state (zero counts left out).
    public func issueCounts() throws -> [(community: String, state: String, count: Int64)] {
        try rows(of: \.deliberation, "counts").compactMap { row in
            try row.int("count") == 0 ? nil : (row.string("community"), row.string("state"), row.int("count"))
        }
    }

    /// One issue as `linli issue ID --json` shows it: state, priority, scores, comments (its own and those of
    /// the issues merged into it), meetings with tallies, outcome, the days spent in each step, and the
    /// timeline with positions. `now` closes the current step's time (default: the engine's clock).
    public func issueDocument(_ id: String, now: Timestamp? = nil) throws -> JSONValue? {
        let nowMs = (now ?? log.options.clock()).epochMilliseconds
        return try view { txn, tables -> JSONValue? in
            let db = tables.deliberation
            guard let row = try Rows.get(db["issues"], id, txn) else { return nil }
            let summary = IssueSummary(row)
            // The comments of merged issues are carried over to the survivor's view (and theirs, recursively).
            var comments: [JSONValue] = []
            var pending = [id], seen: Set<String> = []
            while let next = pending.popLast(), seen.insert(next).inserted, seen.count <= 10_000 {
                comments += try Rows.values(db["comments"], under: next, txn)
                if let merged = try Rows.get(db["issues"], next, txn) { pending += merged.strings("mergedFrom") }
            }
            comments.sort { ($0["position"]?.intValue ?? 0) < ($1["position"]?.intValue ?? 0) }
            var meetings: [JSONValue] = []
            for meetingId in row.strings("meetings") {
                guard let meeting = try Rows.get(db["meetings"], meetingId, txn) else { continue }
                try meetings.append([
                    "meeting": .string(meetingId), "format": .string(meeting.string("format")), "rule": .string(meeting.string("rule")),
                    "state": .string(meeting.string("state")), "startsAt": .string(meeting.string("startsAt")),
                    "passed": meeting["passed"] ?? .null, "tally": meeting["tally"] ?? .null,
                    "resolution": meeting["resolution"] ?? .null, "attendees": .array(try Rows.values(db["attendance"], under: meetingId, txn)),
                    "votes": .array(try Rows.values(db["votes"], under: meetingId, txn)),
                    "opinions": .array(try Rows.values(db["opinions"], under: meetingId, txn)),
                ])
            }
            var steps = row["stepMs"] ?? .object([])
            let current = try row.string("state")
            if !DeliberationDomain.closedStates.contains(current) {
                steps = steps.setting(current, .int((steps[current]?.intValue ?? 0) + max(0, nowMs - summary.stateSinceMs)))
            }
            let stepDays = JSONValue.object(steps.pairs.map { ($0.0, JSONValue.rounded($0.1.intValue ?? 0, over: 86_400_000, scale: 1)) })
            return [
                "issue": .string(id), "community": .string(summary.community), "state": .string(current),
                "priority": summary.priority, "title": .string(summary.title), "description": row["description"] ?? .null,
                "category": row["category"] ?? .null, "scope": row["scope"] ?? .null, "channel": row["channel"] ?? .null,
                "proposer": row["proposer"] ?? .null, "dispute": row["dispute"] ?? .null, "mergedInto": row["mergedInto"] ?? .null,
                "mergedFrom": row["mergedFrom"] ?? .array([]),
                "scores": .array(try Rows.values(db["assessments"], under: id, txn)),
                "stances": ["support": .int(summary.support), "oppose": .int(summary.oppose), "neutral": .int(summary.neutral)],
                "comments": .array(comments), "meetings": .array(meetings), "outcome": row["outcome"] ?? .null,
                "stepDays": stepDays, "timeline": .array(try Rows.values(db["timeline"], under: id, txn)), "position": .int(Int64(row.position)),
            ]
        }
    }

    /// A meeting's stored row (state, format, rule, and once closed its tally), or nil.
    public func meeting(_ id: String) throws -> Row? {
        try view { txn, tables in try Rows.get(tables.deliberation["meetings"], id, txn) }
    }
}

extension Engine {
    /// A meeting's tally from the current projections (attendance, latest votes, units in scope), as
    /// `meeting.close` would compute it now: a convener's preview. Nil when there is no such meeting.
    public func currentTally(meeting id: String) throws -> Tally? {
        try view { txn, tables in
            guard let meeting = try Rows.get(tables.deliberation["meetings"], id, txn),
                let issue = try Rows.get(tables.deliberation["issues"], meeting.string("issue"), txn)
            else { return nil }
            return try DeliberationDomain.tallyMeeting(tables, meeting: meeting, issue: issue, txn)
        }
    }

    /// A meeting recounted from the log itself, as an auditor would: the meeting's own stream read back
    /// event by event (rule from `meeting.scheduled`, each participant's latest `vote.cast`), with the units
    /// in the issue's scope for owners' assemblies. It ignores the projections' votes, so comparing it with
    /// the tally recorded in `meeting.closed` checks the count. The units are those registered now; the
    /// rule counts those registered when the meeting closed, so a unit registered since changes the owners'
    /// figures (its `unit.registered` position says so).
    public func recount(meeting id: String) throws -> Tally? {
        var rule: VotingRule?
        var issue = ""
        var latest: [String: String] = [:]
        for event in try log.events(inStream: "meeting:\(id)") {
            let e = try DomainEvent(event)
            // A meeting's stream also holds its attendance, opinions and close, which a recount does not read.
            if e.type == .deliberation(.meetingScheduled) {
                rule = VotingRule(rawValue: try e.string("rule"))
                issue = try e.string("issue")
            } else if e.type == .deliberation(.voteCast) {
                latest[try e.string("participant")] = try e.string("choice")
            }
        }
        guard let rule else { return nil }
        let ballots = latest.keys.sorted().map { Tally.Ballot(participant: $0, choice: latest[$0]!) }
        return try view { txn, tables -> Tally? in
            guard let row = try Rows.get(tables.deliberation["issues"], issue, txn) else {
                return rule.isDoubleMajority ? nil : Tally(rule: rule, ballots: ballots)
            }
            return try DeliberationDomain.doubleMajorityTally(tables, rule: rule, ballots: ballots, issue: row, txn)
        }
    }
}
