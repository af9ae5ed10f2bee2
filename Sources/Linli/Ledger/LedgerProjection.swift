import LinliStore

/// An account's balance: `credited` and `debited` are gross sums of postings, `balance = credited − debited`.
public struct Balance: Sendable, Equatable {
    /// The account, such as `resident:r-12`, `issuance:c-1` or `store:c-1`.
    public var account: String
    /// Points credited, gross.
    public var credited: Int64
    /// Points debited, gross.
    public var debited: Int64
    /// The position of the last event that posted to the account.
    public var position: UInt64
    /// credited − debited.
    public var balance: Int64 { credited - debited }
}

/// A rate of points per hour in force from an occurred time.
struct Rate {
    let pointsPerHour: Int64
    /// The position of the `points.rateSet` event.
    let position: UInt64
}

/// The ledger's projection: balances, statements, rates, hours, stock, redemptions, wishes and funds.
final class LedgerProjection: Projection {
    let name = "ledger"
    let version: UInt32 = 1
    /// The projection's databases, in their declared order.
    enum Table: Int, ProjectionTable {
        case accounts, postings, rates, hours, items, redemptions, wishes, funds, fundMovements, totals

        var name: String {
            switch self {
            case .accounts: "accounts"
            case .postings: "postings"
            case .rates: "rates"
            case .hours: "hours"
            case .items: "items"
            case .redemptions: "redemptions"
            case .wishes: "wishes"
            case .funds: "funds"
            case .fundMovements: "fund-movements"
            case .totals: "totals"
            }
        }
    }

    let databaseNames = Table.declaredNames
    /// Statements (`account ‖ 0 ‖ position`) and a fund's movements (`fund ‖ 0 ‖ position`): only added.
    let appendOnlyDatabases: [String: AppendOnlyLayout] = [Table.postings.name: .entityThenPosition, Table.fundMovements.name: .entityThenPosition]
    /// An hours log is written when logged and when decided, then left alone: an audit forgets it after.
    let retirableDatabases: Set<String> = [Table.hours.name]
    /// An audit of a store that is mostly ledger replays it in two parts on two cores: the balances and
    /// statements, which the postings alone make, and every other table (docs/AUDIT.md). Each part skips
    /// the work of the tables it drops; the first replays only the events that post.
    static let replayParts: [ReplayPart] = {
        let postingTables: Set = [Table.accounts.name, Table.postings.name]
        let posting: [LedgerEvent] = [.hoursVerified, .pointsTransferred, .pointsAdjusted, .giftRedeemed, .redemptionReversed]
        return [
            ReplayPart(
                compared: postingTables, dropped: Set(Table.declaredNames).subtracting(postingTables),
                eventTypes: EventType.names(posting.map(EventType.ledger))),
            ReplayPart(compared: Set(Table.declaredNames).subtracting(postingTables), dropped: postingTables),
        ]
    }()
    var replayParts: [ReplayPart] { Self.replayParts }

    static let types = EventType.names(LedgerEvent.allCases.map(EventType.ledger))
    var eventTypes: Set<String>? { Self.types }

    func apply(_ event: RecordedEvent, in txn: borrowing WriteTransaction, databases db: ProjectionDatabases) throws {
        let e = try DomainEvent(event)
        guard case .ledger(let type) = e.type else { preconditionFailure("the log hands a projection only the event types it claims") }
        switch type {
        case .rateSet: try rateSet(e, db, txn)
        case .hoursLogged: try hoursLogged(e, db, txn)
        case .hoursVerified: try hoursDecided(e, verified: true, db, txn)
        case .hoursRejected: try hoursDecided(e, verified: false, db, txn)
        case .pointsTransferred: try pointsTransferred(e, db, txn)
        case .pointsAdjusted: try pointsAdjusted(e, db, txn)
        case .giftStocked: try giftStocked(e, db, txn)
        case .giftRedeemed: try redemption(e, redeem: true, db, txn)
        case .redemptionReversed: try redemption(e, redeem: false, db, txn)
        case .wishPosted: try wishPosted(e, db, txn)
        case .wishClaimed: try wishMoved(e, to: "claimed", db, txn)
        case .wishFulfilled: try wishMoved(e, to: "fulfilled", db, txn)
        case .wishCancelled: try wishMoved(e, to: "cancelled", db, txn)
        case .fundReceived: try fundMoved(e, income: true, db, txn)
        case .fundDisbursed: try fundMoved(e, income: false, db, txn)
        }
    }

    /// A rate in force from the event's occurred time, for a category or (without one) the community.
    private func rateSet(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        guard !txn.drops(db[Table.rates]) else { return }
        let event = e.record
        let key =
            compositeKey(try e.string("community"), Self.rateScope(e.optionalString("category"))) + [0]
            + Self.sortableTime(event.occurredAt.epochMilliseconds) + bigEndianKey(e.position)
        try Rows.put(
            db[Table.rates], key, ["pointsPerHour": .int(try e.int("pointsPerHour")), "at": .string(event.occurredAt.iso8601)], position: e.position, txn)
    }

    /// A rate's scope: its category, or `*` for the community's default (as an empty category always was).
    static func rateScope(_ category: String?) -> String { category.flatMap { $0.isEmpty ? nil : $0 } ?? "*" }

    /// Hours logged wait, pending, for a social worker.
    private func hoursLogged(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        guard !txn.drops(db[Table.hours]) else { return }
        let at = e.record.occurredAt
        try Rows.put(
            db[Table.hours], try e.string("log"), updating: e.record.payload,
            [("state", "pending"), ("at", .string(at.iso8601)), ("atMs", .int(at.epochMilliseconds))], position: e.position, txn)
    }

    /// Hours verified (and their points issued to the volunteer) or rejected.
    private func hoursDecided(_ e: DomainEvent, verified: Bool, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let log = try e.string("log")
        // A part of an audit's replay that drops the hours still posts the points.
        let keepsHours = !txn.drops(db[Table.hours])
        let row = keepsHours ? try Rows.get(db[Table.hours], log, txn) : nil
        guard row != nil || !keepsHours else { throw missing(e, "log") }
        var changes: [(String, JSONValue)] = [("state", verified ? "verified" : "rejected")]
        if verified {
            let points = try e.int("points"), pointsPerHour = try e.int("pointsPerHour")
            changes += [("points", .int(points)), ("pointsPerHour", .int(pointsPerHour))]
            try post(
                db, txn, e.position, from: "issuance:\(try e.string("community"))", to: "resident:\(try e.string("volunteer"))", points: points, e,
                extra: [("log", .string(log)), ("pointsPerHour", .int(pointsPerHour)), ("minutes", .int(try e.int("minutes")))])
        }
        if let row { try Rows.put(db[Table.hours], log, updating: row.encoded, changes, position: e.position, txn) }
    }

    private func pointsTransferred(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        try post(
            db, txn, e.position, from: "resident:\(try e.string("from"))", to: "resident:\(try e.string("to"))", points: try e.int("points"), e,
            extra: [("reason", .string(try e.string("reason")))])
    }

    /// An adjustment credits the account from the community's issuance, or (negative) debits it back.
    private func pointsAdjusted(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let account = try e.string("account"), points = try e.int("points"), p = e.position
        let issuance = "issuance:\(try e.string("community"))"
        let extra: [(String, JSONValue)] = [("reason", .string(try e.string("reason")))]
        if points > 0 {
            try post(db, txn, p, from: issuance, to: account, points: points, e, extra: extra)
        } else {
            let debit = try StoredArithmetic.subtract(0, points, "the points adjusted", at: p)
            try post(db, txn, p, from: account, to: issuance, points: debit, e, extra: extra)
        }
    }

    private func giftStocked(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        guard !txn.drops(db[Table.items]) else { return }
        let item = try e.string("item"), p = e.position
        let existing = try Rows.get(db[Table.items], item, txn)
        let stocked = try StoredArithmetic.inRange(try e.int("quantity"), FieldLimits.quantity, "the quantity stocked of \(item)", at: p)
        let quantity = try StoredArithmetic.add(existing?.int("quantity") ?? 0, stocked, "the stock of \(item)", at: p)
        let base = existing?.value ?? JSONValue.object(e.payload.pairs.filter { ["item", "community", "name", "pricePoints", "donor"].contains($0.0) })
        try Rows.put(db[Table.items], item, base.setting("quantity", .int(quantity)), position: p, txn)
    }

    /// A redemption takes stock and the resident's points to the store; its reversal gives both back.
    private func redemption(_ e: DomainEvent, redeem: Bool, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        let itemId = try e.string("item"), redemptionId = try e.string("redemption"), p = e.position
        // A part of an audit's replay that drops the stock and the redemptions still posts the points.
        if !txn.drops(db[Table.items]) {
            guard let item = try Rows.get(db[Table.items], itemId, txn) else { throw missing(e, "item") }
            let moved = try StoredArithmetic.inRange(try e.int("quantity"), FieldLimits.quantity, "the quantity of redemption \(redemptionId)", at: p)
            let quantity =
                redeem
                ? try StoredArithmetic.subtract(item.int("quantity"), moved, "the stock of \(itemId)", at: p)
                : try StoredArithmetic.add(item.int("quantity"), moved, "the stock of \(itemId)", at: p)
            guard quantity >= 0 else { throw LogError.corrupt(position: p, reason: "stock of \(itemId) below zero") }
            try Rows.put(db[Table.items], itemId, updating: item.encoded, [("quantity", .int(quantity))], position: p, txn)
        }
        let resident = "resident:\(try e.string("resident"))", store = "store:\(try e.string("community"))"
        try post(
            db, txn, p, from: redeem ? resident : store, to: redeem ? store : resident, points: try e.int("points"), e,
            extra: [("redemption", .string(redemptionId)), ("item", .string(itemId))])
        if txn.drops(db[Table.redemptions]) {
            return
        } else if redeem {
            try Rows.put(db[Table.redemptions], redemptionId, updating: e.record.payload, [("reversed", false)], position: p, txn)
        } else {
            guard let row = try Rows.get(db[Table.redemptions], redemptionId, txn) else { throw missing(e, "redemption") }
            try Rows.put(db[Table.redemptions], redemptionId, updating: row.encoded, [("reversed", true)], position: p, txn)
        }
    }

    private func wishPosted(_ e: DomainEvent, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        guard !txn.drops(db[Table.wishes]) else { return }
        try Rows.put(db[Table.wishes], try e.string("wish"), e.payload.setting("state", "open"), position: e.position, txn)
    }

    /// A wish claimed (by its claimant), fulfilled or cancelled.
    private func wishMoved(_ e: DomainEvent, to state: String, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        guard !txn.drops(db[Table.wishes]) else { return }
        let wish = try e.string("wish")
        guard let row = try Rows.get(db[Table.wishes], wish, txn) else { throw missing(e, "wish") }
        var value = row.value.setting("state", .string(state))
        if e.type == .ledger(.wishClaimed) { value = value.setting("claimant", .string(try e.string("claimant"))) }
        try Rows.put(db[Table.wishes], wish, value, position: e.position, txn)
    }

    /// Money into or out of a care fund, with the fund's balance and a movement line.
    private func fundMoved(_ e: DomainEvent, income: Bool, _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction) throws {
        // A movement's line needs the fund's balance: a part of an audit's replay drops both or neither (a
        // time-travel view may drop the lines alone, which then go nowhere).
        guard !txn.drops(db[Table.funds]) else { return }
        let fund = try e.string("fund"), amount = try e.int("amountFen"), p = e.position
        let existing = try Rows.get(db[Table.funds], fund, txn)
        guard income || existing != nil else { throw missing(e, "fund") }
        guard amount > 0 else { throw LogError.corrupt(position: p, reason: "fund \(fund): an amount of \(amount) fen; amounts are positive") }
        let balance =
            income
            ? try StoredArithmetic.add(existing?.int("balanceFen") ?? 0, amount, "the balance of fund \(fund)", at: p)
            : try StoredArithmetic.subtract(existing?.int("balanceFen") ?? 0, amount, "the balance of fund \(fund)", at: p)
        guard balance >= 0 else { throw LogError.corrupt(position: p, reason: "fund \(fund) below zero") }
        let community = try existing?.string("community") ?? e.string("community")
        let value: JSONValue = [
            "fund": .string(fund), "community": .string(community),
            "balanceFen": .int(balance),
            "incomeFen": .int(try StoredArithmetic.add(existing?.int("incomeFen") ?? 0, income ? amount : 0, "the income of fund \(fund)", at: p)),
            "disbursedFen": .int(
                try StoredArithmetic.add(existing?.int("disbursedFen") ?? 0, income ? 0 : amount, "the disbursements of fund \(fund)", at: p)),
        ]
        try Rows.put(db[Table.funds], fund, value, position: p, txn)
        var movement: [(String, JSONValue)] = [
            ("kind", income ? "income" : "disbursement"), ("amountFen", .int(amount)),
            ("balanceFen", .int(balance)), ("at", .string(e.record.occurredAt.iso8601)), ("position", .int(Int64(p))),
        ]
        movement += e.payload.pairs.filter { ["source", "beneficiary", "purpose"].contains($0.0) }
        try Rows.put(db[Table.fundMovements], entityKey(fund, p), .object(movement), position: p, txn)
    }

    /// Posts `points` from one account to another: the first is debited, the second credited, each gets a
    /// statement line with its running balance, and the ledger's totals stay equal (trial balance).
    private func post(
        _ db: ProjectionDatabases, _ txn: borrowing WriteTransaction, _ position: UInt64, from: String, to: String,
        points: Int64, _ e: DomainEvent, extra: [(String, JSONValue)]
    ) throws {
        // A command never posts a negative amount; a stored event that does was not written by Linli.
        guard points >= 0 else {
            throw LogError.corrupt(position: position, reason: "a posting of \(points) points from \(from) to \(to); postings are never negative")
        }
        guard points > 0 else { return }
        // Written straight as CBOR (CBORMapWriter): a posting writes five rows, and building each as a tree
        // of values cost more than all of LMDB's work for the event.
        let accounts = db[Table.accounts], postings = db[Table.postings]
        // A time-travel view for a balance keeps no statements: their lines are not even made.
        let keepsStatements = !txn.drops(postings)
        let at = keepsStatements ? e.record.occurredAt.iso8601 : "", recordedAt = keepsStatements ? e.record.recordedAt.iso8601 : ""
        var creditedDelta: Int64 = 0, debitedDelta: Int64 = 0
        // A part of an audit's replay that drops the balances (and so the statements) moves the totals alone.
        let keepsAccounts = !txn.drops(accounts)
        if !keepsAccounts { (creditedDelta, debitedDelta) = (points, points) }
        for (account, debit) in [(from, true), (to, false)] where keepsAccounts {
            let accountKey = Array(account.utf8)
            let current = try Rows.get(accounts, accountKey, txn)
            let creditedBefore = try current?.int("credited") ?? 0, debitedBefore = try current?.int("debited") ?? 0
            let credited = debit ? creditedBefore : try StoredArithmetic.add(creditedBefore, points, "the credits of \(account)", at: position)
            let debited = debit ? try StoredArithmetic.add(debitedBefore, points, "the debits of \(account)", at: position) : debitedBefore
            let balance = try StoredArithmetic.subtract(credited, debited, "the balance of \(account)", at: position)
            creditedDelta += credited - creditedBefore
            debitedDelta += debited - debitedBefore
            if account.hasPrefix("resident:") && balance < 0 {
                throw LogError.corrupt(position: position, reason: "\(account) would go below zero")
            }
            var row = CBORMapWriter(count: 3, position: position, capacity: 64)
            row.string("account", account)
            row.int("credited", credited)
            row.int("debited", debited)
            try txn.put(accounts, key: accountKey, value: row.finish())
            // A view for one account's statement keeps no other account's lines.
            guard keepsStatements, txn.keepsRows(of: accountKey, in: postings) else { continue }
            var line = CBORMapWriter(count: 8 + extra.count, position: position, capacity: 224)
            line.int("position", Int64(position))
            line.string("type", e.record.type)
            line.string("counterAccount", debit ? to : from)
            line.int("amount", debit ? -points : points)
            line.int("balance", balance)
            line.string("at", at)
            line.string("recordedAt", recordedAt)
            line.string("actor", e.record.actor)
            for (key, value) in extra { line.value(key, value) }
            try txn.put(postings, key: entityKey(account, position), value: line.finish())
        }
        // The trial balance: the sum of all credits equals the sum of all debits after every posting. The
        // totals move by what the account rows above actually moved, so a posting that credited without
        // debiting (a bug in the loop) breaks it; the stored totals as read back must balance too.
        precondition(
            creditedDelta == points && debitedDelta == points,
            "a posting of \(points) moved credits by \(creditedDelta) and debits by \(debitedDelta) at position \(position)")
        // A part of an audit's replay that drops the totals keeps the balances only.
        guard !txn.drops(db[Table.totals]) else { return }
        let totals = try Rows.get(db[Table.totals], "all", txn)
        let creditedBefore = try totals?.int("credited") ?? 0, debitedBefore = try totals?.int("debited") ?? 0
        guard creditedBefore == debitedBefore else {
            throw LogError.corrupt(
                position: position, reason: "the trial balance does not hold before this posting: credits \(creditedBefore), debits \(debitedBefore)")
        }
        let credited = try StoredArithmetic.add(creditedBefore, creditedDelta, "the ledger's total credits", at: position)
        let debited = try StoredArithmetic.add(debitedBefore, debitedDelta, "the ledger's total debits", at: position)
        var row = CBORMapWriter(count: 2, position: position, capacity: 32)
        row.int("credited", credited)
        row.int("debited", debited)
        try txn.put(db[Table.totals], key: Array("all".utf8), value: row.finish())
    }

    /// Occurred times as sortable bytes: milliseconds shifted by 2⁶³, big-endian.
    static func sortableTime(_ ms: Int64) -> [UInt8] { bigEndianKey(sortableTimeNumber(ms)) }

    /// An occurred time as a number whose big-endian bytes sort as the times do (sign bit flipped).
    static func sortableTimeNumber(_ ms: Int64) -> UInt64 { UInt64(bitPattern: ms) ^ (1 << 63) }

    /// The rate in force for `category` (else the community default) at an occurred time: the latest
    /// `points.rateSet` whose occurred time is at or before it (of two at the same time, the later one).
    static func rate(_ tables: Tables, community: String, category: String, atMs: Int64, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Rate? {
        for scope in [category, "*"] where !scope.isEmpty {
            let schedule = try rateSchedule(tables, prefix: compositeKey(community, scope) + [0], txn)
            if let found = schedule.last(where: { $0.atMs <= atMs }) { return found.rate }
        }
        return nil
    }

    /// Every rate set for one community and scope, in key order (occurred time, then position). Verifying
    /// hours reads the same few schedules for every command of a batch, so a write transaction keeps them
    /// (``TransactionCache``) while the rates table's row count says no rate was added since.
    private static func rateSchedule(_ tables: Tables, prefix: [UInt8], _ txn: borrowing some TransactionReading & ~Copyable) throws -> [(
        atMs: Int64, rate: Rate
    )] {
        let rates = tables.ledger[LedgerProjection.Table.rates]
        let rowsCount = tables.cache == nil ? 0 : try txn.count(rates)
        if let cached = tables.cache?.rateSchedules[prefix], cached.rowsCount == rowsCount { return cached.schedule }
        var schedule: [(atMs: Int64, rate: Rate)] = []
        try txn.walk(rates, from: prefix) { key, value in
            guard key.starts(with: prefix) else { return false }
            guard key.count == prefix.count + 16, let sortable = bigEndianValue(UnsafeRawBufferPointer(rebasing: key[prefix.count..<(prefix.count + 8)])) else {
                throw LogError.corrupt(position: 0, reason: "a key of the rates table is not community, scope, time and position")
            }
            let row = try Rows.decode(value, in: rates)
            schedule.append((Int64(bitPattern: sortable ^ (1 << 63)), Rate(pointsPerHour: try row.int("pointsPerHour"), position: row.position)))
            return true
        }
        tables.cache?.rateSchedules[prefix] = (rowsCount, schedule)
        return schedule
    }

    /// An account's balance, or nil when nothing ever posted to it.
    static func balance(_ tables: Tables, _ account: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Balance? {
        guard let row = try Rows.get(tables.ledger[LedgerProjection.Table.accounts], account, txn) else { return nil }
        return try Balance(account: account, credited: row.int("credited"), debited: row.int("debited"), position: row.position)
    }
}
