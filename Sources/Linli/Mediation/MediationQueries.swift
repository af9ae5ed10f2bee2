import LinliStore

/// One dispute as `linli disputes` lists it.
public struct DisputeSummary: Sendable, Equatable {
    public var dispute: String
    public var community: String
    public var state: String
    public var category: String
    public var reportedAt: String
    /// Calendar days in China Standard Time from the report's date to today's (a report at 23:50 is one
    /// day old ten minutes later).
    public var ageDays: Int
    /// Hours from the report to the first assignment and to the resolution (occurred times), when reached.
    public var hoursToAssignment: JSONValue
    public var hoursToResolution: JSONValue
    /// Mediation sessions held.
    public var sessions: Int64
    /// Whether the dispute is still open (reported, assigned or mediating).
    public var isOpen: Bool { MediationDomain.openStates.contains(state) }
    /// The position of the last event that changed it.
    public var position: UInt64

    init(_ row: Row, now: Timestamp) throws {
        dispute = try row.string("dispute")
        community = try row.string("community")
        state = try row.string("state")
        category = try row.string("category")
        reportedAt = try row.string("reportedAt")
        let reportedMs = try row.int("reportedAtMs")
        ageDays = now.dayNumber() - Timestamp(epochMilliseconds: reportedMs).dayNumber()
        func hours(_ key: String) -> JSONValue {
            guard let ms = row.value[key]?.intValue else { return .null }
            return JSONValue.rounded(max(0, ms - reportedMs), over: 3_600_000, scale: 1)
        }
        hoursToAssignment = hours("assignedAtMs")
        hoursToResolution = hours("resolvedAtMs")
        sessions = try row.int("sessions")
        position = row.position
    }

    /// The summary as `linli disputes --json` prints it.
    public var jsonValue: JSONValue {
        [
            "dispute": .string(dispute), "community": .string(community), "state": .string(state), "category": .string(category),
            "reportedAt": .string(reportedAt), "ageDays": .int(Int64(ageDays)), "hoursToAssignment": hoursToAssignment,
            "hoursToResolution": hoursToResolution, "sessions": .int(sessions), "position": .int(Int64(position)),
        ]
    }
}

extension Engine {
    /// Disputes, by id; optionally of one state, and only open ones older than `olderThanDays` calendar days.
    public func disputes(state: String? = nil, olderThanDays: Int? = nil, now: Timestamp? = nil) throws -> [DisputeSummary] {
        let nowTime = now ?? log.options.clock()
        return try rows(of: \.mediation, "disputes").map { try DisputeSummary($0, now: nowTime) }.filter { dispute in
            (state == nil || dispute.state == state) && (olderThanDays.map { dispute.isOpen && dispute.ageDays > $0 } ?? true)
        }
    }

    /// One dispute as `linli dispute ID --json` shows it: the summary, parties, links, agreement, follow-up,
    /// sessions and the timeline with positions.
    public func disputeDocument(_ id: String, now: Timestamp? = nil) throws -> JSONValue? {
        let nowTime = now ?? log.options.clock()
        return try view { txn, tables -> JSONValue? in
            guard let row = try Rows.get(tables.mediation["disputes"], id, txn) else { return nil }
            var document = try DisputeSummary(row, now: nowTime).jsonValue.pairs
            for key in [
                "parties", "description", "channel", "visit", "mediator", "team", "agreement", "escalatedTo", "escalationReason",
                "withdrawalReason", "satisfaction", "followUpNotes",
            ] {
                document.append((key, row.value[key] ?? .null))
            }
            let timeline = try Rows.values(tables.mediation["timeline"], under: id, txn)
            // An escalation into the issue library names the issue it proposed.
            let issue = timeline.compactMap { $0["detail"]?["to"]?["issue"] }.first ?? .null
            document.append(("issue", issue))
            document.append(("timeline", .array(timeline)))
            return .object(document)
        }
    }

    /// The mediation figures of DOMAIN.md: disputes by state and category per community, the share resolved
    /// at the first session, mean hours to assignment and to resolution, follow-up satisfaction, and the
    /// open disputes older than 7 days.
    public func mediationFigures(now: Timestamp? = nil) throws -> JSONValue {
        let disputes = try self.disputes(now: now)
        let counts = try rows(of: \.mediation, "counts").filter { try $0.int("count") > 0 }.map { row -> JSONValue in
            try [
                "community": .string(row.string("community")), "state": .string(row.string("state")), "category": .string(row.string("category")),
                "count": .int(row.int("count")),
            ]
        }
        let rows = try rows(of: \.mediation, "disputes")
        let resolved = rows.filter { $0["resolvedAtMs"] != nil }
        let firstSession = try resolved.filter { try $0.int("sessions") == 1 }.count
        func mean(_ values: [Int64], over unit: Int64) -> JSONValue {
            values.isEmpty ? .null : JSONValue.rounded(values.reduce(0, +), over: Int64(values.count) * unit, scale: 1)
        }
        let assigned = try rows.compactMap { row in try row.optionalInt("assignedAtMs").map { try max(0, $0 - row.int("reportedAtMs")) } }
        let resolving = try resolved.map { try max(0, $0.int("resolvedAtMs") - $0.int("reportedAtMs")) }
        let satisfaction = rows.compactMap { $0["satisfaction"]?.intValue }
        return [
            "byStateAndCategory": .array(counts), "resolved": .int(Int64(resolved.count)), "resolvedAtFirstSession": .int(Int64(firstSession)),
            "firstSessionShare": resolved.isEmpty ? .null : JSONValue.rounded(Int64(firstSession), over: Int64(resolved.count), scale: 3),
            "meanHoursToAssignment": mean(assigned, over: 3_600_000), "meanHoursToResolution": mean(resolving, over: 3_600_000),
            "followUps": .int(Int64(satisfaction.count)), "meanSatisfaction": mean(satisfaction, over: 1),
            "openOlderThan7Days": .array(disputes.filter { $0.isOpen && $0.ageDays > 7 }.map { .string($0.dispute) }),
        ]
    }
}
