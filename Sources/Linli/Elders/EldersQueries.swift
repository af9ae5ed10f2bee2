import LinliStore

/// One elder as `linli elders` lists them: tier and this week's plan adherence.
public struct ElderSummary: Sendable, Equatable {
    public var elder: String
    public var name: String
    public var community: String
    /// The tier, or nil when never surveyed nor assigned.
    public var tier: Int64?
    /// Why the tier is what it is (survey, band, living alone, policy; or the override).
    public var tierReason: String
    /// The week counted.
    public var week: ISOWeek
    /// Deliveries planned this week (sum of perWeek), expected by now (pro rata by day), and delivered.
    public var planned: Int64, expectedToDate: Int64, delivered: Int64
    /// Whether any planned service has fewer deliveries than expected by now.
    public var behindPlan: Bool
    /// Whether the latest survey says the elder would work or volunteer (section 5, 就业意愿): the
    /// community's silver volunteers (银龄志愿服务团队) come from these.
    public var willingToWork: Bool = false
}

/// One planned service in one week: planned, expected by now, and delivered.
public struct ServiceAdherence: Sendable, Equatable {
    public var service: String
    public var perWeek: Int64
    /// perWeek × days of the week passed (today included) / 7, rounded down; perWeek for a past week.
    public var expectedToDate: Int64
    public var delivered: Int64
    public var behind: Bool { delivered < expectedToDate }

    var json: JSONValue {
        ["service": .string(service), "perWeek": .int(perWeek), "expectedToDate": .int(expectedToDate), "delivered": .int(delivered), "behind": .bool(behind)]
    }
}

/// One delivery or visit in an elder's history, read without building JSON (the hot read of elder services).
public struct HistoryEntry: Sendable, Equatable {
    /// Delivery or visit.
    public enum Kind: Sendable, Equatable { case delivery, visit }
    public var kind: Kind
    /// The delivery's or visit's id.
    public var id: String
    /// The service delivered ("" for a visit).
    public var service: String
    /// `other`, `self` or `mutual` ("" for a visit).
    public var mode: String
    /// The provider of a delivery, or the visitor of a visit.
    public var provider: String
    /// Minutes of a delivery (0 for a visit).
    public var minutes: Int64
    /// Whether a visit raised a concern.
    public var concern: Bool
    /// When it happened, in ms since 1970 (the history's order).
    public var occurredAtMs: Int64
    /// The position of its event.
    public var position: UInt64
}

/// An elder's history as read from `elders/history-compact`: one buffer holding every row's bytes and a
/// fixed-size slot per entry. Entries are built on access.
public struct ElderHistory: RandomAccessCollection, Sendable {
    struct Slot: Sendable {
        var occurredAtMs: Int64
        var position: UInt64
        /// Where the entry's bytes after the position start in `bytes`.
        var offset: Int32
    }
    private(set) var bytes: [UInt8] = []
    private(set) var slots: [Slot] = []

    init() {}

    mutating func append(occurredAtMs: Int64, _ value: UnsafeRawBufferPointer) throws {
        guard value.count >= 12, let position = bigEndianValue(UnsafeRawBufferPointer(rebasing: value[0..<8])) else {
            throw LogError.corrupt(position: 0, reason: "a compact history row of \(value.count) bytes")
        }
        slots.append(Slot(occurredAtMs: occurredAtMs, position: position, offset: Int32(bytes.count)))
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[8...]))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { slots.count }

    /// Whether entry `index` is a visit.
    public func isVisit(_ index: Int) -> Bool { bytes[Int(slots[index].offset)] == 1 }
    /// Minutes of delivery `index`.
    public func minutes(_ index: Int) -> Int64 { Int64(bytes[Int(slots[index].offset) + 2]) << 8 | Int64(bytes[Int(slots[index].offset) + 3]) }
    /// Occurred time of entry `index`, ms since 1970.
    public func occurredAtMs(_ index: Int) -> Int64 { slots[index].occurredAtMs }

    public subscript(index: Int) -> HistoryEntry {
        let slot = slots[index]
        return bytes.withUnsafeBufferPointer { raw in
            var at = Int(slot.offset)
            let visit = raw[at] == 1, concern = raw[at + 1] == 1
            let minutes = Int64(raw[at + 2]) << 8 | Int64(raw[at + 3])
            at += 4
            func text() -> String {
                let count = Int(raw[at])
                defer { at += 1 + count }
                return String(decoding: UnsafeBufferPointer(rebasing: raw[(at + 1)..<(at + 1 + count)]), as: UTF8.self)
            }
            let id = text(), service = text(), mode = text(), provider = text()
            return HistoryEntry(
                kind: visit ? .visit : .delivery, id: id, service: service, mode: mode, provider: provider,
                minutes: minutes, concern: concern, occurredAtMs: slot.occurredAtMs, position: slot.position)
        }
    }
}

extension Engine {
    /// An elder's deliveries and visits in occurred-time order, as typed entries (the same rows as
    /// ``elderHistory(_:)``, read from the history's compact copy).
    public func elderServiceHistory(_ id: String) throws -> [HistoryEntry] {
        Array(try elderHistoryView(id))
    }

    /// An elder's history read in one cursor pass into one buffer, without decoding: kinds, minutes, times
    /// and positions are there at once, the texts (ids, services, providers) become strings only when an
    /// entry is taken (`history[i]`). The hot read of elder services.
    public func elderHistoryView(_ id: String) throws -> ElderHistory {
        try view { txn, tables in
            let prefix = compositeKey(id) + [0]
            var history = ElderHistory()
            try txn.walk(tables.elders[EldersProjection.Table.historyCompact], from: prefix) { key, value in
                guard key.count == prefix.count + 16, key.starts(with: prefix) else { return false }
                // The key holds the occurred time and the position: elder ‖ 0 ‖ time ‖ position.
                let time = UInt64(bigEndianValue(UnsafeRawBufferPointer(rebasing: key[prefix.count..<(prefix.count + 8)]))!) ^ (1 << 63)
                try history.append(occurredAtMs: Int64(bitPattern: time), value)
                return true
            }
            return history
        }
    }

    /// One elder as `linli elder ID --json` shows them: tier (integer or null) with its reason, the plan in
    /// force, the full history of deliveries and visits in occurred-time order, this week's adherence, the
    /// open concern and the latest survey. `now` fixes "this week" (default: the engine's clock).
    public func elderDocument(_ id: String, now: Timestamp? = nil) throws -> JSONValue? {
        let nowTime = now ?? log.options.clock()
        return try view { txn, tables -> JSONValue? in
            guard let resident = try Rows.get(tables.registry["residents"], id, txn) else { return nil }
            let row = try Rows.get(tables.elders[EldersProjection.Table.elders], id, txn)
            let (tier, reason) = try EldersQueries.tier(tables, row, txn)
            let week = ISOWeek(containing: nowTime)
            let plan = try EldersQueries.plan(tables, elder: id, beforeMs: nowTime.epochMilliseconds + 1, txn)
            let adherence = try EldersQueries.adherence(tables, elder: id, week: week, now: nowTime, txn)
            return try [
                "elder": .string(id), "name": .string(resident.string("name")), "community": .string(resident.string("community")),
                "tier": tier.map { .int($0) } ?? .null, "tierReason": .string(reason),
                "plan": plan?["services"] ?? .array([]), "planSince": plan?["at"] ?? .null,
                "history": .array(try Rows.values(tables.elders[EldersProjection.Table.history], under: id, txn)),
                "adherence": ["week": .string(week.description), "services": .array(adherence.map(\.json))],
                "openConcern": try Rows.get(tables.elders[EldersProjection.Table.concerns], id, txn)?.value.removing("atMs") ?? .null,
                "survey": row?["survey"]?.removing("atMs") ?? .null,
                "surveys": .int(Int64(try Rows.values(tables.elders[EldersProjection.Table.surveys], under: id, txn).count)),
            ]
        }
    }

    /// An elder's deliveries and visits in occurred-time order (the hot read of a service history).
    public func elderHistory(_ id: String) throws -> [JSONValue] {
        try view { txn, tables in try Rows.values(tables.elders[EldersProjection.Table.history], under: id, txn) }
    }

    /// Every surveyed, assigned or planned elder with tier and this week's adherence; optionally only one
    /// tier, or only those behind plan.
    public func elders(tier: Int64? = nil, behindPlan: Bool = false, now: Timestamp? = nil) throws -> [ElderSummary] {
        let nowTime = now ?? log.options.clock()
        let week = ISOWeek(containing: nowTime)
        return try view { txn, tables in
            var out: [ElderSummary] = []
            var rows: [Row] = []
            try Rows.scan(tables.elders[EldersProjection.Table.elders], txn) { _, row in
                rows.append(row); return true
            }
            for row in rows {
                let id = try row.string("elder")
                let (elderTier, reason) = try EldersQueries.tier(tables, row, txn)
                if let tier, elderTier != tier { continue }
                let services = try EldersQueries.adherence(tables, elder: id, week: week, now: nowTime, txn)
                let summary = ElderSummary(
                    elder: id, name: try Rows.get(tables.registry["residents"], id, txn)?.string("name") ?? "", community: try row.string("community"),
                    tier: elderTier, tierReason: reason, week: week, planned: services.reduce(0) { $0 + $1.perWeek },
                    expectedToDate: services.reduce(0) { $0 + $1.expectedToDate }, delivered: services.reduce(0) { $0 + min($1.delivered, $1.perWeek) },
                    behindPlan: services.contains { $0.behind }, willingToWork: row["survey"]?["workWillingness"]?["willing"] == .bool(true))
                if behindPlan && !summary.behindPlan { continue }
                out.append(summary)
            }
            return out
        }
    }

    /// Elders per community and tier ("none" for those never surveyed nor assigned).
    public func tierDistribution() throws -> [(community: String, tier: String, count: Int)] {
        var counts: [String: [String: Int]] = [:]
        for elder in try elders() { counts[elder.community, default: [:]][elder.tier.map { String($0) } ?? "none", default: 0] += 1 }
        return counts.keys.sorted().flatMap { community in counts[community]!.keys.sorted().map { (community, $0, counts[community]![$0]!) } }
    }

    /// Follow-ups opened by a visit with a concern and not yet closed by a later visit or delivery.
    public func openConcerns() throws -> [Row] { try rows(of: \.elders, "concerns") }

    /// Minutes and deliveries of mutual help (互助) per volunteer.
    public func mutualHelp() throws -> [Row] { try rows(of: \.elders, "mutual") }

    /// The 1+N stations with their functions and the deliveries made at each.
    public func stations() throws -> [Row] { try rows(of: \.elders, "stations") }
}

extension Engine {
    /// For a time-travel view whose queries read one week's adherence (``Engine/elders(tier:behindPlan:now:)``):
    /// keeps the adherence rows of `week` only, so that the replay does not count the hundreds of other
    /// weeks' deliveries (``EventLog/memoryProjections(upTo:occurredAtOrBefore:projections:appendOnly:rowsKept:memoryBytesMax:progress:)``).
    /// A key is `elder ‖ 0 ‖ u64be(the Monday's day number) ‖ 0 ‖ service` (``EldersDomain/adherenceKey(elder:week:service:)``).
    public static func eldersRowsKept(week: ISOWeek) -> [String: RowKeyFilter] {
        ["elders/\(EldersProjection.Table.adherence.name)": { key in !EldersDomain.adherenceKey(key, isOutside: week) }]
    }
}

/// The rules read back at query time, so that a tier always reflects the policy in force at the survey's
/// occurred time, even a policy recorded later with an earlier occurred time.
enum EldersQueries {
    /// The tier and its reason: the later (by occurred time) of the latest survey under its policy and the
    /// latest override.
    static func tier(_ tables: Tables, _ row: Row?, _ txn: borrowing some TransactionReading & ~Copyable) throws -> (Int64?, String) {
        let survey = row?["survey"], override = row?["override"]
        let surveyMs = survey?["atMs"]?.intValue, overrideMs = override?["atMs"]?.intValue
        if let override, let overrideMs, overrideMs >= (surveyMs ?? .min) {
            let tier = override["tier"]?.intValue ?? 0
            return (
                tier,
                "assigned tier \(tier) by \(override["actor"]?.stringValue ?? "?") at \(override["at"]?.stringValue ?? "?") (position \(override["position"]?.intValue ?? 0)): \(override["reason"]?.stringValue ?? "")"
            )
        }
        guard let survey, let surveyMs else { return (nil, "not surveyed") }
        let community = try row?.string("community") ?? ""
        var policy = TierPolicy.standard
        var policyText = "the default policy"
        let prefix = compositeKey(community) + [0]
        try txn.walk(
            tables.elders[EldersProjection.Table.policies], from: prefix + LedgerProjection.sortableTime(surveyMs) + bigEndianKey(UInt64.max), reverse: true
        ) {
            key, value in
            guard key.starts(with: prefix) else { return false }
            let stored = try Rows.decode(value, in: tables.elders[EldersProjection.Table.policies])
            policy = try TierPolicy(bands: stored["bands"] ?? .null, livingAloneRaise: stored.int("livingAloneRaise"))
            policyText = "the policy of \(try stored.string("at")) (position \(stored.position))"
            return false
        }
        let adl = survey["adl"]?.intValue ?? survey["health"]?["adl"]?.intValue ?? 0
        let alone = survey["basic"]?["livingAlone"] == .bool(true)
        let (tier, band) = policy.tier(adl: adl, livingAlone: alone)
        var reason = "ADL \(adl) in band \(band.minAdl)–\(band.maxAdl) → tier \(band.tier)"
        if alone && policy.livingAloneRaise > 0 { reason += "; living alone → tier \(tier)" }
        reason += ", under \(policyText); survey of \(survey["at"]?.stringValue ?? "?") (position \(survey["position"]?.intValue ?? 0))"
        return (tier, reason)
    }

    /// The plan in force before `beforeMs` (the latest set at or before it), or nil.
    static func plan(_ tables: Tables, elder: String, beforeMs: Int64, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row? {
        let prefix = compositeKey(elder) + [0]
        var found: Row?
        try txn.walk(
            tables.elders[EldersProjection.Table.plans], from: prefix + LedgerProjection.sortableTime(beforeMs - 1) + bigEndianKey(UInt64.max), reverse: true
        ) {
            key, value in
            guard key.starts(with: prefix) else { return false }
            found = try Rows.decode(value, in: tables.elders[EldersProjection.Table.plans])
            return false
        }
        return found
    }

    /// Adherence in a week: the plan in force at the week's end (or now, this week) against the deliveries
    /// counted in that week, per service.
    static func adherence(
        _ tables: Tables, elder: String, week: ISOWeek, now: Timestamp,
        _ txn: borrowing some TransactionReading & ~Copyable
    ) throws -> [ServiceAdherence] {
        let nowMs = now.epochMilliseconds
        let current = week.startMs <= nowMs && nowMs < week.endMs
        guard let plan = try plan(tables, elder: elder, beforeMs: current ? nowMs + 1 : week.endMs, txn) else { return [] }
        let daysPassed: Int64 = current ? Int64(now.dayNumber() - week.mondayDay + 1) : 7
        var out: [ServiceAdherence] = []
        for item in plan["services"]?.arrayValue ?? [] {
            let service = item["service"]?.stringValue ?? "", perWeek = item["perWeek"]?.intValue ?? 0
            let key = EldersDomain.adherenceKey(elder: elder, week: week, service: service)
            let delivered = try Rows.get(tables.elders[EldersProjection.Table.adherence], key, txn)?.int("delivered") ?? 0
            out.append(ServiceAdherence(service: service, perWeek: perWeek, expectedToDate: perWeek * daysPassed / 7, delivered: delivered))
        }
        return out
    }
}
