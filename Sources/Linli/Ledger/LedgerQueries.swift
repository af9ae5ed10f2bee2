import LinliStore

/// One line of an account's statement: a posting, the running balance after it, and the event behind it.
public struct StatementLine: Sendable, Equatable {
    /// The position of the event that made the posting.
    public var position: UInt64
    /// The event type (`hours.verified`, `gift.redeemed`, …).
    public var type: String
    /// The other account of the double entry.
    public var counterAccount: String
    /// Points: positive when credited, negative when debited.
    public var amount: Int64
    /// The balance after this posting.
    public var balance: Int64
    /// The full line as stored (occurred and recorded time, actor, rate, log, redemption…).
    public var detail: JSONValue
}

/// A gift in the charity store.
public struct StockItem: Sendable, Equatable {
    public var item: String
    public var community: String
    public var name: String
    public var pricePoints: Int64
    public var quantity: Int64
}

extension Engine {
    /// An account's balance with its gross credits and debits (zeros when nothing ever posted to it).
    public func balance(of account: String) throws -> Balance {
        try view { txn, tables in try tables.ledgerBalance(account, txn) }
    }

    /// Every posting of an account, oldest first, with its running balance.
    public func statement(of account: String) throws -> [StatementLine] {
        try view { txn, tables in try Self.statement(of: account, txn, tables) }
    }

    /// An account's postings in one snapshot (with its balance, an explanation reads both in the same one).
    static func statement(of account: String, _ txn: borrowing ReadTransaction, _ tables: Tables) throws -> [StatementLine] {
        var lines: [StatementLine] = []
        try Rows.scan(tables.ledger[LedgerProjection.Table.postings], prefix: Array(account.utf8) + [0], txn) { key, row in
            guard key.count == account.utf8.count + 9 else { return true }
            try lines.append(
                StatementLine(
                    position: row.position, type: row.string("type"), counterAccount: row.string("counterAccount"),
                    amount: row.int("amount"), balance: row.int("balance"), detail: row.value))
            return true
        }
        return lines
    }

    /// The charity store's items, by id, optionally of one community.
    public func stock(community: String? = nil) throws -> [StockItem] {
        try rows(of: \.ledger, "items").compactMap { row in
            let theirs = try row.string("community")
            guard community == nil || theirs == community else { return nil }
            return try StockItem(
                item: row.string("item"), community: theirs, name: row.string("name"),
                pricePoints: row.int("pricePoints"), quantity: row.int("quantity"))
        }
    }

    /// Micro-wishes, by id, optionally in one state.
    public func wishes(state: String? = nil) throws -> [Row] {
        try rows(of: \.ledger, "wishes").filter { try state == nil || $0.string("state") == state }
    }

    /// A fund and its movements with running balances, or nil when there is no such fund.
    public func fund(_ id: String) throws -> (fund: Row, movements: [Row])? {
        try view { txn, tables in
            guard let fund = try Rows.get(tables.ledger[LedgerProjection.Table.funds], id, txn) else { return nil }
            var movements: [Row] = []
            try Rows.scan(tables.ledger[LedgerProjection.Table.fundMovements], prefix: Array(id.utf8) + [0], txn) { key, row in
                if key.count == id.utf8.count + 9 { movements.append(row) }
                return true
            }
            return (fund, movements)
        }
    }

    /// Hours logs still waiting for verification.
    public func pendingHours() throws -> [Row] {
        try rows(of: \.ledger, "hours").filter { try $0.string("state") == "pending" }
    }

    /// Every account with its balance.
    public func balances() throws -> [Balance] {
        try rows(of: \.ledger, "accounts").map {
            try Balance(account: $0.string("account"), credited: $0.int("credited"), debited: $0.int("debited"), position: $0.position)
        }
    }

    /// A registered resident, or nil.
    public func resident(_ id: String) throws -> Row? {
        try view { txn, tables in try Rows.get(tables.registry["residents"], id, txn) }
    }

    /// Every row of one projection database, in key order.
    func rows(of domain: KeyPath<Tables, ProjectionDatabases>, _ name: String) throws -> [Row] {
        try view { txn, tables in
            var out: [Row] = []
            try Rows.scan(tables[keyPath: domain][name], txn) { _, row in
                out.append(row); return true
            }
            return out
        }
    }
}

extension Tables {
    func ledgerBalance(_ account: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Balance {
        try LedgerProjection.balance(self, account, txn) ?? Balance(account: account, credited: 0, debited: 0, position: 0)
    }
}
