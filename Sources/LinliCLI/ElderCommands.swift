import ArgumentParser
import Foundation
import Linli

struct ElderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elder",
        abstract: "Elder services (一老一策): show an elder, or survey, set tiers and plans, record deliveries and visits.",
        discussion: """
            Examples:
              linli elder r-301 --json
              linli elder survey --elder r-301 --adl 55 --living-alone --condition 高血压 --need mealDelivery --willing-to-receive --as sw-01
              linli elder plan --elder r-301 --service mealDelivery=7 --service companionship=2 --as sw-01
              linli elder deliver --elder r-301 --service mealDelivery --provider canteen-1 --mode other --minutes 20 --as gw-01
            """,
        subcommands: [Show.self, Survey.self, TierPolicyCommand.self, TierCommand.self, Plan.self, Deliver.self, Visit.self],
        defaultSubcommand: Show.self)

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "One elder: tier and its reason, plan, this week's adherence, open concern, full history in occurred-time order.",
            discussion: "Example: linli elder r-301 --json")
        @OptionGroup var store: StoreOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var asOf: AsOfOptions
        @Argument(help: "The elder (a resident id).") var elder: String
        func run() throws {
            let engine = try asOf.engine(store, for: .elders)
            let document = try printDocument(try engine.elderDocument(elder, now: asOf.now), what: "elder", id: elder)
            let plan = document["plan"].items.map { "\($0["service"].plain)×\($0["perWeek"].plain)" }.joined(separator: ", ")
            let adherence =
                document["adherence"]?["services"].items.map { "\($0["service"].plain) \($0["delivered"].plain)/\($0["perWeek"].plain)" }.joined(
                    separator: ", ") ?? ""
            emitDocument(
                output.format, document,
                summary: [
                    ("elder", "\(elder) \(document["name"].plain)"), ("tier", document["tier"].plain), ("why", document["tierReason"].plain), ("plan", plan),
                    ("this week", "\(document["adherence"]?["week"].plain ?? "") \(adherence)"),
                    ("open concern", document["openConcern"]?["visit"].plain ?? ""),
                    ("to receive", willingnessLine(document["survey"]?["serviceWillingness"], list: "services")),
                    ("to work", willingnessLine(document["survey"]?["workWillingness"], list: "kinds")),
                ], header: ["at", "kind", "service / visitor", "mode", "provider", "position"],
                rows: document["history"].items.map { entry in
                    [
                        entry["at"].plain, entry["kind"].plain, entry["service"].plain + entry["visitor"].plain, entry["mode"].plain,
                        entry["provider"].plain + (entry["concern"] == .bool(true) ? "concern" : ""), entry["position"].plain,
                    ]
                }, rightAligned: [5])
        }
    }

    /// A survey's willingness section as a person reads it: "yes: mealDelivery, cleaning (notes)", "no", or
    /// "" when never surveyed.
    static func willingnessLine(_ section: JSONValue?, list: String) -> String {
        guard let section, section != .null else { return "" }
        let items = section[list].items.map { Optional($0).plain }.joined(separator: ", ")
        let notes = section["notes"].plain
        return (section["willing"] == .bool(true) ? "yes" : "no") + (items.isEmpty ? "" : ": " + items) + (notes.isEmpty ? "" : " (\(notes))")
    }

    struct Survey: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "survey",
            abstract: "The five-section survey: basic information, health (ADL), needs, willingness to receive services, willingness to work.",
            discussion:
                "Example: linli elder survey --elder r-301 --adl 55 --living-alone --basic 子女=在外地 --condition 高血压 --need mealDelivery --need companionship --willing-service mealDelivery --work-kind 助餐志愿 --as sw-01"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The elder.") var elder: String
        @Option(help: "Barthel ADL score, 0–100.") var adl: Int64
        @Flag(help: "Lives alone.") var livingAlone = false
        @Option(name: .customLong("basic"), help: "More basic information as KEY=VALUE (repeat).") var basic: [String] = []
        @Option(name: .customLong("condition"), help: "A health condition (repeat).") var conditions: [String] = []
        @Option(name: .customLong("need"), help: "A service the elder needs (repeat).") var needs: [ElderService] = []
        @Flag(help: "Willing to receive services.") var willingToReceive = false
        @Option(name: .customLong("willing-service"), help: "A service the elder is willing to receive (repeat; implies --willing-to-receive).")
        var willingServices: [ElderService] = []
        @Option(help: "Notes on receiving services.") var receiveNotes: String?
        @Flag(help: "Willing to work or volunteer.") var willingToWork = false
        @Option(name: .customLong("work-kind"), help: "A kind of work or volunteering, such as 助餐志愿 (repeat; implies --willing-to-work).") var workKinds:
            [String] = []
        @Option(help: "Notes on working or volunteering.") var workNotes: String?
        static let contractCommand = "elder.survey"
        func fields() throws -> [String: JSONValue] {
            var basicPairs: [(String, JSONValue)] = [("livingAlone", .bool(livingAlone))]
            for item in basic {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, parts[0] != "livingAlone" else {
                    throw ValidationError("--basic \(item): write KEY=VALUE (livingAlone has its own flag)")
                }
                basicPairs.append((parts[0], .string(parts[1])))
            }
            func willingness(_ willing: Bool, _ listName: String, _ list: [String], _ notes: String?) -> JSONValue {
                var pairs: [(String, JSONValue)] = [("willing", .bool(willing || !list.isEmpty))]
                if !list.isEmpty { pairs.append((listName, .array(list.map { .string($0) }))) }
                if let notes { pairs.append(("notes", .string(notes))) }
                return .object(pairs)
            }
            return [
                "elder": .string(elder), "basic": .object(basicPairs),
                "health": ["adl": .int(adl), "conditions": .array(conditions.map { .string($0) })], "needs": .array(needs.map { .string($0.rawValue) }),
                "serviceWillingness": willingness(willingToReceive, "services", willingServices.map(\.rawValue), receiveNotes),
                "workWillingness": willingness(willingToWork, "kinds", workKinds, workNotes),
            ]
        }
    }

    struct TierPolicyCommand: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "tier-policy", abstract: "Set a community's tier policy from --at on: ADL bands and the living-alone raise.",
            discussion:
                "Bands as MIN-MAX:TIER covering 0–100. Example: linli elder tier-policy --community hexi --band 100-100:0 --band 61-99:1 --band 41-60:2 --band 0-40:3 --living-alone-raise 1 --as admin-1"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The community.") var community: String
        @Option(name: .customLong("band"), help: "MIN-MAX:TIER (repeat).") var bands: [String] = []
        @Option(help: "Tiers added for an elder living alone (capped at 3).") var livingAloneRaise: Int64 = 1
        static let contractCommand = "elder.tier.policy"
        func fields() throws -> [String: JSONValue] {
            let parsed = try bands.map { band -> JSONValue in
                let numbers = band.split(whereSeparator: { $0 == "-" || $0 == ":" }).compactMap { Int64($0) }
                guard numbers.count == 3 else { throw ValidationError("--band \(band): write MIN-MAX:TIER, e.g. 61-99:1") }
                return ["minAdl": .int(numbers[0]), "maxAdl": .int(numbers[1]), "tier": .int(numbers[2])]
            }
            return ["community": .string(community), "bands": .array(parsed), "livingAloneRaise": .int(livingAloneRaise)]
        }
    }

    struct TierCommand: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "tier", abstract: "Override an elder's tier, with the reason.",
            discussion: "Example: linli elder tier --elder r-301 --tier 3 --reason 术后卧床 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The elder.") var elder: String
        @Option(help: "0–3.") var tier: Int64
        @Option(help: "Why.") var reason: String
        static let contractCommand = "elder.tier.assign"
        func fields() throws -> [String: JSONValue] { ["elder": .string(elder), "tier": .int(tier), "reason": .string(reason)] }
    }

    struct Plan: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Set an elder's plan (it replaces the old one from --at on).",
            discussion: "Example: linli elder plan --elder r-301 --service mealDelivery=7 --service companionship=2 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The elder.") var elder: String
        @Option(name: .customLong("service"), help: "SERVICE=TIMES_PER_WEEK (repeat).") var services: [String] = []
        static let contractCommand = "elder.plan.set"
        func fields() throws -> [String: JSONValue] {
            let parsed = try services.map { item -> JSONValue in
                let parts = item.split(separator: "=").map(String.init)
                guard parts.count == 2, let service = ElderService(rawValue: parts[0]), let perWeek = Int64(parts[1]) else {
                    throw ValidationError(
                        "--service \(item): write SERVICE=TIMES, e.g. mealDelivery=7; SERVICE is one of \(ElderService.values.joined(separator: ", "))")
                }
                return ["service": .string(service.rawValue), "perWeek": .int(perWeek)]
            }
            return ["elder": .string(elder), "services": .array(parsed)]
        }
    }

    struct Deliver: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "deliver",
            abstract: "Record a service delivered: by others (other), self-help (self) or mutual help (mutual, which also credits the volunteer's hours).",
            discussion: "Example: linli elder deliver --elder r-301 --service companionship --provider r-77 --mode mutual --minutes 60 --as gw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The delivery id (default: generated).") var delivery: String?
        @Option(help: "The elder.") var elder: String
        @Option(help: "The service.") var service: ElderService
        @Option(help: "An organization (other), the elder (self) or a resident volunteer (mutual).") var provider: String
        @Option(help: "Who delivered it: other (staff or a provider), self, or mutual (a neighbour).") var mode: DeliveryMode
        @Option(help: "Minutes, 1–720.") var minutes: Int64
        @Option(help: "The station, if at one.") var station: String?
        static let contractCommand = "service.deliver"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = [
                "delivery": .string(delivery ?? generatedId("delivery")), "elder": .string(elder), "service": .string(service.rawValue),
                "provider": .string(provider), "mode": .string(mode.rawValue), "minutes": .int(minutes),
            ]
            if let station { fields["station"] = .string(station) }
            return fields
        }
    }

    struct Visit: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "visit",
            abstract: "Record a door-knock visit; --concern opens a follow-up.",
            discussion: "Example: linli elder visit --elder r-301 --visitor gw-01 --team knock-1 --observations 腿脚浮肿 --concern --as gw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The visit id (default: generated).") var visit: String?
        @Option(help: "The elder.") var elder: String
        @Option(help: "Who visited.") var visitor: String
        @Option(help: "The door-knock team.") var team: String
        @Option(help: "What was seen.") var observations: String = ""
        @Flag(help: "Something needs following up.") var concern = false
        static let contractCommand = "visit.log"
        func fields() throws -> [String: JSONValue] {
            return [
                "visit": .string(visit ?? generatedId("visit")), "elder": .string(elder), "visitor": .string(visitor),
                "team": .string(team), "observations": .string(observations), "concern": .bool(concern),
            ]
        }
    }
}

struct Elders: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elders",
        abstract: "Elders with tier and this week's plan adherence (expected by now is pro rata by day).",
        discussion: "Example: linli elders --behind-plan --json")
    @OptionGroup var store: StoreOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var asOf: AsOfOptions
    @Option(help: "Only this tier.") var tier: Int64?
    @Flag(help: "Only elders behind plan this week.") var behindPlan = false
    func run() throws {
        // One instant for the view and the query: the view keeps the adherence of the week the query reads.
        let now = asOf.now ?? EventLog.Options().clock()
        let engine = try asOf.engine(store, for: .elders, appendOnly: .dropped, rowsKept: Engine.eldersRowsKept(week: ISOWeek(containing: now)))
        let elders = try engine.elders(tier: tier, behindPlan: behindPlan, now: now)
        emit(
            output.format,
            json: .array(
                elders.map {
                    [
                        "elder": .string($0.elder), "name": .string($0.name), "community": .string($0.community), "tier": $0.tier.map { .int($0) } ?? .null,
                        "tierReason": .string($0.tierReason), "week": .string($0.week.description), "planned": .int($0.planned),
                        "expectedToDate": .int($0.expectedToDate), "delivered": .int($0.delivered), "behindPlan": .bool($0.behindPlan),
                        "willingToWork": .bool($0.willingToWork),
                    ]
                }),
            header: ["elder", "name", "tier", "week", "planned", "expected", "delivered", "behind", "volunteer"],
            rows: elders.map {
                [
                    $0.elder, $0.name, $0.tier.map { "\($0)" } ?? "", $0.week.description, "\($0.planned)", "\($0.expectedToDate)", "\($0.delivered)",
                    $0.behindPlan ? "yes" : "", $0.willingToWork ? "yes" : "",
                ]
            },
            rightAligned: [2, 4, 5, 6])
    }
}

struct Station: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "station",
        abstract: "The 1+N station network: register a station, list stations.", subcommands: [Register.self, List.self], defaultSubcommand: List.self)

    struct Register: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register the hub or a station with its functions.",
            discussion: "Example: linli station register --station st-1 --community hexi --kind station --name 河西助餐点 --function 助餐 --function 应急设备 --as admin-1"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The station id.") var station: String
        @Option(help: "The community.") var community: String
        @Option(help: "A hub or a station of the 1+N network.") var kind: StationKind
        @Option(help: "Its name.") var name: String?
        @Option(name: .customLong("function"), help: "A function such as 助餐 or 应急设备 (repeat).") var functions: [String] = []
        static let contractCommand = "station.register"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = [
                "station": .string(station), "community": .string(community), "kind": .string(kind.rawValue),
                "functions": .array(functions.map { .string($0) }),
            ]
            if let name { fields["name"] = .string(name) }
            return fields
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "Stations with their functions and the deliveries made at each.", discussion: "Example: linli station list --json")
        @OptionGroup var store: StoreOptions
        @OptionGroup var output: FormatOptions
        func run() throws {
            let stations = try store.open(readOnly: true).stations()
            try emit(
                output.format, json: .array(stations.map(\.value)),
                header: ["station", "kind", "name", "functions", "deliveries", "minutes"],
                rows: stations.map {
                    try [
                        $0.string("station"), $0.string("kind"), $0.optionalString("name") ?? "", $0.strings("functions").joined(separator: "、"),
                        "\($0.int("deliveries"))",
                        "\($0.int("minutes"))",
                    ]
                },
                rightAligned: [4, 5])
        }
    }
}
