import LinliStore

/// The mediation projection: each dispute with its state, times and links; its sessions; its timeline;
/// and the number of disputes per community, state and category.
final class MediationProjection: Projection {
    let name = "mediation"
    let version: UInt32 = 1
    let databaseNames = ["disputes", "sessions", "timeline", "counts"]
    /// A dispute's timeline, `dispute ‖ 0 ‖ position`: only added.
    let appendOnlyDatabases: [String: AppendOnlyLayout] = ["timeline": .entityThenPosition]

    static let types = EventType.names(MediationEvent.allCases.map(EventType.mediation))
    var eventTypes: Set<String>? { Self.types }

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        let e = try DomainEvent(event)
        guard case .mediation(let type) = e.type else { preconditionFailure("the log hands a projection only the event types it claims") }
        let id = try e.string("dispute")
        try timeline(e, dispute: id, db, txn)
        if type == .reported { return try reported(e, dispute: id, db, txn) }
        guard let row = try Rows.get(db["disputes"], id, txn) else { throw missing(e, "dispute") }
        var dispute = row.value
        let next: String
        switch type {
        case .reported: preconditionFailure("a report makes its dispute's row above")
        case .assigned: (dispute, next) = (try assigned(e, dispute), "assigned")
        case .sessionHeld: (dispute, next) = (try sessionHeld(e, dispute, db, txn), "mediating")
        case .resolved: (dispute, next) = (try resolved(e, dispute), "resolved")
        case .escalated: (dispute, next) = (try escalated(e, dispute), "escalated")
        case .withdrawn: (dispute, next) = (try withdrawn(e, dispute), "withdrawn")
        case .followedUp: (dispute, next) = (try followedUp(e, dispute), "followedUp")
        }
        try Rows.put(db["disputes"], id, try moved(dispute, to: next, db, txn, e.position), position: e.position, txn)
    }

    /// Every event of a dispute goes on its timeline, with who did it and when.
    private func timeline(_ e: DomainEvent, dispute id: String, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let event = e.record, p = e.position
        try Rows.put(
            db["timeline"], compositeKey(id) + [0] + bigEndianKey(p),
            [
                "position": .int(Int64(p)), "type": .string(event.type), "actor": .string(event.actor),
                "at": .string(event.occurredAt.iso8601), "recordedAt": .string(event.recordedAt.iso8601), "detail": e.payload.removing("community"),
            ], position: p, txn)
    }

    private func reported(_ e: DomainEvent, dispute id: String, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let at = e.record.occurredAt
        let value = e.payload.setting("state", "reported").setting("reportedAt", .string(at.iso8601))
            .setting("reportedAtMs", .int(at.epochMilliseconds)).setting("sessions", 0)
        try Rows.put(db["disputes"], id, value, position: e.position, txn)
        try count(db, txn, e.position, community: try e.string("community"), state: "reported", category: try e.string("category"), by: 1)
    }

    private func assigned(_ e: DomainEvent, _ dispute: JSONValue) throws -> JSONValue {
        var dispute = dispute.setting("mediator", .string(try e.string("mediator")))
        if let team = e["team"] { dispute = dispute.setting("team", team) }
        // Hours to assignment count from the first assignment; a reassignment keeps it.
        if dispute["assignedAtMs"] == nil { dispute = dispute.setting("assignedAtMs", .int(e.record.occurredAt.epochMilliseconds)) }
        return dispute
    }

    private func sessionHeld(_ e: DomainEvent, _ dispute: JSONValue, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws -> JSONValue {
        let session = try e.string("session"), p = e.position
        try Rows.put(
            db["sessions"], session,
            [
                "session": .string(session), "dispute": .string(try e.string("dispute")), "attendees": e["attendees"] ?? .array([]),
                "notes": .string(try e.string("notes")), "at": .string(e.record.occurredAt.iso8601), "position": .int(Int64(p)),
            ], position: p, txn)
        return dispute.setting("sessions", .int((dispute["sessions"]?.intValue ?? 0) + 1))
    }

    private func resolved(_ e: DomainEvent, _ dispute: JSONValue) throws -> JSONValue {
        dispute.setting("agreement", .string(try e.string("agreement"))).setting("resolvedAtMs", .int(e.record.occurredAt.epochMilliseconds))
    }

    private func escalated(_ e: DomainEvent, _ dispute: JSONValue) throws -> JSONValue {
        dispute.setting("escalatedTo", e["to"] ?? .null).setting("escalationReason", .string(try e.string("reason")))
    }

    private func withdrawn(_ e: DomainEvent, _ dispute: JSONValue) throws -> JSONValue {
        dispute.setting("withdrawalReason", .string(try e.string("reason")))
    }

    private func followedUp(_ e: DomainEvent, _ dispute: JSONValue) throws -> JSONValue {
        dispute.setting("satisfaction", .int(try e.int("satisfaction"))).setting("followUpNotes", .string(try e.string("notes")))
    }

    /// Moves a dispute to the state its event leads to, and the per-community counts with it.
    private func moved(_ dispute: JSONValue, to next: String, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ p: UInt64) throws
        -> JSONValue
    {
        guard dispute["state"]?.stringValue != next else { return dispute }
        let old = dispute["state"]?.stringValue ?? ""
        let community = dispute["community"]?.stringValue ?? "", category = dispute["category"]?.stringValue ?? ""
        try count(db, txn, p, community: community, state: old, category: category, by: -1)
        try count(db, txn, p, community: community, state: next, category: category, by: 1)
        return dispute.setting("state", .string(next))
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
