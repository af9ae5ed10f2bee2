import LinliStore

/// Mediation (矛盾纠纷调解, DOMAIN.md section 2): the Jiangshan mediation team's disputes, from report to a
/// written agreement and a follow-up visit, or escalation to a department or into the issue library.
enum MediationDomain {
    static let categories = DisputeCategory.values
    /// States from which a dispute may still be escalated or withdrawn.
    static let openStates: Set<String> = ["reported", "assigned", "mediating"]

    static let escalationSpec = FieldType.object([
        .optional("department", .name), .optional("issue", .id), .optional("title", .name), .optional("scope", DeliberationDomain.scopeSpec),
    ])

    static let handlers: [CommandHandler] = [
        CommandHandler(
            spec: CommandSpec(
                name: "dispute.report",
                fields: [
                    .required("dispute", .id), .required("community", .id), .required("parties", .ids(1...50)),
                    .required("category", .oneOf(categories)), .required("description", .description),
                    .required("channel", .oneOf(DeliberationDomain.channels)), .optional("visit", .id),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                let parties = d.command.strings("parties")
                // Grid workers and mediators report; a resident may report a dispute they are a party to.
                try d.authorize([.gridWorker, .mediator], asResident: parties.contains(d.command.actor), txn)
                try d.requireAbsent(d.tables.mediation["disputes"], d.command.string("dispute"), field: "dispute", what: "dispute", txn)
                guard Set(parties).count == parties.count else { throw Rejection.invalid("parties", "lists a party twice") }
                let named = parties.filter { $0 != "public" }
                guard named.count >= 2 || (named.count == 1 && parties.contains("public")) else {
                    throw Rejection.invalid("parties", "a dispute has at least two parties, or one and \"public\"")
                }
                for (index, party) in parties.enumerated() where party != "public" {
                    guard try d.exists(d.tables.registry["residents"], party, txn) || d.exists(d.tables.registry["organizations"], party, txn) else {
                        throw Rejection(.unknownResident, field: "parties[\(index)]", "parties[\(index)]: no resident or organization \"\(party)\"")
                    }
                }
                if let visitId = d.command.optionalString("visit") {
                    // A door-knock visit that noticed a concern is the report's channel, and is linked to it.
                    let visit = try d.require(d.tables.elders[EldersProjection.Table.visits], visitId, .unknownVisit, field: "visit", what: "visit", txn)
                    guard visit.bool("concern") else { throw Rejection.invalid("visit", "visit \(visitId) raised no concern") }
                    guard d.command.string("channel") == "doorKnock" else {
                        throw Rejection.invalid("channel", "a report from a door-knock visit has channel doorKnock")
                    }
                }
                d.emitFields(.mediation(.reported), stream: "dispute:\(d.command.string("dispute"))", expected: .noStream)
            }),
        CommandHandler(
            spec: CommandSpec(name: "dispute.assign", fields: [.required("dispute", .id), .required("mediator", .id), .optional("team", .id)]),
            decide: { d, txn in
                let dispute = try loadDispute(d, txn)
                try d.authorize([.mediator], txn)
                try require(d, dispute, in: ["reported", "assigned"])
                let mediator = d.command.string("mediator")
                guard try d.exists(d.tables.registry["roles"], compositeKey(mediator, d.community, Role.mediator.rawValue), txn) else {
                    throw Rejection(.unauthorized, field: "mediator", "mediator: \(mediator) does not hold mediator in \(d.community)")
                }
                if let team = d.command.optionalString("team") {
                    let row = try d.require(d.tables.registry["teams"], team, .unknownTeam, field: "team", what: "team", txn)
                    guard try row.string("kind") == "mediation" else {
                        throw Rejection.invalid("team", "\(team) is a \(try row.string("kind")) team, not a mediation team")
                    }
                }
                d.emitFields(.mediation(.assigned), stream: "dispute:\(try dispute.string("dispute"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "dispute.session",
                fields: [
                    .required("dispute", .id), .required("session", .id), .required("attendees", .ids(1...100)), .required("notes", .note),
                ]),
            decide: { d, txn in
                let dispute = try loadDispute(d, txn)
                try d.authorize([.mediator], txn)
                try require(d, dispute, in: ["assigned", "mediating"])
                try d.requireAbsent(d.tables.mediation["sessions"], d.command.string("session"), field: "session", what: "session", txn)
                d.emitFields(.mediation(.sessionHeld), stream: "dispute:\(try dispute.string("dispute"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "dispute.resolve",
                fields: [
                    .required("dispute", .id), .required("agreement", .description), .optional("sessions", .ids(1...100)),
                ]),
            decide: { d, txn in
                let dispute = try loadDispute(d, txn)
                try d.authorize([.mediator], txn)
                try require(d, dispute, in: ["mediating"])
                for (index, session) in d.command.strings("sessions").enumerated() {
                    guard let row = try Rows.get(d.tables.mediation["sessions"], session, txn), try row.string("dispute") == dispute.string("dispute") else {
                        throw try Rejection.invalid("sessions[\(index)]", "\(session) is not a session of \(dispute.string("dispute"))")
                    }
                }
                try d.emitFields(
                    .mediation(.resolved), stream: "dispute:\(dispute.string("dispute"))", adding: [("sessionCount", .int(dispute.int("sessions")))])
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "dispute.escalate",
                fields: [
                    .required("dispute", .id), .required("to", escalationSpec), .required("reason", .description),
                ]),
            decide: { d, txn in
                let dispute = try loadDispute(d, txn)
                try d.authorize([.mediator], txn)
                try require(d, dispute, in: openStates)
                let to = d.command.fields["to"] ?? .null
                let disputeId = try dispute.string("dispute")
                if let issue = to["issue"]?.stringValue {
                    guard to["department"] == nil else { throw Rejection.invalid("to", "escalate to a department or into an issue, not both") }
                    guard let title = to["title"]?.stringValue else { throw Rejection.invalid("to.title", "required when escalating into an issue") }
                    guard let scope = to["scope"] else { throw Rejection.invalid("to.scope", "required when escalating into an issue") }
                    try DeliberationDomain.checkProposal(d, issueId: issue, field: "to.issue", scope: scope, scopeField: "to.scope", txn)
                    d.emitFields(.mediation(.escalated), stream: "dispute:\(disputeId)")
                    // The issue is proposed in the same atomic append: the dispute's history and the issue's
                    // timeline point at each other.
                    d.emit(
                        .deliberation(.issueProposed), stream: "issue:\(issue)", expected: .noStream,
                        [
                            ("issue", .string(issue)), ("community", .string(d.community)), ("scope", scope), ("title", .string(title)),
                            ("description", .string(try dispute.string("description"))), ("category", "dispute"), ("channel", "meeting"),
                            ("proposer", .string(d.command.actor)), ("dispute", .string(disputeId)),
                        ])
                } else {
                    guard to["department"] != nil else { throw Rejection.invalid("to", "name a department, or an issue with its title and scope") }
                    guard to["title"] == nil, to["scope"] == nil else { throw Rejection.invalid("to", "title and scope belong to an escalation into an issue") }
                    d.emitFields(.mediation(.escalated), stream: "dispute:\(disputeId)")
                }
            }),
        CommandHandler(
            spec: CommandSpec(name: "dispute.withdraw", fields: [.required("dispute", .id), .required("reason", .description)]),
            decide: { d, txn in
                let dispute = try loadDispute(d, txn)
                try d.authorize([.mediator], txn)
                try require(d, dispute, in: openStates)
                d.emitFields(.mediation(.withdrawn), stream: "dispute:\(try dispute.string("dispute"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "dispute.followUp",
                fields: [
                    .required("dispute", .id), .required("satisfaction", .int(1...5)), .required("notes", .note),
                ]),
            decide: { d, txn in
                let dispute = try loadDispute(d, txn)
                try d.authorize([.mediator], txn)
                try require(d, dispute, in: ["resolved"])
                d.emitFields(.mediation(.followedUp), stream: "dispute:\(try dispute.string("dispute"))")
            }),
    ]

    /// The dispute named by `dispute`; sets the command's community to its own.
    static func loadDispute(_ d: Decision, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row {
        let row = try d.require(d.tables.mediation["disputes"], d.command.string("dispute"), .unknownDispute, field: "dispute", what: "dispute", txn)
        d.community = try row.string("community")
        return row
    }

    static func require(_ d: Decision, _ dispute: Row, in states: Set<String>) throws {
        guard states.contains(try dispute.string("state")) else {
            throw try Rejection(
                .illegalTransition, field: "dispute",
                "dispute: \(dispute.string("dispute")) is \(dispute.string("state")); \(d.command.name) needs \(states.sorted().joined(separator: " or "))")
        }
    }
}
