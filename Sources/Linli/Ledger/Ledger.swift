import LinliStore

/// The points ledger of the Jiangshan pilot (有礼积分), double entry: volunteer hours, rates, transfers,
/// adjustments, the charity store (邻礼公益超市), micro-wishes (微心愿) and care funds (DOMAIN.md section 2).
enum LedgerDomain {
    static let fundSources = FundSource.values

    /// Points are a community's own: issued from its `issuance:` account, moved between its residents and
    /// spent at its store (docs/DECISIONS.md, "Whose points"). A resident of another community is refused,
    /// naming the field, so that no staff member posts against another community's books.
    static func requireSameCommunity(_ resident: Row, _ community: String, field: String, role: String) throws {
        let theirs = try resident.string("community")
        guard theirs == community else {
            throw try Rejection.invalid(
                field,
                "\(resident.string("resident")) (\(role)) is a resident of \(theirs), not \(community): "
                    + "\(community)'s points are issued, moved and spent among \(community)'s residents only")
        }
    }

    static let handlers: [CommandHandler] = [
        CommandHandler(
            spec: CommandSpec(
                name: "points.rate.set",
                fields: [
                    .required("community", .id), .optional("category", .id), .required("pointsPerHour", .int(0...100_000)),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.admin], txn)
                d.emitFields(.ledger(.rateSet), stream: "rates:\(d.community)")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "hours.log",
                fields: [
                    .required("log", .id), .required("volunteer", .id), .required("minutes", .int(1...720)),
                    .required("activity", .name), .required("category", .id), .optional("team", .id),
                ]),
            decide: { d, txn in
                let volunteer = try d.resident("volunteer", txn)
                d.community = try volunteer.string("community")
                try d.authorize([.gridWorker], asResident: d.command.string("volunteer") == d.command.actor, txn)
                try d.requireAbsent(d.tables.ledger[LedgerProjection.Table.hours], d.command.string("log"), field: "log", what: "hours log", txn)
                if let team = d.command.optionalString("team") {
                    _ = try d.require(d.tables.registry["teams"], team, .unknownTeam, field: "team", what: "team", txn)
                }
                d.emitFields(.ledger(.hoursLogged), stream: "hours:\(d.command.string("log"))", expected: .noStream)
            }),
        CommandHandler(
            spec: CommandSpec(name: "hours.verify", fields: [.required("log", .id)]),
            decide: { d, txn in
                let log = try d.require(
                    d.tables.ledger[LedgerProjection.Table.hours], d.command.string("log"), .unknownLog, field: "log", what: "hours log", txn)
                d.community = try log.string("community")
                try d.authorize([.socialWorker], txn)
                try verifyHours(d, log: log, txn)
            }),
        CommandHandler(
            spec: CommandSpec(name: "hours.reject", fields: [.required("log", .id), .required("reason", .description)]),
            decide: { d, txn in
                let log = try d.require(
                    d.tables.ledger[LedgerProjection.Table.hours], d.command.string("log"), .unknownLog, field: "log", what: "hours log", txn)
                d.community = try log.string("community")
                try d.authorize([.socialWorker], txn)
                guard try log.string("state") == "pending" else {
                    throw Rejection(.illegalTransition, field: "log", "log: \(d.command.string("log")) is \(try log.string("state")), not pending")
                }
                d.emitFields(.ledger(.hoursRejected), stream: "hours:\(d.command.string("log"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "points.transfer",
                fields: [
                    .required("from", .id), .required("to", .id), .required("points", .points), .required("reason", .description),
                ]),
            decide: { d, txn in
                let from = try d.resident("from", txn)
                d.community = try from.string("community")
                // Authorized before the receiver is looked up: a refusal names nothing about a resident
                // (that they exist, their community) to someone who may not move these points.
                try d.authorize([], asResident: d.command.string("from") == d.command.actor, txn)
                try requireSameCommunity(try d.resident("to", txn), d.community, field: "to", role: "the receiving resident")
                guard d.command.string("from") != d.command.string("to") else { throw Rejection.invalid("to", "a transfer goes to another resident") }
                try requireBalance(d, account: "resident:\(d.command.string("from"))", points: d.command.int("points"), field: "points", txn)
                d.emitFields(.ledger(.pointsTransferred), stream: "account:resident:\(d.command.string("from"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "points.adjust",
                fields: [
                    .required("account", .id), .required("points", .int(-1_000_000_000...1_000_000_000)), .required("reason", .description),
                ]),
            decide: { d, txn in
                let account = d.command.string("account")
                let points = d.command.int("points")
                guard points != 0 else { throw Rejection.invalid("points", "an adjustment of 0 points changes nothing") }
                if account.hasPrefix("resident:") {
                    let resident = try d.require(
                        d.tables.registry["residents"], String(account.dropFirst(9)), .unknownAccount, field: "account", what: "resident for account", txn)
                    d.community = try resident.string("community")
                } else if account.hasPrefix("store:") {
                    d.community = String(account.dropFirst(6))
                    _ = try d.require(d.tables.registry["communities"], d.community, .unknownAccount, field: "account", what: "community for account", txn)
                } else {
                    throw Rejection(
                        .unknownAccount, field: "account",
                        "account: \"\(account)\" is not resident:ID or store:COMMUNITY (adjustments post against issuance:COMMUNITY)")
                }
                try d.authorize([.admin], txn)
                if points < 0 && account.hasPrefix("resident:") { try requireBalance(d, account: account, points: -points, field: "points", txn) }
                d.emitFields(.ledger(.pointsAdjusted), stream: "account:\(account)")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "gift.stock",
                fields: [
                    .required("item", .id), .required("community", .id), .required("name", .name), .required("pricePoints", .points),
                    .required("quantity", .quantity), .optional("donor", .id),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.storeKeeper], txn)
                if d.command.optionalString("donor") != nil { try d.requireResidentOrOrganization("donor", .unknownOrganization, txn) }
                if let item = try Rows.get(d.tables.ledger[LedgerProjection.Table.items], d.command.string("item"), txn) {
                    guard try item.string("community") == d.community else {
                        throw Rejection.invalid("community", "item \(d.command.string("item")) belongs to \(try item.string("community"))")
                    }
                    guard try item.int("pricePoints") == d.command.int("pricePoints") else {
                        throw Rejection.invalid(
                            "pricePoints", "item \(d.command.string("item")) is priced at \(try item.int("pricePoints")) points; stock it at that price")
                    }
                    guard try item.int("quantity") + d.command.int("quantity") <= 1_000_000_000 else {
                        throw Rejection.invalid("quantity", "stock would exceed 1,000,000,000")
                    }
                }
                d.emitFields(.ledger(.giftStocked), stream: "item:\(d.command.string("item"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "gift.redeem",
                fields: [
                    .required("redemption", .id), .required("resident", .id), .required("item", .id), .required("quantity", .quantity),
                ]),
            decide: { d, txn in
                let item = try d.require(
                    d.tables.ledger[LedgerProjection.Table.items], d.command.string("item"), .unknownItem, field: "item", what: "item", txn)
                d.community = try item.string("community")
                try d.authorize([.storeKeeper], txn)
                try requireSameCommunity(try d.resident("resident", txn), d.community, field: "resident", role: "the redeeming resident")
                try d.requireAbsent(
                    d.tables.ledger[LedgerProjection.Table.redemptions], d.command.string("redemption"), field: "redemption", what: "redemption", txn)
                let quantity = d.command.int("quantity")
                let inStock = try item.int("quantity")
                guard quantity <= inStock else {
                    throw Rejection(
                        .outOfStock, field: "quantity", "quantity: \(quantity) of \(d.command.string("item")) asked, \(inStock) in stock")
                }
                let (points, overflow) = quantity.multipliedReportingOverflow(by: try item.int("pricePoints"))
                guard !overflow else { throw Rejection.invalid("quantity", "the price overflows") }
                try requireBalance(d, account: "resident:\(d.command.string("resident"))", points: points, field: "quantity", txn)
                d.emitFields(
                    .ledger(.giftRedeemed), stream: "redemption:\(d.command.string("redemption"))", expected: .noStream,
                    adding: [("points", .int(points)), ("pricePoints", .int(try item.int("pricePoints")))])
            }),
        CommandHandler(
            spec: CommandSpec(name: "redemption.reverse", fields: [.required("redemption", .id), .required("reason", .description)]),
            decide: { d, txn in
                let redemption = try d.require(
                    d.tables.ledger[LedgerProjection.Table.redemptions], d.command.string("redemption"), .unknownRedemption, field: "redemption",
                    what: "redemption", txn)
                d.community = try redemption.string("community")
                try d.authorize([.storeKeeper], txn)
                guard !redemption.bool("reversed") else {
                    throw Rejection(.illegalTransition, field: "redemption", "redemption: \(d.command.string("redemption")) is reversed already")
                }
                try d.emitFields(
                    .ledger(.redemptionReversed), stream: "redemption:\(d.command.string("redemption"))",
                    adding: [
                        ("resident", .string(redemption.string("resident"))), ("item", .string(redemption.string("item"))),
                        ("quantity", .int(redemption.int("quantity"))), ("points", .int(redemption.int("points"))),
                    ])
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "wish.post",
                fields: [
                    .required("wish", .id), .required("beneficiary", .id), .required("community", .id), .required("description", .description),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.socialWorker], txn)
                _ = try d.resident("beneficiary", txn)
                try d.requireAbsent(d.tables.ledger[LedgerProjection.Table.wishes], d.command.string("wish"), field: "wish", what: "wish", txn)
                d.emitFields(.ledger(.wishPosted), stream: "wish:\(d.command.string("wish"))", expected: .noStream)
            }),
        wishHandler("wish.claim", fields: [.required("wish", .id), .required("claimant", .id)], from: ["open"], event: .ledger(.wishClaimed)),
        wishHandler("wish.fulfil", fields: [.required("wish", .id), .optional("note", .note)], from: ["claimed"], event: .ledger(.wishFulfilled)),
        wishHandler("wish.cancel", fields: [.required("wish", .id), .optional("note", .note)], from: ["open", "claimed"], event: .ledger(.wishCancelled)),
        CommandHandler(
            spec: CommandSpec(
                name: "fund.income",
                fields: [
                    .required("fund", .id), .required("community", .id), .required("source", .oneOf(fundSources)), .required("amountFen", .amountFen),
                ]),
            decide: { d, txn in
                d.community = d.command.string("community")
                _ = try d.communityRow(d.community, txn)
                try d.authorize([.socialWorker], txn)
                if let fund = try Rows.get(d.tables.ledger[LedgerProjection.Table.funds], d.command.string("fund"), txn) {
                    guard try fund.string("community") == d.community else {
                        throw Rejection.invalid("community", "fund \(d.command.string("fund")) belongs to \(try fund.string("community"))")
                    }
                    guard try fund.int("balanceFen") <= Int64.max / 2 - d.command.int("amountFen") else {
                        throw Rejection.invalid("amountFen", "the fund would overflow")
                    }
                }
                d.emitFields(.ledger(.fundReceived), stream: "fund:\(d.command.string("fund"))")
            }),
        CommandHandler(
            spec: CommandSpec(
                name: "fund.disburse",
                fields: [
                    .required("fund", .id), .required("beneficiary", .id), .required("amountFen", .amountFen), .required("purpose", .description),
                ]),
            decide: { d, txn in
                let fund = try d.require(
                    d.tables.ledger[LedgerProjection.Table.funds], d.command.string("fund"), .unknownFund, field: "fund", what: "fund", txn)
                d.community = try fund.string("community")
                try d.authorize([.socialWorker], txn)
                try d.requireResidentOrOrganization("beneficiary", .unknownResident, txn)
                guard try d.command.int("amountFen") <= fund.int("balanceFen") else {
                    throw Rejection(
                        .insufficientFunds, field: "amountFen",
                        "amountFen: \(d.command.int("amountFen")) asked, fund \(d.command.string("fund")) holds \(try fund.int("balanceFen"))")
                }
                d.emitFields(.ledger(.fundDisbursed), stream: "fund:\(d.command.string("fund"))")
            }),
    ]

    static func wishHandler(_ name: String, fields: [FieldSpec], from states: [String], event: EventType) -> CommandHandler {
        CommandHandler(
            spec: CommandSpec(name: name, fields: fields),
            decide: { d, txn in
                let wish = try d.require(
                    d.tables.ledger[LedgerProjection.Table.wishes], d.command.string("wish"), .unknownWish, field: "wish", what: "wish", txn)
                d.community = try wish.string("community")
                try d.authorize([.socialWorker], txn)
                guard states.contains(try wish.string("state")) else {
                    throw Rejection(
                        .illegalTransition, field: "wish",
                        "wish: \(d.command.string("wish")) is \(try wish.string("state")); \(name) needs \(states.joined(separator: " or "))")
                }
                if d.command.optionalString("claimant") != nil { try d.requireResidentOrOrganization("claimant", .unknownClaimant, txn) }
                d.emitFields(event, stream: "wish:\(d.command.string("wish"))")
            })
    }

    /// Credits a pending log with points at the rate in force at its occurred time (section 5).
    static func verifyHours(_ d: Decision, log: Row, _ txn: borrowing WriteTransaction) throws {
        guard try log.string("state") == "pending" else {
            throw try Rejection(.illegalTransition, field: "log", "log: \(log.string("log")) is \(log.string("state")), not pending")
        }
        try emitVerifiedHours(
            d, log: log.string("log"), volunteer: log.string("volunteer"), minutes: log.int("minutes"), category: log.string("category"),
            community: d.community, occurred: log.string("at"), occurredMs: log.int("atMs"), field: "log", txn)
    }

    /// Emits `hours.verified` for a log: points = floor(minutes × rate / 60) at the rate in force for the
    /// category (else the community default) at the hours' occurred time. Shared by `hours.verify` and by
    /// mutual-help deliveries, which log and verify hours in the same append.
    static func emitVerifiedHours(
        _ d: Decision, log: String, volunteer: String, minutes: Int64, category: String, community: String,
        occurred: String, occurredMs: Int64, field: String, _ txn: borrowing some TransactionReading & ~Copyable
    ) throws {
        guard let rate = try LedgerProjection.rate(d.tables, community: community, category: category, atMs: occurredMs, txn) else {
            throw Rejection(.illegalTransition, field: field, "\(field): no points rate for \(community) was in force at \(occurred)")
        }
        let points = minutes * rate.pointsPerHour / 60
        assert(points >= 0 && points <= minutes * rate.pointsPerHour, "points are floor(minutes × rate / 60)")
        d.emit(
            .ledger(.hoursVerified), stream: "hours:\(log)",
            [
                ("log", .string(log)), ("volunteer", .string(volunteer)), ("minutes", .int(minutes)), ("category", .string(category)),
                ("pointsPerHour", .int(rate.pointsPerHour)), ("rateSetAt", .int(Int64(rate.position))), ("points", .int(points)),
                ("community", .string(community)),
            ])
    }

    static func requireBalance(_ d: Decision, account: String, points: Int64, field: String, _ txn: borrowing some TransactionReading & ~Copyable) throws {
        let balance = try LedgerProjection.balance(d.tables, account, txn)?.balance ?? 0
        guard balance >= points else {
            throw Rejection(.insufficientBalance, field: field, "\(field): \(points) points needed, \(account) holds \(balance)")
        }
    }
}
