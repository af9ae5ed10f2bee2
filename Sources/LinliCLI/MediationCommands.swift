import ArgumentParser
import Linli

struct DisputeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispute",
        abstract: "Disputes (矛盾纠纷): show one, or report, assign, hold a session, resolve, escalate, withdraw, follow up.",
        discussion: """
            Examples:
              linli dispute d-7 --json
              linli dispute report --community jiangshan --party r-12 --party r-40 --category noise --description 楼上装修噪音 --channel doorKnock --as gw-01
              linli dispute assign --dispute d-7 --mediator md-01 --as md-01
              linli dispute escalate --dispute d-7 --to-issue parking-9 --title 车位分配 --scope compound:鹿溪小区 --reason 涉及全体业主 --as md-01
            """,
        subcommands: [Show.self, Report.self, Assign.self, Session.self, Resolve.self, Escalate.self, Withdraw.self, FollowUp.self],
        defaultSubcommand: Show.self)

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "One dispute: state, parties, ages, agreement, follow-up and timeline.", discussion: "Example: linli dispute d-7 --json")
        @OptionGroup var store: StoreOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var asOf: AsOfOptions
        @Argument(help: "The dispute id.") var dispute: String
        func run() throws {
            let engine = try asOf.engine(store, for: .mediation)
            let document = try printDocument(try engine.disputeDocument(dispute, now: asOf.now), what: "dispute", id: dispute)
            var summary: [(String, String)] = [
                ("dispute", dispute), ("state", document["state"].plain), ("category", document["category"].plain),
                ("parties", document["parties"].items.map(\.plain).joined(separator: ", ")), ("about", document["description"].plain),
                (
                    "reported",
                    "\(document["reportedAt"].plain) (\(document["channel"].plain))"
                        + (document["visit"].plain.isEmpty ? "" : ", at visit \(document["visit"].plain)")
                ),
                ("age (days)", document["ageDays"].plain),
                ("mediator", document["mediator"].plain + (document["team"].plain.isEmpty ? "" : " (\(document["team"].plain))")),
                ("sessions", document["sessions"].plain),
                (
                    "hours",
                    "to assignment \(document["hoursToAssignment"].plain.isEmpty ? "—" : document["hoursToAssignment"].plain), to resolution \(document["hoursToResolution"].plain.isEmpty ? "—" : document["hoursToResolution"].plain)"
                ),
            ]
            for (label, key) in [("agreement", "agreement"), ("withdrawn", "withdrawalReason"), ("escalation", "escalationReason")]
            where !document[key].plain.isEmpty {
                summary.append((label, document[key].plain))
            }
            if let to = document["escalatedTo"], to != .null {
                summary.append(("escalated to", to["department"].plain.isEmpty ? "issue \(to["issue"].plain)" : to["department"].plain))
            }
            if !document["satisfaction"].plain.isEmpty {
                summary.append(
                    (
                        "follow-up",
                        "satisfaction \(document["satisfaction"].plain)/5"
                            + (document["followUpNotes"].plain.isEmpty ? "" : ": \(document["followUpNotes"].plain)")
                    ))
            }
            emitDocument(
                output.format, document, summary: summary, header: ["position", "at", "event", "actor", "detail"],
                rows: document["timeline"].items.map {
                    [$0["position"].plain, $0["at"].plain, $0["type"].plain, $0["actor"].plain, Self.detail($0["detail"])]
                },
                rightAligned: [0])
        }

        /// What a timeline entry recorded: the mediator assigned, a session's attendees and notes, the
        /// agreement, where it was escalated, why it was withdrawn, the follow-up's satisfaction.
        static func detail(_ detail: JSONValue?) -> String {
            if let mediator = detail?["mediator"] {
                return Optional(mediator).plain + (detail?["team"].plain.isEmpty == false ? " (\(detail?["team"].plain ?? ""))" : "")
            }
            if let notes = detail?["notes"], detail?["session"] != nil {
                return
                    "\(detail?["session"].plain ?? ""): \(detail?["attendees"].items.map { Optional($0).plain }.joined(separator: ", ") ?? "") — \(Optional(notes).plain)"
            }
            if let agreement = detail?["agreement"] { return Optional(agreement).plain }
            if let to = detail?["to"] {
                return "\(to["department"].plain.isEmpty ? "issue \(to["issue"].plain)" : to["department"].plain): \(detail?["reason"].plain ?? "")"
            }
            if let satisfaction = detail?["satisfaction"] { return "satisfaction \(Optional(satisfaction).plain)/5 \(detail?["notes"].plain ?? "")" }
            if let reason = detail?["reason"] { return Optional(reason).plain }
            if let description = detail?["description"] { return Optional(description).plain }
            return ""
        }
    }

    struct Report: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Report a dispute (grid workers, mediators, or a resident who is a party).",
            discussion:
                "Example: linli dispute report --community jiangshan --party r-12 --party public --category parking --description 占用消防通道 --channel other --as gw-01"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The dispute id (default: generated).") var dispute: String?
        @Option(help: "The community.") var community: String
        @Option(name: .customLong("party"), help: "A party: resident or organization id, or public (repeat).") var parties: [String] = []
        @Option(help: "What it is about.") var category: DisputeCategory
        @Option(help: "What happened.") var description: String
        @Option(help: "How it reached the community.") var channel: Channel = .other
        @Option(help: "The door-knock visit (with a concern) that noticed it.") var visit: String?
        static let contractCommand = "dispute.report"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = [
                "dispute": .string(dispute ?? generatedId("dispute")), "community": .string(community),
                "parties": .array(parties.map { .string($0) }), "category": .string(category.rawValue),
                "description": .string(description), "channel": .string(channel.rawValue),
            ]
            if let visit { fields["visit"] = .string(visit) }
            return fields
        }
    }

    struct Assign: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "assign",
            abstract: "Assign a mediator (and a mediation team).",
            discussion: "Example: linli dispute assign --dispute d-7 --mediator md-01 --team mediation-1 --as md-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The dispute.") var dispute: String
        @Option(help: "The mediator.") var mediator: String
        @Option(help: "The mediation team, if any.") var team: String?
        static let contractCommand = "dispute.assign"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = ["dispute": .string(dispute), "mediator": .string(mediator)]
            if let team { fields["team"] = .string(team) }
            return fields
        }
    }

    struct Session: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "session",
            abstract: "Record a mediation session.",
            discussion: "Example: linli dispute session --dispute d-7 --attendee r-12 --attendee r-40 --notes 双方陈述 --as md-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The dispute.") var dispute: String
        @Option(help: "The session id (default: generated).") var session: String?
        @Option(name: .customLong("attendee"), help: "Who took part (repeat).") var attendees: [String] = []
        @Option(help: "Notes.") var notes: String = ""
        static let contractCommand = "dispute.session"
        func fields() throws -> [String: JSONValue] {
            return [
                "dispute": .string(dispute), "session": .string(session ?? generatedId("session")),
                "attendees": .array(attendees.map { .string($0) }), "notes": .string(notes),
            ]
        }
    }

    struct Resolve: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "resolve",
            abstract: "Record the written agreement (调解协议).", discussion: "Example: linli dispute resolve --dispute d-7 --agreement 施工限定在工作日白天 --as md-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The dispute.") var dispute: String
        @Option(help: "The agreement.") var agreement: String
        @Option(name: .customLong("session"), help: "A session the agreement rests on (repeat; optional).") var sessions: [String] = []
        static let contractCommand = "dispute.resolve"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = ["dispute": .string(dispute), "agreement": .string(agreement)]
            if !sessions.isEmpty { fields["sessions"] = .array(sessions.map { .string($0) }) }
            return fields
        }
    }

    struct Escalate: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "escalate",
            abstract: "Escalate to a department, or into the issue library (proposes the issue in the same append).",
            discussion:
                "Examples: linli dispute escalate --dispute d-7 --to-department 司法所 --reason 需仲裁 --as md-01\n  linli dispute escalate --dispute d-7 --to-issue parking-9 --title 车位分配 --scope compound:鹿溪小区 --reason 涉及全体业主 --as md-01"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The dispute.") var dispute: String
        @Option(help: "The department.") var toDepartment: String?
        @Option(help: "The id of the issue to propose.") var toIssue: String?
        @Option(help: "The issue's title.") var title: String?
        @Option(help: "The issue's scope: community:ID, compound:NAME or building:NAME.") var scope: String?
        @Option(help: "Why.") var reason: String
        static let contractCommand = "dispute.escalate"
        func fields() throws -> [String: JSONValue] {
            var to: [(String, JSONValue)] = []
            if let toDepartment { to.append(("department", .string(toDepartment))) }
            if let toIssue { to.append(("issue", .string(toIssue))) }
            if let title { to.append(("title", .string(title))) }
            if let scope { to.append(("scope", try parseScope(scope))) }
            return ["dispute": .string(dispute), "to": .object(to), "reason": .string(reason)]
        }
    }

    struct Withdraw: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "withdraw",
            abstract: "Withdraw an open dispute.", discussion: "Example: linli dispute withdraw --dispute d-7 --reason 已自行和解 --as md-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The dispute.") var dispute: String
        @Option(help: "Why.") var reason: String
        static let contractCommand = "dispute.withdraw"
        func fields() throws -> [String: JSONValue] { ["dispute": .string(dispute), "reason": .string(reason)] }
    }

    struct FollowUp: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "follow-up", abstract: "The follow-up visit after resolution (回访), satisfaction 1–5.",
            discussion: "Example: linli dispute follow-up --dispute d-7 --satisfaction 5 --notes 邻里和睦 --as md-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The dispute.") var dispute: String
        @Option(help: "1–5.") var satisfaction: Int64
        @Option(help: "Notes.") var notes: String = ""
        static let contractCommand = "dispute.followUp"
        func fields() throws -> [String: JSONValue] { ["dispute": .string(dispute), "satisfaction": .int(satisfaction), "notes": .string(notes)] }
    }
}

struct Disputes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disputes",
        abstract: "Disputes with state, category, age (calendar days, Asia/Shanghai) and hours to assignment and resolution.",
        discussion:
            "--older-than lists open disputes only. --figures prints the mediation figures instead (by state and category, first-session share, mean hours, satisfaction). Example: linli disputes --older-than 7"
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var asOf: AsOfOptions
    @Option(help: "Only disputes in this state.") var state: String?
    @Option(help: "Only open disputes older than this many days.") var olderThan: Int?
    @Flag(help: "Print the mediation figures.") var figures = false
    func run() throws {
        let engine = try asOf.engine(store, for: .mediation)
        if figures {
            let figures = try engine.mediationFigures(now: asOf.now)
            emitDocument(
                output.format, figures,
                summary: [
                    ("resolved", figures["resolved"].plain), ("at the first session", figures["resolvedAtFirstSession"].plain),
                    ("first-session share", figures["firstSessionShare"].plain), ("mean hours to assignment", figures["meanHoursToAssignment"].plain),
                    ("mean hours to resolution", figures["meanHoursToResolution"].plain), ("mean satisfaction", figures["meanSatisfaction"].plain),
                    ("open > 7 days", figures["openOlderThan7Days"].items.map(\.plain).joined(separator: ", ")),
                ], header: ["community", "state", "category", "count"],
                rows: figures["byStateAndCategory"].items.map { [$0["community"].plain, $0["state"].plain, $0["category"].plain, $0["count"].plain] },
                rightAligned: [3])
            return
        }
        let disputes = try engine.disputes(state: state, olderThanDays: olderThan, now: asOf.now)
        emit(
            output.format, json: .array(disputes.map(\.jsonValue)),
            header: ["dispute", "state", "category", "reported", "age (days)", "h to assign", "h to resolve", "sessions"],
            rows: disputes.map {
                [$0.dispute, $0.state, $0.category, $0.reportedAt, "\($0.ageDays)", $0.hoursToAssignment.plain, $0.hoursToResolution.plain, "\($0.sessions)"]
            },
            rightAligned: [4, 5, 6, 7])
    }
}
