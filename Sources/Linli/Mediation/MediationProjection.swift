import LinliStore

/// The mediation projection: each dispute with its state, times and links; its sessions; its timeline;
/// and the number of disputes per community, state and category.
final class MediationProjection: Projection {
    let name = "mediation"
    let version: UInt32 = 1
    let databaseNames = ["disputes", "sessions", "timeline", "counts"]
    /// A dispute's timeline, `dispute ‖ 0 ‖ position`: only added.
    let appendOnlyDatabases: [String: AppendOnlyLayout] = ["timeline": .entityThenPosition]

    var eventTypes: Set<String>? { Self.types }
    static let types: Set<String> = [
        "dispute.reported", "dispute.assigned", "dispute.sessionHeld", "dispute.resolved",
        "dispute.escalated", "dispute.withdrawn", "dispute.followedUp",
    ]

    static let nextState: [String: String] = [
        "dispute.assigned": "assigned", "dispute.sessionHeld": "mediating", "dispute.resolved": "resolved",
        "dispute.escalated": "escalated", "dispute.withdrawn": "withdrawn", "dispute.followedUp": "followedUp",
    ]

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        assert(Self.types.contains(event.type), "the log hands a projection only the event types it names")
        let e = try DomainEvent(event)
        let p = e.position, id = e.string("dispute")
        let atMs = event.occurredAt.epochMilliseconds
        try Rows.put(
            db["timeline"], compositeKey(id) + [0] + bigEndianKey(p),
            [
                "position": .int(Int64(p)), "type": .string(event.type), "actor": .string(event.actor),
                "at": .string(event.occurredAt.iso8601), "recordedAt": .string(event.recordedAt.iso8601), "detail": e.payload.removing("community"),
            ], position: p, txn)
        if event.type == "dispute.reported" {
            let value = e.payload.setting("state", "reported").setting("reportedAt", .string(event.occurredAt.iso8601))
                .setting("reportedAtMs", .int(atMs)).setting("sessions", 0)
            try Rows.put(db["disputes"], id, value, position: p, txn)
            try count(db, txn, p, community: e.string("community"), state: "reported", category: e.string("category"), by: 1)
            return
        }
        guard let row = try Rows.get(db["disputes"], id, txn) else { throw missing(e, "dispute") }
        var dispute = row.value
        switch event.type {
        case "dispute.assigned":
            dispute = dispute.setting("mediator", .string(e.string("mediator")))
            if let team = e.payload["team"] { dispute = dispute.setting("team", team) }
            // Hours to assignment count from the first assignment; a reassignment keeps it.
            if dispute["assignedAtMs"] == nil { dispute = dispute.setting("assignedAtMs", .int(atMs)) }
        case "dispute.sessionHeld":
            dispute = dispute.setting("sessions", .int((dispute["sessions"]?.intValue ?? 0) + 1))
            try Rows.put(
                db["sessions"], e.string("session"),
                [
                    "session": .string(e.string("session")), "dispute": .string(id), "attendees": e.payload["attendees"] ?? .array([]),
                    "notes": .string(e.string("notes")), "at": .string(event.occurredAt.iso8601), "position": .int(Int64(p)),
                ], position: p, txn)
        case "dispute.resolved":
            dispute = dispute.setting("agreement", .string(e.string("agreement"))).setting("resolvedAtMs", .int(atMs))
        case "dispute.escalated":
            dispute = dispute.setting("escalatedTo", e.payload["to"] ?? .null).setting("escalationReason", .string(e.string("reason")))
        case "dispute.withdrawn":
            dispute = dispute.setting("withdrawalReason", .string(e.string("reason")))
        case "dispute.followedUp":
            dispute = dispute.setting("satisfaction", .int(e.int("satisfaction"))).setting("followUpNotes", .string(e.string("notes")))
        default:
            break
        }
        if let next = Self.nextState[event.type], dispute["state"]?.stringValue != next {
            let old = dispute["state"]?.stringValue ?? ""
            let community = dispute["community"]?.stringValue ?? "", category = dispute["category"]?.stringValue ?? ""
            try count(db, txn, p, community: community, state: old, category: category, by: -1)
            try count(db, txn, p, community: community, state: next, category: category, by: 1)
            dispute = dispute.setting("state", .string(next))
        }
        try Rows.put(db["disputes"], id, dispute, position: p, txn)
    }

    private func count(
        _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ p: UInt64, community: String, state: String, category: String, by delta: Int64
    ) throws {
        let key = compositeKey(community, state, category)
        let current = try Rows.get(db["counts"], key, txn)?.int("count") ?? 0
        assert(current + delta >= 0, "a dispute count below zero")
        try Rows.put(
            db["counts"], key, ["community": .string(community), "state": .string(state), "category": .string(category), "count": .int(current + delta)],
            position: p, txn)
    }
}
