/// The voting rules of DOMAIN.md, in exact integer arithmetic.
///
/// Every threshold is a comparison of cross-multiplied whole numbers (`for × 2 > cast`, `area × 3 ≥
/// total × 2`), never a division, so that a tally replayed years later on another machine gives the same
/// answer at the exact boundaries (half, two thirds, three quarters).
public enum VotingRule: String, Sendable, CaseIterable {
    /// More than half of the votes cast are `for` (abstentions count as cast).
    case simpleMajority
    /// At least two thirds of the votes cast are `for`.
    case twoThirds
    /// Civil Code art. 278: participation by ≥ 2/3 of owners and ≥ 2/3 of area; then more than half of the
    /// participating owners and of the participating area vote `for`.
    case doubleMajority
    /// As ``doubleMajority`` but at least three quarters of each (maintenance funds, rebuilding, changing
    /// the use of common parts).
    case doubleMajorityMajor

    /// Whether the rule counts owners and area (owners' assemblies only).
    public var isDoubleMajority: Bool { self == .doubleMajority || self == .doubleMajorityMajor }
}

/// One condition of a rule and whether it was met: `numerator / denominator` compared with a fraction.
public struct TallyCondition: Sendable, Equatable {
    /// The condition's name: `votesCast`, `forVotes`, `participationOwners`, `participationArea`,
    /// `forOwners`, `forArea`.
    public var name: String
    /// Whether it was met.
    public var met: Bool
    /// The counted part (votes for, owners taking part, area for…).
    public var numerator: Int64
    /// The whole it is measured against.
    public var denominator: Int64
    /// The threshold as text: `>1/2`, `>=2/3`, `>=3/4`, `>0`.
    public var threshold: String

    var json: JSONValue {
        [
            "condition": .string(name), "met": .bool(met), "numerator": .int(numerator), "denominator": .int(denominator),
            "threshold": .string(threshold),
        ]
    }
}

/// A meeting's full tally: the counts, the owners and areas, every condition of its rule, and the result.
public struct Tally: Sendable, Equatable {
    /// The rule applied.
    public var rule: VotingRule
    /// Votes cast (the latest vote of each participant; `abstain` included).
    public var votesCast: Int64 = 0
    /// Votes `for`, `against` and `abstain`.
    public var forVotes: Int64 = 0, againstVotes: Int64 = 0, abstainVotes: Int64 = 0
    /// Owners' assemblies: owners of units in the scope, and the sum of those units' areas.
    public var eligibleOwners: Int64 = 0, totalAreaSqm: Int64 = 0
    /// Owners' assemblies: owners who cast a vote, and their areas in scope.
    public var participatingOwners: Int64 = 0, participatingAreaSqm: Int64 = 0
    /// Owners' assemblies: owners who voted `for`, and their areas in scope.
    public var forOwners: Int64 = 0, forAreaSqm: Int64 = 0
    /// Every condition of the rule, in the order they are checked.
    public var conditions: [TallyCondition] = []

    /// Whether every condition was met.
    public var passed: Bool { !conditions.isEmpty && conditions.allSatisfy(\.met) }
    /// The first condition that failed, if any.
    public var failedCondition: String? { conditions.first { !$0.met }?.name }

    /// One ballot: who voted and how. `areaSqm` is the voter's area in scope (owners' assemblies).
    public struct Ballot: Sendable, Equatable {
        public var participant: String
        public var choice: String
        public var areaSqm: Int64
        public init(participant: String, choice: String, areaSqm: Int64 = 0) {
            self.participant = participant
            self.choice = choice
            self.areaSqm = areaSqm
        }
    }

    /// Tallies `ballots` (one per participant: the latest) under `rule`. For the double-majority rules,
    /// `eligibleOwners` and `totalAreaSqm` are those of the units in the scope, and each ballot
    /// carries the sum of its owner's areas there.
    public init(rule: VotingRule, ballots: [Ballot], eligibleOwners: Int64 = 0, totalAreaSqm: Int64 = 0) {
        self.rule = rule
        precondition(Set(ballots.map(\.participant)).count == ballots.count, "one ballot per participant")
        for ballot in ballots {
            votesCast += 1
            switch ballot.choice {
            case "for": forVotes += 1
            case "against": againstVotes += 1
            default: abstainVotes += 1
            }
        }
        assert(forVotes + againstVotes + abstainVotes == votesCast, "every vote is counted once")
        conditions.append(TallyCondition(name: "votesCast", met: votesCast > 0, numerator: votesCast, denominator: votesCast, threshold: ">0"))
        switch rule {
        case .simpleMajority:
            conditions.append(TallyCondition(name: "forVotes", met: forVotes * 2 > votesCast, numerator: forVotes, denominator: votesCast, threshold: ">1/2"))
        case .twoThirds:
            conditions.append(
                TallyCondition(name: "forVotes", met: forVotes * 3 >= votesCast * 2, numerator: forVotes, denominator: votesCast, threshold: ">=2/3"))
        case .doubleMajority, .doubleMajorityMajor:
            self.eligibleOwners = eligibleOwners
            self.totalAreaSqm = totalAreaSqm
            participatingOwners = votesCast
            participatingAreaSqm = ballots.reduce(0) { $0 + $1.areaSqm }
            forOwners = forVotes
            forAreaSqm = ballots.filter { $0.choice == "for" }.reduce(0) { $0 + $1.areaSqm }
            assert(participatingAreaSqm <= totalAreaSqm && participatingOwners <= eligibleOwners, "voters are among the eligible owners")
            conditions.append(
                TallyCondition(
                    name: "participationOwners", met: participatingOwners * 3 >= eligibleOwners * 2,
                    numerator: participatingOwners, denominator: eligibleOwners, threshold: ">=2/3"))
            conditions.append(
                TallyCondition(
                    name: "participationArea", met: participatingAreaSqm * 3 >= totalAreaSqm * 2,
                    numerator: participatingAreaSqm, denominator: totalAreaSqm, threshold: ">=2/3"))
            let major = rule == .doubleMajorityMajor
            func share(_ part: Int64, _ whole: Int64) -> Bool { major ? part * 4 >= whole * 3 : part * 2 > whole }
            let threshold = major ? ">=3/4" : ">1/2"
            conditions.append(
                TallyCondition(
                    name: "forOwners", met: share(forOwners, participatingOwners),
                    numerator: forOwners, denominator: participatingOwners, threshold: threshold))
            conditions.append(
                TallyCondition(
                    name: "forArea", met: share(forAreaSqm, participatingAreaSqm),
                    numerator: forAreaSqm, denominator: participatingAreaSqm, threshold: threshold))
        }
    }

    /// The tally as stored in `meeting.closed` and shown by `linli issue ID --json`.
    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("rule", .string(rule.rawValue)), ("votesCast", .int(votesCast)), ("for", .int(forVotes)),
            ("against", .int(againstVotes)), ("abstain", .int(abstainVotes)),
        ]
        if rule.isDoubleMajority {
            pairs += [
                ("eligibleOwners", .int(eligibleOwners)), ("totalAreaSqm", .int(totalAreaSqm)),
                ("participatingOwners", .int(participatingOwners)), ("participatingAreaSqm", .int(participatingAreaSqm)),
                ("forOwners", .int(forOwners)), ("forAreaSqm", .int(forAreaSqm)),
            ]
        }
        pairs += [
            ("conditions", .array(conditions.map(\.json))), ("passed", .bool(passed)),
            ("failedCondition", failedCondition.map { .string($0) } ?? .null),
        ]
        return .object(pairs)
    }
}
