import LinliStore

/// Elder services (一老一策，分级助老, DOMAIN.md section 2): the five-section survey, tiers under a policy,
/// one plan per elder, the 1+N station network, deliveries in three modes (mutual help earning courtesy
/// points in the same append) and door-knock visits with follow-ups.
enum EldersDomain {
    static let needs = ElderService.values
    static let modes = DeliveryMode.values
    /// The ledger category of hours earned by mutual help (section 5).
    static let mutualHelpCategory = "mutualHelp"

    /// The key of an elder's deliveries of `service` in `week` (`elders/adherence`):
    /// `elder ‖ 0 ‖ u64be(the Monday's day number) ‖ 0 ‖ service`.
    static func adherenceKey(elder: String, week: ISOWeek, service: String) -> [UInt8] {
        entityKey(elder.utf8, UInt64(bitPattern: Int64(week.mondayDay)), then: service.utf8)
    }

    /// The same key from the UTF-8 of the ids where they lie in a delivery's payload.
    static func adherenceKey(elder: PayloadText, week: ISOWeek, service: PayloadText) -> [UInt8] {
        entityKey(elder.bytes, UInt64(bitPattern: Int64(week.mondayDay)), then: service.bytes)
    }

    /// Whether `key`, an adherence key, counts a week other than `week`; false for a key not in the
    /// layout (only a forged row has one), which a filter then keeps.
    static func adherenceKey(_ key: UnsafeRawBufferPointer, isOutside week: ISOWeek) -> Bool {
        guard let zero = key.firstIndex(of: 0), key.count > zero + 9, key[zero + 9] == 0 else { return false }
        return bigEndianValue(UnsafeRawBufferPointer(rebasing: key[(zero + 1)...(zero + 8)])) != UInt64(bitPattern: Int64(week.mondayDay))
    }

    /// Section 4 of the survey (服务意愿): whether, and which of the needs list, the elder is willing to receive.
    static let serviceWillingnessSpec = FieldType.object([
        .required("willing", .bool), .optional("services", .list(.oneOf(needs), 0...needs.count)), .optional("notes", .note),
    ])
    /// Section 5 (就业意愿): whether the elder would work or volunteer, and the kinds of work, free text.
    static let workWillingnessSpec = FieldType.object([
        .required("willing", .bool), .optional("kinds", .list(.name, 0...FieldLimits.workKindsCountMax)), .optional("notes", .note),
    ])
    static let healthSpec = FieldType.object([
        .required("adl", .int(0...100)), .optional("conditions", .list(.name, 0...50)), .optional("notes", .note),
    ])
    static let bandSpec = FieldType.object([.required("minAdl", .int(0...100)), .required("maxAdl", .int(0...100)), .required("tier", .int(0...3))])

    /// The minutes one delivery may take.
    static let deliveryMinutes: ClosedRange<Int64> = 1...720

    static let handlers: [CommandHandler] = [
        CommandHandler(
            spec: CommandSpec(
                name: "elder.survey",
                fields: [
                    .required("elder", .id), .required("basic", .anyObject), .required("health", healthSpec),
                    .required("needs", .list(.oneOf(needs), 0...needs.count)), .required("serviceWillingness", serviceWillingnessSpec),
                    .required("workWillingness", workWillingnessSpec),
                ]),
            decide: { d, txn in
                _ = try loadElder(d, txn)
                try d.authorize([.socialWorker], txn)
                let basic = d.command.fields["basic"] ?? .null
                if let alone = basic["livingAlone"], case .bool = alone {
                } else if basic["livingAlone"] != nil {
                    throw Rejection.invalid("basic.livingAlone", "must be true or false")
                }
                let listed = d.command.strings("needs")
                guard Set(listed).count == listed.count else { throw Rejection.invalid("needs", "lists a need twice") }
                let services = (d.command.fields["serviceWillingness"]?["services"]?.arrayValue ?? []).compactMap(\.stringValue)
                guard Set(services).count == services.count else { throw Rejection.invalid("serviceWillingness.services", "lists a service twice") }
                let kinds = (d.command.fields["workWillingness"]?["kinds"]?.arrayValue ?? []).compactMap(\.stringValue)
                guard Set(kinds.map { Array($0.utf8) }).count == kinds.count else { throw Rejection.invalid("workWillingness.kinds", "lists a kind twice") }
                d.emitFields(.elders(.surveyed), stream: "elder:\(d.command.string("elder"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "elder.tier.policy",
                fields: [
                    .required("community", .id), .required("bands", .list(bandSpec, 1...101)), .optional("livingAloneRaise", .int(0...3)),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.admin], txn)
                _ = try TierPolicy(bands: d.command.fields["bands"] ?? .null, livingAloneRaise: d.command.fields["livingAloneRaise"]?.intValue ?? 1)
                d.emitFields(.elders(.tierPolicySet), stream: "tier-policy:\(d.community)")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "elder.tier.assign",
                fields: [
                    .required("elder", .id), .required("tier", .int(0...3)), .required("reason", .description),
                ]),
            decide: { d, txn in
                _ = try loadElder(d, txn)
                try d.authorize([.socialWorker], txn)
                d.emitFields(.elders(.tierAssigned), stream: "elder:\(d.command.string("elder"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "elder.plan.set",
                fields: [
                    .required("elder", .id),
                    .required("services", .list(.object([.required("service", .oneOf(needs)), .required("perWeek", .int(1...21))]), 0...needs.count)),
                ]),
            decide: { d, txn in
                _ = try loadElder(d, txn)
                try d.authorize([.socialWorker], txn)
                let services = (d.command.fields["services"]?.arrayValue ?? []).compactMap { $0["service"]?.stringValue }
                guard Set(services).count == services.count else { throw Rejection.invalid("services", "lists a service twice") }
                d.emitFields(.elders(.planSet), stream: "elder:\(d.command.string("elder"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "station.register",
                fields: [
                    .required("station", .id), .required("community", .id), .required("kind", .oneOf(StationKind.self)),
                    .required("functions", .list(.name, 0...50)), .optional("name", .name),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.admin], txn)
                try d.requireAbsent(d.tables.elders[EldersProjection.Table.stations], d.command.string("station"), field: "station", what: "station", txn)
                if d.command.string("kind") == "hub", let hub = try Rows.get(d.tables.elders[EldersProjection.Table.hubs], d.community, txn) {
                    throw Rejection.invalid("kind", "\(d.community) has its hub already, \(try hub.string("station")) (the 1+N network has one hub)")
                }
                d.emitFields(.elders(.stationRegistered), stream: "station:\(d.command.string("station"))", expected: .noStream)
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "service.deliver",
                fields: [
                    .required("delivery", .id), .required("elder", .id), .required("service", .oneOf(needs)), .required("provider", .id),
                    .required("mode", .oneOf(modes)), .required("minutes", .int(deliveryMinutes)), .optional("station", .id),
                ]),
            decide: { d, txn in
                _ = try loadElder(d, txn)
                try d.authorize([.gridWorker], txn)
                let delivery = d.command.string("delivery"), elder = d.command.string("elder"), provider = d.command.string("provider")
                try d.requireAbsent(d.tables.elders[EldersProjection.Table.deliveries], delivery, field: "delivery", what: "delivery", txn)
                if let station = d.command.optionalString("station") {
                    _ = try d.require(d.tables.elders[EldersProjection.Table.stations], station, .unknownStation, field: "station", what: "station", txn)
                }
                var volunteer: Row?
                switch d.command.string("mode") {
                case "other":
                    _ = try d.require(
                        d.tables.registry["organizations"], provider, .unknownOrganization, field: "provider",
                        what: "organization (the provider of help by others)", txn)
                case "self":
                    guard provider == elder else { throw Rejection.invalid("provider", "self-help is provided by the elder, \(elder)") }
                default:
                    guard provider != elder else { throw Rejection.invalid("provider", "mutual help comes from another resident") }
                    let resident = try d.require(
                        d.tables.registry["residents"], provider, .unknownResident, field: "provider", what: "resident (the mutual-help volunteer)", txn)
                    // Mutual help earns points from a community's issuance account: the elder's, whose staff record
                    // the delivery. A volunteer of another community logs hours there instead (docs/DECISIONS.md).
                    try LedgerDomain.requireSameCommunity(resident, d.community, field: "provider", role: "the mutual-help volunteer")
                    volunteer = resident
                }
                d.emitFields(.elders(.serviceDelivered), stream: "elder:\(elder)")
                if let volunteer {
                    // Mutual help earns courtesy points: the volunteer's hours are logged and verified in this
                    // same append, at the mutualHelp rate (else the default) in force at the delivery's time.
                    let log = "mutual:\(delivery)"
                    let minutes = d.command.int("minutes"), community = try volunteer.string("community")
                    try d.requireAbsent(d.tables.ledger[LedgerProjection.Table.hours], log, field: "delivery", what: "hours log", txn)
                    d.emit(
                        .ledger(.hoursLogged), stream: "hours:\(log)", expected: .noStream,
                        [
                            ("log", .string(log)), ("volunteer", .string(provider)), ("minutes", .int(minutes)),
                            ("activity", .string(d.command.string("service"))), ("category", .string(mutualHelpCategory)),
                            ("delivery", .string(delivery)), ("community", .string(community)),
                        ])
                    try LedgerDomain.emitVerifiedHours(
                        d, log: log, volunteer: provider, minutes: minutes, category: mutualHelpCategory, community: community,
                        occurred: d.command.at.iso8601, occurredMs: d.command.at.epochMilliseconds, field: "mode", txn)
                }
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "visit.log",
                fields: [
                    .required("visit", .id), .required("elder", .id), .required("visitor", .id), .required("team", .id),
                    .required("observations", .note), .required("concern", .bool),
                ]),
            decide: { d, txn in
                _ = try loadElder(d, txn)
                try d.authorize([.gridWorker], txn)
                try d.requireAbsent(d.tables.elders[EldersProjection.Table.visits], d.command.string("visit"), field: "visit", what: "visit", txn)
                let team = try d.require(d.tables.registry["teams"], d.command.string("team"), .unknownTeam, field: "team", what: "team", txn)
                guard try team.string("kind") == "doorKnock" else {
                    throw try Rejection.invalid("team", "\(team.string("team")) is a \(team.string("kind")) team, not a door-knock team")
                }
                guard team.strings("members").contains(d.command.string("visitor")) else {
                    throw Rejection.invalid("visitor", "\(d.command.string("visitor")) is not a member of \(try team.string("team"))")
                }
                d.emitFields(.elders(.visitLogged), stream: "elder:\(d.command.string("elder"))")
            }),
    ]

    /// The elder named by `elder`: a registered resident; sets the command's community to theirs.
    static func loadElder(_ d: Decision, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row {
        let row = try d.require(
            d.tables.registry["residents"], d.command.string("elder"), .unknownElder, field: "elder", what: "registered resident (elder)", txn)
        d.community = try row.string("community")
        return row
    }
}

/// A tier policy: ADL bands (Barthel index 0–100) mapped to tiers 0–3, and how much living alone raises a
/// tier (capped at 3). The bands must cover 0…100 exactly once.
public struct TierPolicy: Sendable, Equatable {
    /// One band: ADL `minAdl…maxAdl` → `tier`.
    public struct Band: Sendable, Equatable {
        public var minAdl: Int64, maxAdl: Int64, tier: Int64
    }
    /// The bands, highest ADL first.
    public var bands: [Band]
    /// Tiers added for an elder living alone (default 1), capped at 3.
    public var livingAloneRaise: Int64

    /// DOMAIN.md's default: ADL 100 → 0, 61–99 → 1, 41–60 → 2, ≤ 40 → 3; living alone +1, at most 3.
    public static let standard = TierPolicy(
        checked: [
            Band(minAdl: 100, maxAdl: 100, tier: 0), Band(minAdl: 61, maxAdl: 99, tier: 1),
            Band(minAdl: 41, maxAdl: 60, tier: 2), Band(minAdl: 0, maxAdl: 40, tier: 3),
        ], livingAloneRaise: 1)

    private init(checked bands: [Band], livingAloneRaise: Int64) {
        self.bands = bands
        self.livingAloneRaise = livingAloneRaise
    }

    /// A policy from a command's or event's `bands`, refusing gaps, overlaps and inverted bands.
    init(bands json: JSONValue, livingAloneRaise: Int64) throws(Rejection) {
        var bands: [Band] = []
        for (index, item) in (json.arrayValue ?? []).enumerated() {
            let band = Band(minAdl: item["minAdl"]?.intValue ?? -1, maxAdl: item["maxAdl"]?.intValue ?? -1, tier: item["tier"]?.intValue ?? -1)
            guard band.minAdl <= band.maxAdl else { throw Rejection.invalid("bands[\(index)]", "minAdl \(band.minAdl) is above maxAdl \(band.maxAdl)") }
            bands.append(band)
        }
        bands.sort { $0.minAdl > $1.minAdl }
        var expectedMax: Int64 = 100
        for band in bands {
            guard band.maxAdl == expectedMax else {
                throw Rejection.invalid(
                    "bands",
                    band.maxAdl > expectedMax
                        ? "bands overlap at ADL \(expectedMax + 1)…\(band.maxAdl)" : "no band covers ADL \(band.maxAdl + 1)…\(expectedMax)")
            }
            expectedMax = band.minAdl - 1
        }
        guard expectedMax == -1 else { throw Rejection.invalid("bands", "no band covers ADL 0…\(expectedMax)") }
        self.init(checked: bands, livingAloneRaise: livingAloneRaise)
    }

    /// The tier for an ADL score, and the band that gave it.
    public func tier(adl: Int64, livingAlone: Bool) -> (tier: Int64, band: Band) {
        let band = bands.first { $0.minAdl <= adl && adl <= $0.maxAdl }!
        return (livingAlone ? min(3, band.tier + livingAloneRaise) : band.tier, band)
    }
}

extension JSONValue {
    /// The items of an array, or nil.
    var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
