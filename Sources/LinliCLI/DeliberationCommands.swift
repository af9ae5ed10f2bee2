import ArgumentParser
import Foundation
import Linli

/// A fresh id for an entity a person did not name: `PREFIX-` and eight hex digits.
func generatedId(_ prefix: String) -> String { prefix + "-" + UUID().uuidString.prefix(8).lowercased() }

/// Parses `community:REF`, `compound:REF` or `building:REF` into a scope object.
func parseScope(_ text: String) throws -> JSONValue {
    let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
    guard parts.count == 2, ["community", "compound", "building"].contains(parts[0]) else {
        throw ValidationError("--scope \(text): write community:ID, compound:NAME or building:NAME")
    }
    return ["level": .string(parts[0]), "ref": .string(parts[1])]
}

/// Prints a JSON document as a query's answer, or says the entity does not exist (exit 1).
func printDocument(_ document: JSONValue?, what: String, id: String) throws -> JSONValue {
    guard let document else { throw ExitError.rejected("linli: no \(what) \"\(id)\"") }
    return document
}

struct IssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "The issue library (议题库): show an issue, or propose, comment, assess, admit, decline, merge.",
        discussion: """
            Examples:
              linli issue i-12 --json
              linli issue propose --issue lift-3 --community zigang --scope compound:紫港小区 --title 加装电梯 --description … --category lift --channel doorKnock --as r-88
              linli issue assess --issue lift-3 --importance 5 --urgency 4 --feasibility 3 --as cv-01
            """,
        subcommands: [Show.self, Propose.self, Comment.self, Assess.self, Admit.self, Decline.self, Merge.self],
        defaultSubcommand: Show.self)

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "One issue: state, priority, scores, comments, meetings with tallies, outcome, timeline.",
            discussion: "Example: linli issue i-12 --json")
        @OptionGroup var store: StoreOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var asOf: AsOfOptions
        @Argument(help: "The issue id.") var issue: String
        func run() throws {
            let engine = try asOf.engine(store, for: .deliberation)
            let document = try printDocument(try engine.issueDocument(issue, now: asOf.now), what: "issue", id: issue)
            let timeline = document["timeline"].items
            let stances = document["stances"]
            var summary: [(String, String)] = [
                ("issue", issue), ("state", document["state"].plain), ("priority", document["priority"].plain), ("title", document["title"].plain),
                ("scope", "\(document["scope"]?["level"].plain ?? ""):\(document["scope"]?["ref"].plain ?? "")"), ("proposer", document["proposer"].plain),
                (
                    "comments",
                    "\(document["comments"].items.count): support \(stances?["support"].plain ?? "0"), oppose \(stances?["oppose"].plain ?? "0"), neutral \(stances?["neutral"].plain ?? "0")"
                ),
            ]
            for meeting in document["meetings"].items { summary += Self.meetingLines(meeting) }
            emitDocument(
                output.format, document, summary: summary, header: ["position", "at", "event", "actor", "detail"],
                rows: timeline.map { [$0["position"].plain, $0["at"].plain, $0["type"].plain, $0["actor"].plain, Self.detail($0)] }, rightAligned: [0])
        }

        /// A meeting as a person reads it: format, rule and result; each condition of the rule as
        /// numerator/denominator against its threshold; the votes and who attended, by name of participant.
        static func meetingLines(_ meeting: JSONValue) -> [(String, String)] {
            let tally = meeting["tally"]
            let result = meeting["state"].plain == "closed" ? (meeting["passed"] == .bool(true) ? "passed" : "failed") : meeting["state"].plain
            var lines = [
                ("meeting " + meeting["meeting"].plain, "\(meeting["format"].plain), \(meeting["rule"].plain), \(meeting["startsAt"].plain): \(result)")
            ]
            if let tally, tally != .null {
                let conditions = tally["conditions"].items.map { condition -> String in
                    let unit = condition["condition"].plain.hasSuffix("Area") ? " m²" : ""
                    return
                        "\(conditionWords[condition["condition"].plain] ?? condition["condition"].plain) \(condition["numerator"].plain)/\(condition["denominator"].plain)\(unit) "
                        + "\(thresholdWords(condition["threshold"].plain)) \(condition["met"] == .bool(true) ? "✓" : "✗")"
                }
                lines.append(("  conditions", conditions.joined(separator: "; ")))
                lines.append(
                    (
                        "  tally",
                        "for \(tally["for"].plain), against \(tally["against"].plain), abstain \(tally["abstain"].plain) of \(tally["votesCast"].plain) cast"
                    ))
            }
            let votes = meeting["votes"].items.map { "\($0["participant"].plain) \($0["choice"].plain)" }
            if !votes.isEmpty { lines.append(("  votes", votes.joined(separator: ", "))) }
            let attendees = meeting["attendees"].items.map { "\($0["participant"].plain) (\($0["role"].plain))" }
            if !attendees.isEmpty { lines.append(("  attended", attendees.joined(separator: ", "))) }
            if meeting["resolution"].plain != "" { lines.append(("  resolution", meeting["resolution"].plain)) }
            return lines
        }

        /// The conditions of the voting rules (Tally.swift), in words.
        static let conditionWords = [
            "votesCast": "votes cast", "forVotes": "for", "participationOwners": "owners taking part", "participationArea": "area taking part",
            "forOwners": "owners for", "forArea": "area for",
        ]

        /// ">=2/3" as "≥ 2/3".
        static func thresholdWords(_ threshold: String) -> String {
            threshold.hasPrefix(">=") ? "≥ " + threshold.dropFirst(2) : threshold.hasPrefix(">") ? "> " + threshold.dropFirst() : threshold
        }

        /// What a timeline entry did, from its event's fields: who attended or voted and how, a comment's
        /// stance, an assessment's scores, an outcome's progress.
        static func detail(_ entry: JSONValue) -> String {
            let detail = entry["detail"]
            switch DeliberationEvent(rawValue: entry["type"].plain) {
            case .meetingAttended: return "\(detail?["participant"].plain ?? "") (\(detail?["role"].plain ?? "")) at \(detail?["meeting"].plain ?? "")"
            case .voteCast: return "\(detail?["participant"].plain ?? "") \(detail?["choice"].plain ?? "") at \(detail?["meeting"].plain ?? "")"
            case .opinionGiven: return "\(detail?["participant"].plain ?? ""): \(detail?["text"].plain ?? "")"
            case .issueCommented: return "\(detail?["resident"].plain ?? "") \(detail?["stance"].plain ?? ""): \(detail?["text"].plain ?? "")"
            case .issueAssessed:
                return
                    "importance \(detail?["importance"].plain ?? ""), urgency \(detail?["urgency"].plain ?? ""), feasibility \(detail?["feasibility"].plain ?? "")"
            case .meetingScheduled: return "\(detail?["meeting"].plain ?? "") \(detail?["format"].plain ?? ""), \(detail?["rule"].plain ?? "")"
            case .meetingClosed: return "\(detail?["meeting"].plain ?? "") \(detail?["passed"] == .bool(true) ? "passed" : "failed")"
            case .outcomeSubmitted: return detail?["department"].plain ?? ""
            case .outcomeProgressed: return "\(detail?["percent"].plain ?? "")% \(detail?["note"].plain ?? "")"
            case .outcomeEvaluated: return "\(detail?["evaluator"].plain ?? "") satisfaction \(detail?["satisfaction"].plain ?? "")"
            case .issueDeclined: return detail?["reason"].plain ?? ""
            case .issueMerged: return "into \(detail?["into"].plain ?? "")"
            case .issueProposed, .issueAdmitted, .outcomeImplemented, nil: return ""
            }
        }
    }

    struct Propose: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "propose",
            abstract: "Propose an issue (a resident, for themselves).",
            discussion:
                "Example: linli issue propose --community zigang --scope compound:紫港小区 --title 停车位分配 --description 外来车辆占位 --category parking --channel wechatGroup --as r-88"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue id (default: generated).") var issue: String?
        @Option(help: "The community.") var community: String
        @Option(help: "community:ID, compound:NAME or building:NAME.") var scope: String
        @Option(help: "A short title.") var title: String
        @Option(help: "What the issue is.") var description: String
        @Option(help: "A category such as parking, pets, lift, renovation.") var category: String
        @Option(help: "How it reached the community.") var channel: Channel = .other
        static let contractCommand = "issue.propose"
        func fields() throws -> [String: JSONValue] {
            return [
                "issue": .string(issue ?? generatedId("issue")), "community": .string(community), "scope": try parseScope(scope),
                "title": .string(title), "description": .string(description), "category": .string(category), "channel": .string(channel.rawValue),
            ]
        }
    }

    struct Comment: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "comment",
            abstract: "A resident's view on an issue (征求意见).",
            discussion: "Example: linli issue comment --issue lift-3 --resident r-88 --stance support --text 老人爬楼难 --as r-88")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        @Option(help: "The resident.") var resident: String
        @Option(help: "The resident's stance.") var stance: Stance
        @Option(help: "The comment.") var text: String
        static let contractCommand = "issue.comment"
        func fields() throws -> [String: JSONValue] {
            return ["issue": .string(issue), "resident": .string(resident), "stance": .string(stance.rawValue), "text": .string(text)]
        }
    }

    struct Assess: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "assess",
            abstract: "Score an issue 1–5 on importance, urgency and feasibility.",
            discussion: "Example: linli issue assess --issue lift-3 --importance 5 --urgency 4 --feasibility 3 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        @Option(help: "1–5.") var importance: Int64
        @Option(help: "1–5.") var urgency: Int64
        @Option(help: "1–5.") var feasibility: Int64
        static let contractCommand = "issue.assess"
        func fields() throws -> [String: JSONValue] {
            return ["issue": .string(issue), "importance": .int(importance), "urgency": .int(urgency), "feasibility": .int(feasibility)]
        }
    }

    struct Admit: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "admit",
            abstract: "Put an assessed (or rejected-by-vote) issue on the agenda.", discussion: "Example: linli issue admit --issue lift-3 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        @Option(help: "Why, if worth saying.") var reason: String?
        static let contractCommand = "issue.admit"
        func fields() throws -> [String: JSONValue] { ["issue": .string(issue)].merging(reason.map { ["reason": .string($0)] } ?? [:]) { $1 } }
    }

    struct Decline: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "decline",
            abstract: "Decline an issue.", discussion: "Example: linli issue decline --issue i-9 --reason 不属于社区事务 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        @Option(help: "Why.") var reason: String?
        static let contractCommand = "issue.decline"
        func fields() throws -> [String: JSONValue] { ["issue": .string(issue)].merging(reason.map { ["reason": .string($0)] } ?? [:]) { $1 } }
    }

    struct Merge: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Merge a duplicate into another live issue; its comments carry over.",
            discussion: "Example: linli issue merge --issue i-9 --into lift-3 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The duplicate.") var issue: String
        @Option(help: "The surviving issue.") var into: String
        @Option(help: "Why.") var reason: String?
        static let contractCommand = "issue.merge"
        func fields() throws -> [String: JSONValue] {
            return ["issue": .string(issue), "into": .string(into)].merging(reason.map { ["reason": .string($0)] } ?? [:]) { $1 }
        }
    }
}

struct Issues: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issues",
        abstract: "The issue library by priority (highest first, unassessed last).",
        discussion: "Example: linli issues --state onAgenda --community zigang --json")
    @OptionGroup var store: StoreOptions
    @OptionGroup var output: FormatOptions
    @OptionGroup var asOf: AsOfOptions
    @Option(help: "Only issues in this state.") var state: String?
    @Option(help: "Only this community's issues.") var community: String?
    func run() throws {
        let engine = try asOf.engine(store, for: .deliberation)
        let issues = try engine.issues(state: state, community: community)
        let nowMs = asOf.now?.epochMilliseconds ?? Int64(Date().timeIntervalSince1970 * 1000)
        emit(
            output.format,
            json: .array(
                issues.map {
                    [
                        "issue": .string($0.issue), "state": .string($0.state), "priority": $0.priority, "title": .string($0.title),
                        "community": .string($0.community), "support": .int($0.support), "oppose": .int($0.oppose),
                    ]
                }),
            header: ["issue", "state", "priority", "days in state", "support", "oppose", "title"],
            rows: issues.map {
                [$0.issue, $0.state, $0.priority.plain, "\(max(0, nowMs - $0.stateSinceMs) / 86_400_000)", "\($0.support)", "\($0.oppose)", $0.title]
            },
            rightAligned: [2, 3, 4, 5])
    }
}

struct Meeting: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meeting",
        abstract: "Meetings on an issue: schedule, attend, opinion, close (the engine tallies by the meeting's rule).",
        discussion: """
            Example:
              linli meeting schedule --meeting m-1 --issue lift-3 --format ownersAssembly --rule doubleMajorityMajor --starts-at 2024-05-10T19:00:00+08:00 --as cv-01
              linli meeting attend --meeting m-1 --participant r-88 --role owner --as cv-01
              linli meeting close --meeting m-1 --resolution 同意加装电梯 --as cv-01
            """,
        subcommands: [Schedule.self, Attend.self, Opinion.self, Close.self])

    struct Schedule: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "schedule",
            abstract: "Schedule a meeting on an issue that is on the agenda.",
            discussion:
                "Example: linli meeting schedule --meeting m-1 --issue lift-3 --format triParty --rule simpleMajority --starts-at 2024-05-10T19:00:00+08:00 --as cv-01"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The meeting id (default: generated).") var meeting: String?
        @Option(help: "The issue.") var issue: String
        @Option(help: "The meeting's format.") var format: MeetingFormat
        @Option(help: "The voting rule.") var rule: VotingRule
        @Option(help: "When it starts, ISO 8601 with offset.") var startsAt: String
        static let contractCommand = "meeting.schedule"
        func fields() throws -> [String: JSONValue] {
            return [
                "meeting": .string(meeting ?? generatedId("meeting")), "issue": .string(issue), "format": .string(format.rawValue),
                "rule": .string(rule.rawValue), "startsAt": .string(startsAt),
            ]
        }
    }

    struct Attend: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "attend",
            abstract: "Record who attends, and as what.",
            discussion:
                "Roles: resident, owner, propertyCompany, ownersCommittee, socialOrg, child, expert, elderAdvisor, official. Example: linli meeting attend --meeting m-1 --participant r-88 --role owner --as cv-01"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The meeting.") var meeting: String
        @Option(help: "The participant.") var participant: String
        @Option(help: "Their role in the meeting.") var role: AttendeeRole
        static let contractCommand = "meeting.attend"
        func fields() throws -> [String: JSONValue] { ["meeting": .string(meeting), "participant": .string(participant), "role": .string(role.rawValue)] }
    }

    struct Opinion: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "opinion",
            abstract: "Record an attendee's opinion (children, experts and officials speak here).",
            discussion: "Example: linli meeting opinion --meeting m-1 --participant lawyer-1 --text 需业主表决 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The meeting.") var meeting: String
        @Option(help: "The attendee.") var participant: String
        @Option(help: "What they said.") var text: String
        static let contractCommand = "meeting.opinion"
        func fields() throws -> [String: JSONValue] { ["meeting": .string(meeting), "participant": .string(participant), "text": .string(text)] }
    }

    struct Close: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "close",
            abstract: "Close a meeting: tally by its rule; the issue is resolved or rejected by vote.",
            discussion: "Example: linli meeting close --meeting m-1 --resolution 同意加装电梯 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The meeting.") var meeting: String
        @Option(help: "The resolution put to the vote.") var resolution: String
        static let contractCommand = "meeting.close"
        func fields() throws -> [String: JSONValue] { ["meeting": .string(meeting), "resolution": .string(resolution)] }
    }
}

struct Vote: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vote", abstract: "Votes.", subcommands: [Cast.self])

    struct Cast: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "cast",
            abstract: "Cast a vote (one per participant; a later vote before close replaces it).",
            discussion:
                "By the participant, or by a convener from a paper ballot. Example: linli vote cast --meeting m-1 --participant r-88 --choice for --as r-88")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The meeting.") var meeting: String
        @Option(help: "The voter.") var participant: String
        @Option(help: "The vote.") var choice: VoteChoice
        static let contractCommand = "vote.cast"
        func fields() throws -> [String: JSONValue] { ["meeting": .string(meeting), "participant": .string(participant), "choice": .string(choice.rawValue)] }
    }
}

struct Outcome: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outcome",
        abstract: "The closed loop: submit a resolution, record progress, implementation and the residents' evaluation.",
        discussion: "Example: linli outcome progress --issue lift-3 --percent 40 --note 井道施工 --as cv-01",
        subcommands: [Submit.self, Progress.self, Implement.self, Evaluate.self])

    struct Submit: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit",
            abstract: "Submit a resolved issue to a department.", discussion: "Example: linli outcome submit --issue lift-3 --department 住建局 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        @Option(help: "The department.") var department: String
        static let contractCommand = "outcome.submit"
        func fields() throws -> [String: JSONValue] { ["issue": .string(issue), "department": .string(department)] }
    }

    struct Progress: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "progress",
            abstract: "Record progress, 0–100, never decreasing.",
            discussion: "Example: linli outcome progress --issue lift-3 --percent 40 --note 井道施工 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        @Option(help: "Percent done.") var percent: Int64
        @Option(help: "What was done.") var note: String = ""
        static let contractCommand = "outcome.progress"
        func fields() throws -> [String: JSONValue] { ["issue": .string(issue), "percent": .int(percent), "note": .string(note)] }
    }

    struct Implement: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "implement",
            abstract: "Mark an issue implemented.", discussion: "Example: linli outcome implement --issue lift-3 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        static let contractCommand = "outcome.implement"
        func fields() throws -> [String: JSONValue] { ["issue": .string(issue)] }
    }

    struct Evaluate: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "evaluate",
            abstract: "A resident's evaluation, 1–5; it closes the loop.",
            discussion: "Example: linli outcome evaluate --issue lift-3 --evaluator r-88 --satisfaction 5 --as cv-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The issue.") var issue: String
        @Option(help: "The evaluating resident.") var evaluator: String
        @Option(help: "1–5.") var satisfaction: Int64
        static let contractCommand = "outcome.evaluate"
        func fields() throws -> [String: JSONValue] { ["issue": .string(issue), "evaluator": .string(evaluator), "satisfaction": .int(satisfaction)] }
    }
}
