import LinliStore

/// The elder-services projection: each elder's latest survey and tier override, every survey, the tier
/// policies and plans by occurred time, stations, each elder's history in occurred-time order, deliveries
/// per ISO week and service, open concerns, and mutual help per volunteer.
final class EldersProjection: Projection {
    let name = "elders"
    /// 2: `history-compact`, the history in a fixed binary layout for the hot read.
    let version: UInt32 = 2
    /// The projection's databases, in their declared order.
    enum Table: Int, ProjectionTable {
        case elders, surveys, policies, plans, stations, hubs, history, historyCompact, deliveries, visits, adherence, concerns, mutual

        var name: String {
            switch self {
            case .elders: "elders"
            case .surveys: "surveys"
            case .policies: "policies"
            case .plans: "plans"
            case .stations: "stations"
            case .hubs: "hubs"
            case .history: "history"
            case .historyCompact: "history-compact"
            case .deliveries: "deliveries"
            case .visits: "visits"
            case .adherence: "adherence"
            case .concerns: "concerns"
            case .mutual: "mutual"
            }
        }
    }

    let databaseNames = Table.declaredNames
    /// Every survey and the history (both copies), `elder ‖ 0 ‖ occurred time ‖ position`: only added, in
    /// occurred-time order, which need not be the log's; and the deliveries, one row per delivery id.
    let appendOnlyDatabases: [String: AppendOnlyLayout] = [
        Table.surveys.name: .entityThenOrderThenPosition, Table.history.name: .entityThenOrderThenPosition,
        Table.historyCompact.name: .entityThenOrderThenPosition, Table.deliveries.name: .oneRowPerKey,
    ]

    /// A week's adherence is counted while its deliveries come in, then left alone: an audit forgets it after.
    let retirableDatabases: Set<String> = [Table.adherence.name]

    static let types = EventType.names(ElderEvent.allCases.map(EventType.elders) + [.mediation(.reported)])
    var eventTypes: Set<String>? { Self.types }

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        let e = try DomainEvent(event)
        switch e.type {
        case .elders(let type):
            switch type {
            case .surveyed: try surveyed(e, db, txn)
            case .tierAssigned: try tierAssigned(e, db, txn)
            case .tierPolicySet: try tierPolicySet(e, db, txn)
            case .planSet: try planSet(e, db, txn)
            case .stationRegistered: try stationRegistered(e, db, txn)
            case .serviceDelivered: try serviceDelivered(e, db, txn)
            case .visitLogged: try visitLogged(e, db, txn)
            }
        case .mediation(.reported): try disputeReported(e, db, txn)
        case .registry, .ledger, .deliberation, .mediation: preconditionFailure("the log hands a projection only the event types it claims")
        }
    }

    /// The latest survey by occurred time governs; every survey stays in `surveys` and the log.
    private func surveyed(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        let at = e.record.occurredAt, atMs = at.epochMilliseconds
        let elderId = try e.string("elder")
        let survey: JSONValue = e.payload.removing("community").setting("at", .string(at.iso8601)).setting("atMs", .int(atMs))
            .setting("position", .int(Int64(p))).setting("actor", .string(e.record.actor))
        try Rows.put(db[Table.surveys], occurredKey(elderId, e), survey, position: p, txn)
        var elder = try elderRow(db, txn, e)
        if (elder["survey"]?["atMs"]?.intValue ?? .min) <= atMs { elder = elder.setting("survey", survey) }
        try Rows.put(db[Table.elders], elderId, elder, position: p, txn)
    }

    /// A tier set by hand overrides the policy while it is the latest by occurred time.
    private func tierAssigned(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        let at = e.record.occurredAt, atMs = at.epochMilliseconds
        let elderId = try e.string("elder")
        let override: JSONValue = [
            "tier": .int(try e.int("tier")), "reason": .string(try e.string("reason")), "at": .string(at.iso8601),
            "atMs": .int(atMs), "position": .int(Int64(p)), "actor": .string(e.record.actor),
        ]
        var elder = try elderRow(db, txn, e)
        if (elder["override"]?["atMs"]?.intValue ?? .min) <= atMs { elder = elder.setting("override", override) }
        try Rows.put(db[Table.elders], elderId, elder, position: p, txn)
    }

    /// A community's tier policy, in force from its occurred time.
    private func tierPolicySet(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        let at = e.record.occurredAt
        try Rows.put(
            db[Table.policies], occurredKey(try e.string("community"), e),
            [
                "bands": e["bands"] ?? .array([]), "livingAloneRaise": .int(e["livingAloneRaise"]?.intValue ?? 1),
                "at": .string(at.iso8601),
            ], position: p, txn)
    }

    /// An elder's care plan, in force from its occurred time.
    private func planSet(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        let at = e.record.occurredAt
        let elderId = try e.string("elder")
        try Rows.put(
            db[Table.plans], occurredKey(elderId, e),
            ["services": e["services"] ?? .array([]), "at": .string(at.iso8601)], position: p, txn)
        try Rows.put(db[Table.elders], elderId, try elderRow(db, txn, e), position: p, txn)
    }

    /// A station of the 1+N network, and the community's hub.
    private func stationRegistered(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        try Rows.put(db[Table.stations], try e.string("station"), updating: e.record.payload, [("deliveries", 0), ("minutes", 0)], position: p, txn)
        if try e.string("kind") == "hub" {
            try Rows.put(db[Table.hubs], try e.string("community"), ["station": .string(try e.string("station"))], position: p, txn)
        }
    }

    /// A delivery: the history (both copies), the delivery, the week's adherence, the station's and the
    /// mutual-help volunteer's totals; it closes an open concern.
    private func serviceDelivered(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        let at = e.record.occurredAt, atMs = at.epochMilliseconds
        // Most of Hexi's events. Its ids are read as their UTF-8 where it lies in the payload, for the keys,
        // and every row is written straight as CBOR, without building and freeing a tree of values for each.
        // Every field the type always carries is checked, in the order of old, whatever a view keeps.
        let elder = try e.text("elder"), delivery = try e.text("delivery"), service = try e.text("service")
        let minutes = try StoredArithmetic.inRange(try e.int("minutes"), EldersDomain.deliveryMinutes, "the minutes of delivery \(delivery.string)", at: p)
        let mode = try e.text("mode"), provider = try e.text("provider")
        let station = e.optionalText("station")
        // A time-travel view for the elders' list keeps no history: its rows are not even made.
        if !txn.drops(db[Table.history]) { try deliveryHistory(e, db, txn, minutes: minutes) }
        let week = ISOWeek(containing: at)
        // Each counter row is found once and increased in the one walk that checks and copies it.
        let weekKey = EldersDomain.adherenceKey(elder: elder, week: week, service: service)
        try Rows.increment(db[Table.adherence], weekKey, ("delivered", 1), ("minutes", minutes), position: p, txn, what: "\(elder.string)'s week \(week)") {
            var adherence = CBORMapWriter(count: 2, position: p, capacity: 32)
            adherence.int("delivered", 1)
            adherence.int("minutes", minutes)
            return adherence.finish()
        }
        if let station {
            try Rows.increment(
                db[Table.stations], Array(station.bytes), ("deliveries", 1), ("minutes", minutes), position: p, txn, what: "station \(station.string)"
            ) { throw missing(e, "station") }
        }
        if mode.isEqual(to: "mutual") {
            try Rows.increment(
                db[Table.mutual], Array(provider.bytes), ("minutes", minutes), ("deliveries", 1), position: p, txn, what: "\(provider.string)'s mutual help"
            ) {
                var mutual = CBORMapWriter(count: 3, position: p, capacity: 64)
                mutual.string("provider", provider.string)
                mutual.int("minutes", minutes)
                mutual.int("deliveries", 1)
                return mutual.finish()
            }
        }
        try closeConcern(db, txn, elder: Array(elder.bytes), atMs: atMs)
    }

    /// A delivery's history entry (both copies) and its row in the deliveries: only added.
    private func deliveryHistory(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, minutes: Int64) throws {
        let p = e.position, atText = e.record.occurredAt.iso8601
        let elderId = try e.string("elder"), delivery = try e.string("delivery"), service = try e.string("service")
        let mode = try e.string("mode"), provider = try e.string("provider")
        let station = e["station"]
        var entry = CBORMapWriter(count: station == nil ? 8 : 9, position: p)
        entry.string("kind", "delivery")
        entry.string("delivery", delivery)
        entry.string("service", service)
        entry.string("mode", mode)
        entry.string("provider", provider)
        entry.int("minutes", minutes)
        entry.string("at", atText)
        entry.int("position", Int64(p))
        if let station { entry.value("station", station) }
        let historyKey = occurredKey(elderId, e)
        try txn.put(db[Table.history], key: historyKey, value: entry.finish())
        try CompactHistory.put(
            db[Table.historyCompact], historyKey, position: p, visit: false, concern: false,
            minutes: minutes, id: delivery, service: service, mode: mode, provider: provider, txn)
        var deliveryRow = CBORMapWriter(count: 2, position: p, capacity: 64)
        deliveryRow.string("elder", elderId)
        deliveryRow.string("at", atText)
        try txn.put(db[Table.deliveries], key: Array(delivery.utf8), value: deliveryRow.finish())
    }

    /// A door-knock visit: the history (both copies) and the visit; a concern opens (or keeps open) a
    /// follow-up, none closes it.
    private func visitLogged(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let p = e.position
        let at = e.record.occurredAt, atMs = at.epochMilliseconds
        let elderId = try e.string("elder")
        let visit = try e.string("visit"), visitor = try e.string("visitor"), observations = try e.string("observations")
        let concern = e["concern"] == .bool(true), atText = at.iso8601
        var entry = CBORMapWriter(count: 8, position: p)
        entry.string("kind", "visit")
        entry.string("visit", visit)
        entry.string("visitor", visitor)
        entry.string("team", try e.string("team"))
        entry.string("observations", observations)
        entry.value("concern", .bool(concern))
        entry.string("at", atText)
        entry.int("position", Int64(p))
        let historyKey = occurredKey(elderId, e)
        try txn.put(db[Table.history], key: historyKey, value: entry.finish())
        try CompactHistory.put(
            db[Table.historyCompact], historyKey, position: p, visit: true, concern: concern,
            minutes: 0, id: visit, service: "", mode: "", provider: visitor, txn)
        try Rows.put(db[Table.visits], visit, updating: e.record.payload, [("at", .string(atText))], position: p, txn)
        if concern {
            // A later visit with a concern keeps the follow-up open, now on this visit.
            let open = try Rows.get(db[Table.concerns], elderId, txn)
            if (try open?.int("atMs") ?? .min) <= atMs {
                try Rows.put(
                    db[Table.concerns], elderId,
                    [
                        "elder": .string(elderId), "visit": .string(visit), "at": .string(atText),
                        "atMs": .int(atMs), "observations": .string(observations),
                        "community": .string(try e.string("community")),
                    ], position: p, txn)
            }
        } else {
            try closeConcern(db, txn, elder: Array(elderId.utf8), atMs: atMs)
        }
    }

    /// The visit that noticed a dispute links to it, as the dispute links to the visit.
    private func disputeReported(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        guard let visit = e["visit"]?.stringValue else { return }
        guard let row = try Rows.get(db[Table.visits], visit, txn) else { throw missing(e, "visit") }
        try Rows.put(db[Table.visits], visit, updating: row.encoded, [("dispute", .string(try e.string("dispute")))], position: e.position, txn)
    }

    /// A key of the databases kept in occurred-time order (surveys, policies, plans, the history):
    /// `entity ‖ 0 ‖ occurred time ‖ position`.
    private func occurredKey(_ entity: String, _ e: DomainEvent) -> [UInt8] {
        entityKey(entity, LedgerProjection.sortableTimeNumber(e.record.occurredAt.epochMilliseconds), e.position)
    }

    private func elderRow(_ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ e: DomainEvent) throws -> JSONValue {
        let elder = try e.string("elder")
        if let row = try Rows.get(db[Table.elders], elder, txn) { return row.value }
        return ["elder": .string(elder), "community": .string(try e.string("community"))]
    }

    /// A visit without concern, or a delivery, at or after the concern's time closes the follow-up.
    private func closeConcern(_ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, elder key: [UInt8], atMs: Int64) throws {
        guard try Rows.read(db[Table.concerns], key, txn, { try $0.int("atMs") <= atMs }) == true else { return }
        try txn.delete(db[Table.concerns], key: key)
    }
}

/// The elder history's hot copy (`elders/history-compact`), in a fixed binary layout read without any
/// decoding: `u64be position ‖ kind u8 (0 delivery, 1 visit) ‖ concern u8 ‖ minutes u16be ‖` then the id,
/// service, mode and provider (or visitor), each `u8 length ‖ UTF-8`. The key is the history's:
/// `elder ‖ 0 ‖ occurred time ‖ position`. docs/FORMAT.md lists it as the one row that is not CBOR.
enum CompactHistory {
    static func put(
        _ database: Database, _ key: [UInt8], position: UInt64, visit: Bool, concern: Bool, minutes: Int64, id: String, service: String,
        mode: String, provider: String, _ txn: borrowing WriteTransaction
    ) throws {
        var value = bigEndianKey(position)
        value.append(visit ? 1 : 0)
        value.append(concern ? 1 : 0)
        precondition((0...0xFFFF).contains(minutes), "minutes fit two bytes: the projection checked them against 1…720")
        value.append(UInt8(minutes >> 8))
        value.append(UInt8(minutes & 0xFF))
        for text in [id, service, mode, provider] {
            // Ids are at most 128 bytes and services and modes are the contract's words; a longer one was not
            // written by a command.
            guard text.utf8.count <= 255 else {
                throw LogError.corrupt(
                    position: position,
                    reason: "a history entry's id, service, mode or provider is \(text.utf8.count) bytes; identifiers are at most \(FieldLimits.idBytesMax)")
            }
            value.append(UInt8(text.utf8.count))
            value.append(contentsOf: text.utf8)
        }
        try txn.put(database, key: key, value: value)
    }
}
