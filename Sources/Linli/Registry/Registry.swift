import LinliStore

/// The registry: communities, residents, organizations, teams, units and roles (DOMAIN.md section 2).
enum RegistryDomain {
    static let tags = ResidentTag.values
    static let organizationKinds = OrganizationKind.values
    static let teamKinds = TeamKind.values
    static let grantableRoles = Role.allCases.filter { $0 != .resident }.map(\.rawValue)

    /// A unit's floor area in square metres.
    static let unitAreaSqm: ClosedRange<Int64> = 1...1_000_000

    static let handlers: [CommandHandler] = [
        CommandHandler(
            spec: CommandSpec(
                name: "community.register",
                fields: [
                    .required("community", .id), .required("name", .name), .required("district", .name),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                try d.authorize([.admin], txn)
                try d.requireAbsent(d.tables.registry["communities"], d.community, field: "community", what: "community", txn)
                d.emitFields(.registry(.communityRegistered), stream: "community:\(d.community)", expected: .noStream)
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "resident.register",
                fields: [
                    .required("resident", .id), .required("community", .id), .required("household", .id), .required("name", .name),
                    .required("birthYear", .int(1880...2100)), .optional("compound", .name), .optional("building", .name),
                    .optional("grid", .id), .optional("tags", .list(.oneOf(tags), 0...4)),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.gridWorker], txn)
                try d.requireAbsent(d.tables.registry["residents"], d.command.string("resident"), field: "resident", what: "resident", txn)
                let tags = d.command.strings("tags")
                guard Set(tags).count == tags.count else { throw Rejection.invalid("tags", "lists a tag twice") }
                d.emitFields(.registry(.residentRegistered), stream: "resident:\(d.command.string("resident"))", expected: .noStream)
            }),
        tagHandler("resident.tag", tagging: true),
        tagHandler("resident.untag", tagging: false),
        CommandHandler(
            spec: CommandSpec(
                name: "organization.register",
                fields: [
                    .required("organization", .id), .required("community", .id), .required("name", .name),
                    .required("kind", .oneOf(organizationKinds)),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.admin], txn)
                try d.requireAbsent(d.tables.registry["organizations"], d.command.string("organization"), field: "organization", what: "organization", txn)
                d.emitFields(.registry(.organizationRegistered), stream: "organization:\(d.command.string("organization"))", expected: .noStream)
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "team.form",
                fields: [
                    .required("team", .id), .required("community", .id), .required("name", .name),
                    .required("kind", .oneOf(teamKinds)), .required("members", .ids(0...FieldLimits.listCountMax)),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.admin], txn)
                try d.requireAbsent(d.tables.registry["teams"], d.command.string("team"), field: "team", what: "team", txn)
                let members = d.command.strings("members")
                guard Set(members).count == members.count else { throw Rejection.invalid("members", "lists a member twice") }
                for (index, member) in members.enumerated() where try !d.isKnownActor(member, txn) {
                    throw Rejection(
                        .unknownResident, field: "members[\(index)]", "members[\(index)]: \"\(member)\" is neither a registered resident nor a role holder")
                }
                d.emitFields(.registry(.teamFormed), stream: "team:\(d.command.string("team"))", expected: .noStream)
            }),
        membershipHandler("team.join", joining: true),
        membershipHandler("team.leave", joining: false),
        CommandHandler(
            spec: CommandSpec(
                name: "unit.register",
                fields: [
                    .required("unit", .id), .required("community", .id), .required("compound", .name), .required("building", .name),
                    .required("areaSqm", .int(unitAreaSqm)), .required("owner", .id),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.admin], txn)
                try d.requireAbsent(d.tables.registry["units"], d.command.string("unit"), field: "unit", what: "unit", txn)
                _ = try d.resident("owner", txn)
                d.emitFields(.registry(.unitRegistered), stream: "unit:\(d.command.string("unit"))", expected: .noStream)
            }),
        roleHandler("role.grant", granting: true),
        roleHandler("role.revoke", granting: false),
    ]

    static func tagHandler(_ name: String, tagging: Bool) -> CommandHandler {
        CommandHandler(
            spec: CommandSpec(name: name, fields: [.required("resident", .id), .required("tag", .oneOf(tags))]),
            decide: { d, txn in
                let resident = try d.resident("resident", txn)
                d.community = try resident.string("community")
                try d.authorize([.gridWorker, .socialWorker], txn)
                let tag = d.command.string("tag")
                let has = resident.strings("tags").contains(tag)
                if tagging && has { throw Rejection(.illegalTransition, field: "tag", "tag: \(d.command.string("resident")) is tagged \(tag) already") }
                if !tagging && !has { throw Rejection(.illegalTransition, field: "tag", "tag: \(d.command.string("resident")) is not tagged \(tag)") }
                d.emitFields(tagging ? .registry(.residentTagged) : .registry(.residentUntagged), stream: "resident:\(d.command.string("resident"))")
            })
    }

    static func membershipHandler(_ name: String, joining: Bool) -> CommandHandler {
        CommandHandler(
            spec: CommandSpec(name: name, fields: [.required("team", .id), .required("member", .id)]),
            decide: { d, txn in
                let team = try d.require(d.tables.registry["teams"], d.command.string("team"), .unknownTeam, field: "team", what: "team", txn)
                d.community = try team.string("community")
                try d.authorize([.admin], txn)
                let member = d.command.string("member")
                guard try d.isKnownActor(member, txn) else {
                    throw Rejection(.unknownResident, field: "member", "member: \"\(member)\" is neither a registered resident nor a role holder")
                }
                let isMember = team.strings("members").contains(member)
                if joining && isMember {
                    throw Rejection(.illegalTransition, field: "member", "member: \(member) is in team \(d.command.string("team")) already")
                }
                if !joining && !isMember {
                    throw Rejection(.illegalTransition, field: "member", "member: \(member) is not in team \(d.command.string("team"))")
                }
                d.emitFields(joining ? .registry(.teamJoined) : .registry(.teamLeft), stream: "team:\(d.command.string("team"))")
            })
    }

    static func roleHandler(_ name: String, granting: Bool) -> CommandHandler {
        CommandHandler(
            spec: CommandSpec(
                name: name,
                fields: [
                    .required("subject", .id), .required("role", .oneOf(grantableRoles)), .required("community", .id),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.admin], txn)
                let key = compositeKey(d.command.string("subject"), d.community, d.command.string("role"))
                let held = try Rows.get(d.tables.registry["roles"], key, txn) != nil
                if granting && held {
                    throw Rejection(
                        .illegalTransition, field: "role", "role: \(d.command.string("subject")) holds \(d.command.string("role")) in \(d.community) already")
                }
                if !granting && !held {
                    throw Rejection(
                        .illegalTransition, field: "role", "role: \(d.command.string("subject")) does not hold \(d.command.string("role")) in \(d.community)")
                }
                d.emitFields(granting ? .registry(.roleGranted) : .registry(.roleRevoked), stream: "subject:\(d.command.string("subject"))")
            })
    }
}

/// The registry's projection: look-ups by id for every registered entity, and the role grants.
final class RegistryProjection: Projection {
    let name = "registry"
    /// 2: units indexed by owner and by community (for owners' assemblies).
    let version: UInt32 = 2
    let databaseNames = ["communities", "residents", "organizations", "teams", "units", "units-by-owner", "units-by-community", "roles"]

    static let types = EventType.names(RegistryEvent.allCases.map(EventType.registry))
    var eventTypes: Set<String>? { Self.types }

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        let e = try DomainEvent(event)
        guard case .registry(let type) = e.type else { preconditionFailure("the log hands a projection only the event types it claims") }
        switch type {
        case .storeInitialized: try storeInitialized(e, db, txn)
        case .communityRegistered: try Rows.put(db["communities"], try e.string("community"), e.payload, position: e.position, txn)
        case .residentRegistered: try residentRegistered(e, db, txn)
        case .residentTagged: try listChanged(e, in: "residents", entity: "resident", list: "tags", item: "tag", added: true, db, txn)
        case .residentUntagged: try listChanged(e, in: "residents", entity: "resident", list: "tags", item: "tag", added: false, db, txn)
        case .organizationRegistered: try Rows.put(db["organizations"], try e.string("organization"), e.payload, position: e.position, txn)
        case .teamFormed: try Rows.put(db["teams"], try e.string("team"), e.payload, position: e.position, txn)
        case .teamJoined: try listChanged(e, in: "teams", entity: "team", list: "members", item: "member", added: true, db, txn)
        case .teamLeft: try listChanged(e, in: "teams", entity: "team", list: "members", item: "member", added: false, db, txn)
        case .unitRegistered: try unitRegistered(e, db, txn)
        case .roleGranted: try Rows.put(db["roles"], try roleKey(e), e.payload, position: e.position, txn)
        case .roleRevoked: try txn.delete(db["roles"], key: try roleKey(e))
        }
    }

    /// The store's first admin holds the role in every community.
    private func storeInitialized(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let admin = try e.string("admin")
        try Rows.put(db["roles"], compositeKey(admin, "*", "admin"), ["subject": .string(admin), "role": "admin", "community": "*"], position: e.position, txn)
    }

    private func residentRegistered(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let value = e.payload.setting("tags", e["tags"] ?? .array([]))
        try Rows.put(db["residents"], try e.string("resident"), value, position: e.position, txn)
    }

    /// A tag added to or taken from a resident, a member to or from a team: one entity's list of names,
    /// where the name goes last when added and no name stands twice.
    private func listChanged(
        _ e: DomainEvent, in database: String, entity: String, list: String, item: String, added: Bool, _ db: ProjectionDatabases,
        _ txn: borrowing WriteTransaction
    ) throws {
        let id = try e.string(entity), name = try e.string(item)
        guard let row = try Rows.get(db[database], id, txn) else { throw missing(e, entity) }
        var names = row.strings(list).filter { $0 != name }
        if added { names.append(name) }
        try Rows.put(db[database], id, row.value.setting(list, .array(names.map { .string($0) })), position: e.position, txn)
    }

    /// A unit, and its look-ups for owners' assemblies: an owner's units, and a community's units.
    private func unitRegistered(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let unit = try e.string("unit"), p = e.position
        // An owners' assembly adds these areas up: a stored one outside the command's range cannot have
        // been recorded, and must not overflow a tally.
        _ = try StoredArithmetic.inRange(try e.int("areaSqm"), RegistryDomain.unitAreaSqm, "the area of unit \(unit)", at: p)
        try Rows.put(db["units"], unit, e.payload, position: p, txn)
        try Rows.put(db["units-by-owner"], compositeKey(try e.string("owner"), unit), e.payload, position: p, txn)
        try Rows.put(db["units-by-community"], compositeKey(try e.string("community"), unit), e.payload, position: p, txn)
    }

    /// A grant's key: subject, community, role.
    private func roleKey(_ e: DomainEvent) throws -> [UInt8] {
        compositeKey(try e.string("subject"), try e.string("community"), try e.string("role"))
    }
}

/// An event that refers to an entity its projection does not have: the log and projection disagree.
func missing(_ e: DomainEvent, _ what: String) -> LogError {
    LogError.corrupt(position: e.position, reason: "\(e.record.type) refers to a \(what) the projection does not have")
}
