import LinliStore

/// 龙游 河西街社区 (一老一策，分级助老): 7,616 residents in 2,101 households, more than half aged 60 or older, in six
/// compounds and three villages; every elder surveyed in five sections, tiered under the policy, given a
/// plan, and served daily — by others (a canteen, a clinic), by themselves (day-care training) and by
/// neighbours (silver volunteers, whose hours earn points); door-knock visits with concerns; the
/// community enterprise's (强社公司) income into the elder-services fund.
struct HexiPilot {
    let scale: PilotFixtures.Scale
    let c = "hexi"
    static let places = ["河西一区", "河西二区", "河西三区", "凤翔小区", "龙珠苑", "滨江花园", "河西村", "塔石村", "驿前村"]
    static let conditions = ["高血压", "糖尿病", "关节炎", "冠心病", "慢阻肺", "白内障", "骨质疏松"]

    func write(_ out: inout FixtureWriter) {
        // In this order: the random draws, and so the sample, depend on it.
        registerNetwork(&out)
        let people = registerPeople(&out)
        let elders = people.filter { $0.birthYear <= 1963 }
        let silver = formTeams(elders, &out)
        let plans = surveyAndPlan(elders, silver: silver, &out)
        serveDaily(plans, people: people, silver: silver, &out)
        writeMistakes(elders, &out)
    }

    /// A resident as the generator keeps them: where they live, for the grid worker who registers them.
    private struct Person { let id: String; let birthYear: Int; let place: Int; let household: Int }
    /// An elder's plan: services with their days a week, from the day it was set.
    private struct Plan { let elder: String; let services: [(String, Int)]; let day: Int }

    /// Staff, rates, the default tier policy, the organisations and the 1+N station network.
    private func registerNetwork(_ out: inout FixtureWriter) {
        let admin = PilotFixtures.admin
        out.command("community.register", admin, day: -40, minute: 540, [("community", .string(c)), ("name", "龙游县河西街社区"), ("district", "龙游县东华街道")])
        let staff = [
            ("sw-hx-1", "socialWorker"), ("sw-hx-2", "socialWorker"), ("sw-hx-3", "socialWorker"), ("gw-hx-1", "gridWorker"), ("gw-hx-2", "gridWorker"),
            ("gw-hx-3", "gridWorker"), ("gw-hx-4", "gridWorker"), ("gw-hx-5", "gridWorker"), ("gw-hx-6", "gridWorker"), ("au-hx-1", "auditor"),
        ]
        for (subject, role) in staff {
            out.command("role.grant", admin, day: -40, minute: 560, [("subject", .string(subject)), ("role", .string(role)), ("community", .string(c))])
        }
        out.command("points.rate.set", admin, day: -1, minute: 0, [("community", .string(c)), ("pointsPerHour", 10)])
        out.model.rates.append(("*", FixtureWriter.ms(-1, 0), 10))
        out.command("points.rate.set", admin, day: -1, minute: 0, [("community", .string(c)), ("category", "mutualHelp"), ("pointsPerHour", 12)])
        out.model.rates.append(("mutualHelp", FixtureWriter.ms(-1, 0), 12))
        // The default tier policy, recorded as an event so that every tier can cite it.
        out.command(
            "elder.tier.policy", admin, day: -35, minute: 0,
            [
                ("community", .string(c)), ("livingAloneRaise", 1),
                (
                    "bands",
                    [
                        ["minAdl": 100, "maxAdl": 100, "tier": 0], ["minAdl": 61, "maxAdl": 99, "tier": 1], ["minAdl": 41, "maxAdl": 60, "tier": 2],
                        ["minAdl": 0, "maxAdl": 40, "tier": 3],
                    ]
                ),
            ])
        for (id, name) in [("canteen-hx", "河西长者食堂"), ("qiangshe-hx", "河西强社公司"), ("clinic-hx", "河西社区卫生服务站")] {
            out.command(
                "organization.register", admin, day: -35, minute: 600,
                [
                    ("organization", .string(id)), ("community", .string(c)), ("name", .string(name)),
                    ("kind", id == "clinic-hx" ? "socialOrg" : "business"),
                ])
        }
        // The 1+N network: a hub and a station in every compound and village.
        out.command(
            "station.register", admin, day: -35, minute: 660,
            [
                ("station", "hub-hx"), ("community", .string(c)), ("kind", "hub"), ("name", "河西街邻里中心"),
                ("functions", ["助餐", "日间照料", "应急设备", "健康监测"]),
            ])
        for (index, place) in Self.places.enumerated() {
            var functions: [JSONValue] = ["助餐点"]
            if index % 2 == 0 { functions.append("应急设备") }
            if index % 3 == 0 { functions.append("理发") }
            out.command(
                "station.register", admin, day: -35, minute: 670 + index,
                [
                    ("station", .string("st-hx-\(index + 1)")), ("community", .string(c)), ("kind", "station"),
                    ("name", .string(place + "服务站")), ("functions", .array(functions)),
                ])
        }
    }

    /// Residents: more than half aged 60 or older.
    private func registerPeople(_ out: inout FixtureWriter) -> [Person] {
        var people: [Person] = []
        for index in 0..<scale.hexiResidents {
            let household = index * scale.hexiHouseholds / scale.hexiResidents
            let birthYear = out.rng.chance(55) ? out.rng.between(1928, 1963) : out.rng.between(1964, 2020)
            let place = household % Self.places.count
            let id = "r-hx-\(index + 1)"
            out.command(
                "resident.register", "gw-hx-\(place % 6 + 1)", day: -34 + index % 30, minute: 540 + index % 400,
                [
                    ("resident", .string(id)), ("community", .string(c)), ("household", .string("h-hx-\(household + 1)")),
                    ("name", .string(FixtureNames.name(index + 7))),
                    ("birthYear", .int(Int64(birthYear))), ("compound", .string(Self.places[place])), ("building", .string("\(household % 9 + 1)幢")),
                ])
            people.append(Person(id: id, birthYear: birthYear, place: place, household: household))
        }
        return people
    }

    /// The silver volunteers and the door-knock teams; returns the silver volunteers.
    private func formTeams(_ elders: [Person], _ out: inout FixtureWriter) -> [String] {
        let admin = PilotFixtures.admin
        // Door-knock teams (a social worker, two grid workers, neighbours) and the silver volunteers.
        let silver = elders.filter { $0.birthYear >= 1953 }.prefix(max(4, elders.count / 12)).map(\.id)
        out.command(
            "team.form", admin, day: -5, minute: 540,
            [
                ("team", "silver-hx"), ("community", .string(c)), ("name", "银龄互助队"), ("kind", "silverVolunteers"),
                ("members", .array(silver.map { .string($0) })),
            ])
        for team in 1...3 {
            out.command(
                "team.form", admin, day: -5, minute: 550 + team,
                [
                    ("team", .string("knock-hx-\(team)")), ("community", .string(c)), ("name", .string("敲门嫂\(team)队")),
                    ("kind", "doorKnock"), ("members", .array(["sw-hx-\(team)", "gw-hx-\(team)", "gw-hx-\(team + 3)"].map { .string($0) })),
                ])
        }
        return silver
    }

    /// Surveys in the first weeks (five sections), then plans by tier.
    private func surveyAndPlan(_ elders: [Person], silver: [String], _ out: inout FixtureWriter) -> [Plan] {
        var plans: [Plan] = []
        let surveyDays = max(1, min(20, scale.hexiDays / 2))
        for (index, elder) in elders.enumerated() {
            let roll = out.rng.below(100)
            let adl = roll < 60 ? 100 : roll < 85 ? out.rng.between(61, 99) : roll < 95 ? out.rng.between(41, 60) : out.rng.between(5, 40)
            let alone = out.rng.chance(15)
            var tier = adl == 100 ? 0 : adl >= 61 ? 1 : adl >= 41 ? 2 : 3
            if alone { tier = min(3, tier + 1) }
            var needs: [JSONValue] = []
            if tier >= 1 { needs += ["mealDelivery", "companionship"] }
            if tier >= 2 { needs += ["cleaning", "emergencyAlarm"] }
            if tier == 0 && out.rng.chance(30) { needs.append("dayCare") }
            if out.rng.chance(10) { needs.append("haircut") }
            let conditionCount = adl == 100 ? out.rng.below(2) : out.rng.between(1, 3)
            let conditions = Array(Set((0..<conditionCount).map { _ in out.rng.pick(Self.conditions) })).sorted()
            let day = index % surveyDays
            out.command(
                "elder.survey", "sw-hx-\(index % 3 + 1)", day: day, minute: 540 + index % 480,
                [
                    ("elder", .string(elder.id)),
                    (
                        "basic",
                        [
                            "livingAlone": .bool(alone), "household": .string("h-hx-\(elder.household + 1)"), "address": .string(Self.places[elder.place]),
                            "children": .string(out.rng.pick(["同住", "在本市", "在外地", "无"])),
                        ]
                    ),
                    ("health", ["adl": .int(Int64(adl)), "conditions": .array(conditions.map { .string($0) })]),
                    ("needs", .array(needs)),
                    ("serviceWillingness", ["willing": .bool(tier > 0 || out.rng.chance(40))]),
                    ("workWillingness", ["willing": .bool(silver.contains(elder.id) || (adl == 100 && out.rng.chance(20))), "notes": "可参与邻里互助"]),
                ])
            out.model.tiers[elder.id] = tier
            var services: [(String, Int)]
            switch tier {
            case 0: services = [("dayCare", out.rng.between(3, 5))]
            case 1: services = [("mealDelivery", out.rng.between(3, 5)), ("companionship", 1)]
            default: services = [("mealDelivery", 7), ("companionship", 2), ("cleaning", 1)]
            }
            out.command(
                "elder.plan.set", "sw-hx-\(index % 3 + 1)", day: day, minute: 1_020,
                [
                    ("elder", .string(elder.id)), ("services", .array(services.map { ["service": .string($0.0), "perWeek": .int(Int64($0.1))] })),
                ])
            plans.append(Plan(elder: elder.id, services: services, day: day))
            // A social worker overrides a few tiers after a hospital stay.
            if index % 97 == 13 {
                out.command("elder.tier.assign", "sw-hx-1", day: day, minute: 1_100, [("elder", .string(elder.id)), ("tier", 3), ("reason", "出院后卧床，需加强照护")])
                out.model.tiers[elder.id] = 3
            }
        }
        return plans
    }

    /// Daily services by plan, visits, and the enterprise's income into the elder fund.
    private func serveDaily(_ plans: [Plan], people: [Person], silver: [String], _ out: inout FixtureWriter) {
        let placeOf = Dictionary(uniqueKeysWithValues: people.map { ($0.id, $0.place) })
        var n = 0
        for day in 0..<scale.hexiDays {
            // Daily services: each planned service on perWeek days of 7, most of the time (some fall behind).
            for plan in plans where day > plan.day {
                for (service, perWeek) in plan.services where out.rng.below(7 * 100) < perWeek * 93 {
                    n += 1
                    let mode: String, provider: String
                    switch service {
                    case "dayCare": (mode, provider) = ("self", plan.elder)
                    case "companionship":
                        if out.rng.chance(70) {
                            let v = out.rng.pick(silver); (mode, provider) = v == plan.elder ? ("other", "clinic-hx") : ("mutual", v)
                        } else {
                            (mode, provider) = ("other", "clinic-hx")
                        }
                    case "mealDelivery":
                        if out.rng.chance(25) {
                            let v = out.rng.pick(silver); (mode, provider) = v == plan.elder ? ("other", "canteen-hx") : ("mutual", v)
                        } else {
                            (mode, provider) = ("other", "canteen-hx")
                        }
                    default: (mode, provider) = ("other", "canteen-hx")
                    }
                    let minutes =
                        service == "mealDelivery" ? out.rng.between(15, 30) : service == "dayCare" ? out.rng.between(60, 180) : out.rng.between(30, 90)
                    let minute = service == "mealDelivery" ? out.rng.between(650, 720) : out.rng.between(540, 1_020)
                    var fields: [(String, JSONValue)] = [
                        ("delivery", .string("dl-hx-\(n)")), ("elder", .string(plan.elder)), ("service", .string(service)),
                        ("provider", .string(provider)), ("mode", .string(mode)), ("minutes", .int(Int64(minutes))),
                    ]
                    if service == "dayCare" || (service == "mealDelivery" && mode == "other" && out.rng.chance(50)) {
                        fields.append(("station", .string(service == "dayCare" ? "hub-hx" : "st-hx-\(placeOf[plan.elder]! + 1)")))
                    }
                    out.command("service.deliver", "gw-hx-\((placeOf[plan.elder] ?? 0) % 6 + 1)", day: day, minute: minute, fields)
                    if mode == "mutual" {
                        out.model.credit(provider, minutes: Int64(minutes), category: EldersDomain.mutualHelpCategory, atMs: FixtureWriter.ms(day, minute))
                    }
                }
            }
            // Door-knock visits to the frailest; a concern is followed up within days.
            for (index, plan) in plans.enumerated() where plan.services.count == 3 && day > plan.day && (index + day) % 14 == 0 {
                n += 1
                let team = index % 3 + 1
                let concern = out.rng.chance(15)
                out.command(
                    "visit.log", "gw-hx-\(team)", day: day, minute: 1_080,
                    [
                        ("visit", .string("visit-hx-\(n)")), ("elder", .string(plan.elder)), ("visitor", .string("gw-hx-\(team)")),
                        ("team", .string("knock-hx-\(team)")),
                        ("observations", .string(concern ? out.rng.pick(["腿脚浮肿，建议就医", "家中燃气未关", "情绪低落，独自哭泣"]) : out.rng.pick(["精神良好", "家中整洁", "按时服药"]))),
                        ("concern", .bool(concern)),
                    ])
            }
            // Monthly: the community enterprise's income funds elder services; the canteen is paid from it.
            if day % 30 == 10 {
                let income = Int64(out.rng.between(2_000, 5_000) * 100)
                out.command(
                    "fund.income", "sw-hx-1", day: day, minute: 900,
                    [("fund", "elder-fund-hx"), ("community", .string(c)), ("source", "enterprise"), ("amountFen", .int(income))])
                out.model.fundFen += income
                let paid = out.model.fundFen * 6 / 10
                out.command(
                    "fund.disburse", "sw-hx-1", day: day, minute: 930,
                    [("fund", "elder-fund-hx"), ("beneficiary", "canteen-hx"), ("amountFen", .int(paid)), ("purpose", "老年助餐补贴")])
                out.model.fundFen -= paid
            }
        }
    }

    /// Mistakes: an ADL score out of range, a mutual delivery by the elder themselves.
    private func writeMistakes(_ elders: [Person], _ out: inout FixtureWriter) {
        if let first = elders.first {
            out.command(
                "elder.survey", "sw-hx-1", day: scale.hexiDays, minute: 600,
                [
                    ("elder", .string(first.id)), ("basic", ["livingAlone": false]), ("health", ["adl": 120]), ("needs", []),
                    ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
                ], mistake: Rejection.Reason.invalidField.rawValue)
            out.command(
                "service.deliver", "gw-hx-1", day: scale.hexiDays, minute: 610,
                [
                    ("delivery", "dl-hx-mistake"), ("elder", .string(first.id)), ("service", "cleaning"), ("provider", .string(first.id)), ("mode", "mutual"),
                    ("minutes", 30),
                ], mistake: Rejection.Reason.invalidField.rawValue)
        }
    }
}
