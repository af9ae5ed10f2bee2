import ArgumentParser
import Foundation
import Linli

struct Balance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balance",
        abstract: "An account's balance, with gross credits and debits.",
        discussion: "Accounts are resident:ID, issuance:COMMUNITY and store:COMMUNITY. Example: linli balance resident:r-12 --json")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var asOf: AsOfOptions
    @Argument(help: "The account, e.g. resident:r-12.") var account: String

    func run() throws {
        let engine = try asOf.engine(store, for: .ledger, appendOnly: .dropped)
        let balance = try engine.balance(of: account)
        emit(
            output.format,
            json: [
                "account": .string(account), "balance": .int(balance.balance), "credited": .int(balance.credited),
                "debited": .int(balance.debited), "position": .int(Int64(balance.position)),
            ],
            header: ["account", "balance", "credited", "debited", "position"],
            rows: [[account, "\(balance.balance)", "\(balance.credited)", "\(balance.debited)", "\(balance.position)"]],
            rightAligned: [1, 2, 3, 4])
    }
}

struct Statement: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statement",
        abstract: "Every posting of an account with its running balance and the event position behind it.",
        discussion: "Example: linli statement resident:r-12 --csv")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var asOf: AsOfOptions
    @Argument(help: "The account, e.g. resident:r-12.") var account: String

    func run() throws {
        let engine = try asOf.engine(store, for: .ledger, appendOnly: .heldFor(entities: [account]))
        let lines = try engine.statement(of: account)
        emit(
            output.format,
            json: ["account": .string(account), "postings": .array(lines.map { $0.detail })],
            header: ["position", "at", "type", "counter account", "amount", "balance", "actor", "for"],
            rows: lines.map {
                [
                    "\($0.position)", $0.detail["at"]?.stringValueOrEmpty ?? "", $0.type, $0.counterAccount, "\($0.amount)", "\($0.balance)",
                    $0.detail["actor"]?.stringValueOrEmpty ?? "", Self.what($0.detail),
                ]
            },
            rightAligned: [0, 4, 5])
    }

    /// What a posting was for, from its line: the hours and rate behind verified points, a transfer's or
    /// an adjustment's reason, the item and redemption of a purchase.
    static func what(_ line: JSONValue) -> String {
        if line["log"] != nil {
            return "\(line["log"].plain): \(line["minutes"].plain) min at \(line["pointsPerHour"].plain)/h"
        }
        if line["redemption"] != nil { return "\(line["item"].plain) (\(line["redemption"].plain))" }
        return line["reason"].plain
    }
}

struct Stock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stock",
        abstract: "The charity store's gifts and their stock.", discussion: "Example: linli stock --community jiangshan")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var asOf: AsOfOptions
    @Option(help: "Only this community's items.") var community: String?

    func run() throws {
        let items = try asOf.engine(store, for: .ledger, appendOnly: .dropped).stock(community: community)
        emit(
            output.format,
            json: .array(
                items.map {
                    [
                        "item": .string($0.item), "name": .string($0.name), "quantity": .int($0.quantity), "pricePoints": .int($0.pricePoints),
                        "community": .string($0.community),
                    ]
                }),
            header: ["item", "name", "price", "quantity"],
            rows: items.map { [$0.item, $0.name, "\($0.pricePoints)", "\($0.quantity)"] }, rightAligned: [2, 3])
    }
}

struct Wishes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wishes", abstract: "Micro-wishes (微心愿) and their states.", discussion: "Example: linli wishes --state open")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var asOf: AsOfOptions
    @Option(help: "open, claimed, fulfilled or cancelled.") var state: String?

    func run() throws {
        let wishes = try asOf.engine(store, for: .ledger, appendOnly: .dropped).wishes(state: state)
        try emit(
            output.format,
            json: .array(
                wishes.map {
                    try [
                        "wish": .string($0.string("wish")), "state": .string($0.string("state")), "beneficiary": .string($0.string("beneficiary")),
                        "description": .string($0.string("description")), "claimant": $0.value["claimant"] ?? .null,
                    ]
                }),
            header: ["wish", "state", "beneficiary", "description"],
            rows: wishes.map { try [$0.string("wish"), $0.string("state"), $0.string("beneficiary"), $0.string("description")] })
    }
}

struct Fund: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fund",
        abstract: "Care funds: show one, record income, disburse.", subcommands: [Show.self, Income.self, Disburse.self], defaultSubcommand: Show.self)

    struct Income: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "income",
            abstract: "Money into a fund (the first income opens it).",
            discussion:
                "Sources: charitySale, enterprise, donation. Example: linli fund income --fund care-fund --community jiangshan --source charitySale --amount-fen 12800 --as sw-01"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The fund.") var fund: String
        @Option(help: "The community.") var community: String
        @Option(help: "Where the money came from.") var source: FundSource
        @Option(help: "Amount in fen (1 yuan = 100 fen).") var amountFen: Int64
        static let contractCommand = "fund.income"
        func fields() throws -> [String: JSONValue] {
            ["fund": .string(fund), "community": .string(community), "source": .string(source.rawValue), "amountFen": .int(amountFen)]
        }
    }

    struct Disburse: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "disburse",
            abstract: "Money out of a fund (never below zero).",
            discussion: "Example: linli fund disburse --fund care-fund --beneficiary r-3 --amount-fen 5000 --purpose 节日慰问 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The fund.") var fund: String
        @Option(help: "A resident or organization.") var beneficiary: String
        @Option(help: "Amount in fen.") var amountFen: Int64
        @Option(help: "What for.") var purpose: String
        static let contractCommand = "fund.disburse"
        func fields() throws -> [String: JSONValue] {
            ["fund": .string(fund), "beneficiary": .string(beneficiary), "amountFen": .int(amountFen), "purpose": .string(purpose)]
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "A care fund's balance and every movement with its running balance.", discussion: "Example: linli fund care-fund --json")

        @OptionGroup var store: StoreOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var asOf: AsOfOptions
        @Argument(help: "The fund id.") var fund: String

        func run() throws {
            guard let (row, movements) = try asOf.engine(store, for: .ledger, appendOnly: .heldFor(entities: [fund])).fund(fund) else {
                throw ExitError.rejected("linli: unknownFund: no fund \"\(fund)\"")
            }
            try emit(
                output.format,
                json: ["fund": .string(fund), "balanceFen": .int(try row.int("balanceFen")), "movements": .array(movements.map(\.value))],
                header: ["position", "at", "kind", "amountFen", "balanceFen"],
                rows: movements.map { try ["\($0.position)", $0.string("at"), $0.string("kind"), "\($0.int("amountFen"))", "\($0.int("balanceFen"))"] },
                rightAligned: [0, 3, 4])
        }
    }
}

extension JSONValue {
    var stringValueOrEmpty: String {
        if case .string(let text) = self { return text }
        return ""
    }
}

struct Hours: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hours", abstract: "Volunteer hours: log, verify, reject.", subcommands: [Log.self, Verify.self, Reject.self])

    struct Log: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "log",
            abstract: "Log volunteer hours (pending until verified).",
            discussion: "Example: linli hours log --volunteer r-12 --minutes 90 --activity 敲门入户 --category visit --as w-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The hours log's id (default: generated).") var log: String?
        @Option(help: "The volunteer (a resident id).") var volunteer: String
        @Option(help: "Minutes, 1 to 720.") var minutes: Int64
        @Option(help: "What was done.") var activity: String
        @Option(help: "The category, whose rate applies.") var category: String
        @Option(help: "The team, if any.") var team: String?

        static let contractCommand = "hours.log"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = [
                "log": .string(log ?? "log-" + UUID().uuidString.prefix(8).lowercased()), "volunteer": .string(volunteer),
                "minutes": .int(minutes), "activity": .string(activity), "category": .string(category),
            ]
            if let team { fields["team"] = .string(team) }
            return fields
        }
    }

    struct Verify: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Verify logged hours: credits the points at the rate in force when they were worked.",
            discussion: "Example: linli hours verify --log log-1 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The hours log's id.") var log: String
        static let contractCommand = "hours.verify"
        func fields() throws -> [String: JSONValue] { ["log": .string(log)] }
    }

    struct Reject: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "reject",
            abstract: "Reject logged hours.", discussion: "Example: linli hours reject --log log-1 --reason 时间不符 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The hours log's id.") var log: String
        @Option(help: "Why.") var reason: String
        static let contractCommand = "hours.reject"
        func fields() throws -> [String: JSONValue] { ["log": .string(log), "reason": .string(reason)] }
    }
}

struct Gift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gift",
        abstract: "The charity store: stock gifts, redeem them, reverse a redemption.",
        subcommands: [StockItem.self, Redeem.self, Reverse.self])

    struct StockItem: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "stock", abstract: "Add stock of a gift.",
            discussion: "Example: linli gift stock --item rice --community jiangshan --name 大米 --price 20 --quantity 10 --as sk-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The item id.") var item: String
        @Option(help: "The community.") var community: String
        @Option(help: "The gift's name.") var name: String
        @Option(help: "Its price in points.") var price: Int64
        @Option(help: "How many to add.") var quantity: Int64
        @Option(help: "The donor (organization or resident), if any.") var donor: String?
        static let contractCommand = "gift.stock"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = [
                "item": .string(item), "community": .string(community), "name": .string(name), "pricePoints": .int(price), "quantity": .int(quantity),
            ]
            if let donor { fields["donor"] = .string(donor) }
            return fields
        }
    }

    struct Redeem: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "redeem",
            abstract: "Redeem a gift with a resident's points.",
            discussion: "Example: linli gift redeem --resident r-12 --item rice --quantity 1 --as sk-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The redemption id (default: generated).") var redemption: String?
        @Option(help: "The resident.") var resident: String
        @Option(help: "The item.") var item: String
        @Option(help: "How many.") var quantity: Int64 = 1
        static let contractCommand = "gift.redeem"
        func fields() throws -> [String: JSONValue] {
            return [
                "redemption": .string(redemption ?? "rd-" + UUID().uuidString.prefix(8).lowercased()),
                "resident": .string(resident), "item": .string(item), "quantity": .int(quantity),
            ]
        }
    }

    struct Reverse: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "reverse",
            abstract: "Reverse a redemption: the points and the stock come back.",
            discussion: "Example: linli gift reverse --redemption rd-1 --reason 退货 --as sk-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The redemption.") var redemption: String
        @Option(help: "Why.") var reason: String
        static let contractCommand = "redemption.reverse"
        func fields() throws -> [String: JSONValue] { ["redemption": .string(redemption), "reason": .string(reason)] }
    }
}

struct Points: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "points",
        abstract: "Courtesy points: transfer, adjust, set a rate.", subcommands: [Transfer.self, Adjust.self, Rate.self])

    struct Transfer: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer",
            abstract: "Give points to another resident (转赠).",
            discussion: "Example: linli points transfer --from r-12 --to r-40 --points 30 --reason 转赠困难户 --as r-12")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The giving resident.") var from: String
        @Option(help: "The receiving resident.") var to: String
        @Option(help: "How many points.") var points: Int64
        @Option(help: "Why.") var reason: String
        static let contractCommand = "points.transfer"
        func fields() throws -> [String: JSONValue] { ["from": .string(from), "to": .string(to), "points": .int(points), "reason": .string(reason)] }
    }

    struct Adjust: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "adjust",
            abstract: "Correct an account by a compensating posting against issuance.",
            discussion: "Example: linli points adjust --account resident:r-12 --points -5 --reason 更正 --as admin-1")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "resident:ID or store:COMMUNITY.") var account: String
        // Unconditional: a negative amount (-5) is the value, not another option.
        @Option(parsing: .unconditional, help: "Points, positive or negative.") var points: Int64
        @Option(help: "Why.") var reason: String
        static let contractCommand = "points.adjust"
        func fields() throws -> [String: JSONValue] { ["account": .string(account), "points": .int(points), "reason": .string(reason)] }
    }

    struct Rate: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "rate",
            abstract: "Set the points per hour from --at on (for a category, or the community default).",
            discussion: "Example: linli points rate --community jiangshan --points-per-hour 10 --at 2024-01-01T00:00:00+08:00 --as admin-1")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The community.") var community: String
        @Option(help: "The category, if not the default.") var category: String?
        @Option(help: "Points per hour.") var pointsPerHour: Int64
        static let contractCommand = "points.rate.set"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = ["community": .string(community), "pointsPerHour": .int(pointsPerHour)]
            if let category { fields["category"] = .string(category) }
            return fields
        }
    }
}
