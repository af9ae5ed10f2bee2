import LinliStore

/// Deterministic NDJSON command files for the three Quzhou pilots, shaped like the communities the seed
/// describes: 江山 市中心社区 (volunteer hours, the charity store, wishes, a care fund, mediation), 龙游 河西街社区
/// (elders surveyed, tiered and served daily in three modes) and 常山 紫港社区 (the four-step issue library).
///
/// The same seed and scale give the same bytes on every machine. Each pilot's file is self-contained after
/// the store's `init` (admin ``admin``). A few lines are realistic mistakes the engine must reject; their
/// command ids start with `mistake-` and ``Expected/rejections`` lists them with their reason codes.
/// The generator keeps its own model of balances, stock, tiers and issue states, computed apart from the
/// engine, and reports the headline figures the engine must reproduce (``Expected``).
public struct PilotFixtures: Sendable {
    /// The administrator every fixture expects `linli init --admin` to have made.
    public static let admin = "admin-1"
    /// The pilots, in the order their files are applied.
    public static let pilots = ["jiangshan", "hexi", "zigang"]

    /// How big each pilot is.
    public struct Scale: Sendable {
        public var jiangshanResidents: Int
        public var jiangshanDays: Int
        /// Volunteer-hours logs per day in Jiangshan.
        public var hoursPerDay: Int
        public var hexiResidents: Int
        public var hexiHouseholds: Int
        public var hexiDays: Int
        public var zigangResidents: Int
        /// Rounds of the issue library's ten archetypal issues.
        public var zigangIssueRounds: Int

        public init(
            jiangshanResidents: Int, jiangshanDays: Int, hoursPerDay: Int, hexiResidents: Int, hexiHouseholds: Int, hexiDays: Int,
            zigangResidents: Int, zigangIssueRounds: Int
        ) {
            self.jiangshanResidents = jiangshanResidents
            self.jiangshanDays = jiangshanDays
            self.hoursPerDay = hoursPerDay
            self.hexiResidents = hexiResidents
            self.hexiHouseholds = hexiHouseholds
            self.hexiDays = hexiDays
            self.zigangResidents = zigangResidents
            self.zigangIssueRounds = zigangIssueRounds
        }

        /// The committed sample (`Fixtures/sample`): small, a few thousand commands.
        public static let sample = Scale(
            jiangshanResidents: 160, jiangshanDays: 60, hoursPerDay: 8, hexiResidents: 380, hexiHouseholds: 105,
            hexiDays: 21, zigangResidents: 180, zigangIssueRounds: 1)
        /// The seed's sizes: Hexi's 7,616 residents in 2,101 households served daily for a year (≈ 1.5M events).
        public static let full = Scale(
            jiangshanResidents: 3_000, jiangshanDays: 365, hoursPerDay: 120, hexiResidents: 7_616, hexiHouseholds: 2_101,
            hexiDays: 365, zigangResidents: 2_400, zigangIssueRounds: 20)
    }

    /// The figures the generator's own model expects the engine to show after applying every file.
    public struct Expected: Sendable {
        /// Lines written, per pilot.
        public var lines: [String: Int] = [:]
        /// Points issued (Σ issuance postings), redeemed (Σ store balances) and outstanding (Σ resident balances).
        public var pointsIssued: Int64 = 0, pointsRedeemed: Int64 = 0, pointsOutstanding: Int64 = 0
        /// Issues by state.
        public var issuesByState: [String: Int] = [:]
        /// Elders by tier (as text, "0"…"3").
        public var eldersByTier: [String: Int] = [:]
        /// Disputes by state.
        public var disputesByState: [String: Int] = [:]
        /// The marked mistakes: pilot, 1-based line, reason code.
        public var rejections: [(pilot: String, line: Int, reason: String)] = []

        /// The figures as the JSON committed beside the sample.
        public var json: JSONValue {
            func counts(_ map: [String: Int]) -> JSONValue { .object(map.keys.sorted().map { ($0, .int(Int64(map[$0]!))) }) }
            return [
                "lines": counts(lines), "pointsIssued": .int(pointsIssued), "pointsRedeemed": .int(pointsRedeemed),
                "pointsOutstanding": .int(pointsOutstanding), "issuesByState": counts(issuesByState), "eldersByTier": counts(eldersByTier),
                "disputesByState": counts(disputesByState),
                "rejections": .array(rejections.map { ["pilot": .string($0.pilot), "line": .int(Int64($0.line)), "reason": .string($0.reason)] }),
            ]
        }
    }

    public let seed: UInt64
    public let scale: Scale

    /// A generator.
    public init(seed: UInt64 = 20_240_301, scale: Scale = .sample) {
        self.seed = seed
        self.scale = scale
    }

    /// Generates every pilot, handing each line to `emit(pilot, line)`, and returns the expected figures.
    public func generate(_ emit: @escaping (String, String) -> Void) -> Expected {
        var expected = Expected()
        for (index, pilot) in Self.pilots.enumerated() {
            var out = FixtureWriter(pilot: pilot, seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15, emit: { emit(pilot, $0) })
            switch pilot {
            case "jiangshan": JiangshanPilot(scale: scale).write(&out)
            case "hexi": HexiPilot(scale: scale).write(&out)
            default: ZigangPilot(scale: scale).write(&out)
            }
            expected.lines[pilot] = out.lineCount
            expected.pointsIssued += out.model.issued
            expected.pointsRedeemed += out.model.redeemed
            expected.pointsOutstanding += out.model.balances.values.reduce(0, +)
            for (state, count) in out.model.issueStates.values.reduce(into: [String: Int](), { $0[$1, default: 0] += 1 }) {
                expected.issuesByState[state, default: 0] += count
            }
            for (state, count) in out.model.disputeStates.values.reduce(into: [String: Int](), { $0[$1, default: 0] += 1 }) {
                expected.disputesByState[state, default: 0] += count
            }
            for tier in out.model.tiers.values { expected.eldersByTier[String(tier), default: 0] += 1 }
            expected.rejections += out.mistakes.map { (pilot, $0.line, $0.reason) }
        }
        return expected
    }
}

/// What the generator tracks so that it writes only valid commands (besides the marked mistakes) and knows
/// the figures the engine must reach.
struct FixtureModel {
    var balances: [String: Int64] = [:]
    var issued: Int64 = 0
    var redeemed: Int64 = 0
    var stock: [String: Int64] = [:]
    var fundFen: Int64 = 0
    var tiers: [String: Int] = [:]
    var issueStates: [String: String] = [:]
    var disputeStates: [String: String] = [:]
    /// Rates: (category or "*", from ms, points per hour), in the order set.
    var rates: [(category: String, fromMs: Int64, perHour: Int64)] = []

    func rate(category: String, atMs: Int64) -> Int64? {
        for scope in [category, "*"] {
            if let found = rates.filter({ $0.category == scope && $0.fromMs <= atMs }).max(by: { $0.fromMs < $1.fromMs }) { return found.perHour }
        }
        return nil
    }

    /// Credits verified hours as the ledger does: floor(minutes × rate / 60).
    mutating func credit(_ resident: String, minutes: Int64, category: String, atMs: Int64) {
        let points = minutes * (rate(category: category, atMs: atMs) ?? 0) / 60
        balances[resident, default: 0] += points
        issued += points
    }
}

/// Writes one pilot's lines with unique command ids, occurred times from 1 September 2023 (+08:00), a
/// seeded generator, and the model.
struct FixtureWriter {
    let pilot: String
    var rng: FixtureRandom
    let emit: (String) -> Void
    var lineCount = 0
    var model = FixtureModel()
    var mistakes: [(line: Int, reason: String)] = []
    var lastLines: [String: String] = [:]

    /// 2023-09-01T00:00:00+08:00.
    static let startMs: Int64 = 1_693_497_600_000

    init(pilot: String, seed: UInt64, emit: @escaping (String) -> Void) {
        self.pilot = pilot
        self.rng = FixtureRandom(seed)
        self.emit = emit
    }

    /// The ISO 8601 time of a day (0 = 1 September 2023) and minute of the day, in China Standard Time.
    static func time(_ day: Int, _ minute: Int) -> String {
        Timestamp(epochMilliseconds: ms(day, minute), offsetMinutes: Timestamp.shanghaiOffsetMinutes).iso8601
    }

    static func ms(_ day: Int, _ minute: Int) -> Int64 { startMs + Int64(day) * 86_400_000 + Int64(minute) * 60_000 }

    /// Writes a command line; a `mistake` is marked by its id and listed with the reason it must get.
    mutating func command(_ name: String, _ actor: String, day: Int, minute: Int, _ fields: [(String, JSONValue)], mistake: String? = nil, id: String? = nil) {
        lineCount += 1
        let commandId = id ?? (mistake == nil ? "\(pilot)-\(lineCount)" : "mistake-\(pilot)-\(lineCount)")
        let line = JSONValue.object(
            [
                ("command", .string(name)), ("id", .string(commandId)), ("actor", .string(actor)),
                ("at", .string(Self.time(day, minute))),
            ] + fields
        ).text
        if let mistake { mistakes.append((lineCount, mistake)) }
        emit(line)
    }
}

/// SplitMix64, so that fixtures are the same bytes on every platform.
struct FixtureRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    /// true with probability percent/100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    mutating func between(_ low: Int, _ high: Int) -> Int { low + below(high - low + 1) }
}

/// Chinese names from common surnames and given names.
enum FixtureNames {
    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭", "何", "林", "罗", "郑", "毛", "汪", "姜", "余"]
    static let given = [
        "秀英", "建国", "桂兰", "志强", "玉梅", "国华", "丽娟", "文斌", "春梅", "海燕", "德明", "淑珍", "子涵", "浩然", "雨桐", "金花",
        "明辉", "美玲", "天佑", "小军", "凤英", "永福", "雪芳", "家豪", "佳怡", "长生", "秋菊", "宇轩", "兰英", "红梅",
    ]
    static func name(_ index: Int) -> String { surnames[index % surnames.count] + given[(index / surnames.count + index * 7) % given.count] }
}
