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
                d.emitFields("community.registered", stream: "community:\(d.community)", expected: .noStream)
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
                d.emitFields("resident.registered", stream: "resident:\(d.command.string("resident"))", expected: .noStream)
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
                d.emitFields("organization.registered", stream: "organization:\(d.command.string("organization"))", expected: .noStream)
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
                d.emitFields("team.formed", stream: "team:\(d.command.string("team"))", expected: .noStream)
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
                d.emitFields("unit.registered", stream: "unit:\(d.command.string("unit"))", expected: .noStream)
            }),
        roleHandler("role.grant", granting: true),
        roleHandler("role.revoke", granting: false),
    ]

    static func tagHandler(_ name: String, tagging: Bool) -> CommandHandler {
        CommandHandler(
            spec: CommandSpec(name: name, fields: [.required("resident", .id), .required("tag", .oneOf(tags))]),
            decide: { d, txn in
                let resident = try d.resident("resident", txn)
                d.community = resident.string("community")
                try d.authorize([.gridWorker, .socialWorker], txn)
                let tag = d.command.string("tag")
                let has = resident.strings("tags").contains(tag)
                if tagging && has { throw Rejection(.illegalTransition, field: "tag", "tag: \(d.command.string("resident")) is tagged \(tag) already") }
                if !tagging && !has { throw Rejection(.illegalTransition, field: "tag", "tag: \(d.command.string("resident")) is not tagged \(tag)") }
                d.emitFields(tagging ? "resident.tagged" : "resident.untagged", stream: "resident:\(d.command.string("resident"))")
            })
    }

    static func membershipHandler(_ name: String, joining: Bool) -> CommandHandler {
        CommandHandler(
            spec: CommandSpec(name: name, fields: [.required("team", .id), .required("member", .id)]),
            decide: { d, txn in
                let team = try d.require(d.tables.registry["teams"], d.command.string("team"), .unknownTeam, field: "team", what: "team", txn)
                d.community = team.string("community")
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
                d.emitFields(joining ? "team.joined" : "team.left", stream: "team:\(d.command.string("team"))")
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
                d.emitFields(granting ? "role.granted" : "role.revoked", stream: "subject:\(d.command.string("subject"))")
            })
    }
}

/// The registry's projection: look-ups by id for every registered entity, and the role grants.
final class RegistryProjection: Projection {
    let name = "registry"
    /// 2: units indexed by owner and by community (for owners' assemblies).
    let version: UInt32 = 2
    let databaseNames = ["communities", "residents", "organizations", "teams", "units", "units-by-owner", "units-by-community", "roles"]

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        assert(Self.types.contains(event.type), "the log hands a projection only the event types it names")
        let e = try DomainEvent(event)
        let p = e.position
        switch event.type {
        case "store.initialized":
            let admin = e.string("admin")
            try Rows.put(db["roles"], compositeKey(admin, "*", "admin"), ["subject": .string(admin), "role": "admin", "community": "*"], position: p, txn)
        case "community.registered":
            try Rows.put(db["communities"], e.string("community"), e.payload, position: p, txn)
        case "resident.registered":
            let value = e.payload.setting("tags", e.payload["tags"] ?? .array([]))
            try Rows.put(db["residents"], e.string("resident"), value, position: p, txn)
        case "resident.tagged", "resident.untagged":
            guard let row = try Rows.get(db["residents"], e.string("resident"), txn) else { throw missing(e, "resident") }
            var tags = row.strings("tags").filter { $0 != e.string("tag") }
            if event.type == "resident.tagged" { tags.append(e.string("tag")) }
            try Rows.put(db["residents"], e.string("resident"), row.value.setting("tags", .array(tags.map { .string($0) })), position: p, txn)
        case "organization.registered":
            try Rows.put(db["organizations"], e.string("organization"), e.payload, position: p, txn)
        case "team.formed":
            try Rows.put(db["teams"], e.string("team"), e.payload, position: p, txn)
        case "team.joined", "team.left":
            guard let row = try Rows.get(db["teams"], e.string("team"), txn) else { throw missing(e, "team") }
            var members = row.strings("members").filter { $0 != e.string("member") }
            if event.type == "team.joined" { members.append(e.string("member")) }
            try Rows.put(db["teams"], e.string("team"), row.value.setting("members", .array(members.map { .string($0) })), position: p, txn)
        case "unit.registered":
            // An owners' assembly adds these areas up: a stored one outside the command's range cannot have
            // been recorded, and must not overflow a tally.
            _ = try StoredArithmetic.inRange(e.int("areaSqm"), RegistryDomain.unitAreaSqm, "the area of unit \(e.string("unit"))", at: p)
            try Rows.put(db["units"], e.string("unit"), e.payload, position: p, txn)
            // Look-ups for owners' assemblies: an owner's units, and a community's units.
            try Rows.put(db["units-by-owner"], compositeKey(e.string("owner"), e.string("unit")), e.payload, position: p, txn)
            try Rows.put(db["units-by-community"], compositeKey(e.string("community"), e.string("unit")), e.payload, position: p, txn)
        case "role.granted":
            try Rows.put(db["roles"], compositeKey(e.string("subject"), e.string("community"), e.string("role")), e.payload, position: p, txn)
        case "role.revoked":
            try txn.delete(db["roles"], key: compositeKey(e.string("subject"), e.string("community"), e.string("role")))
        default:
            break
        }
    }

    var eventTypes: Set<String>? { Self.types }
    static let types: Set<String> = [
        "store.initialized", "community.registered", "resident.registered", "resident.tagged", "resident.untagged",
        "organization.registered", "team.formed", "team.joined", "team.left", "unit.registered",
        "role.granted", "role.revoked",
    ]
}

/// An event that refers to an entity its projection does not have: the log and projection disagree.
func missing(_ e: DomainEvent, _ what: String) -> LogError {
    LogError.corrupt(position: e.position, reason: "\(e.record.type) refers to a \(what) the projection does not have")
}
