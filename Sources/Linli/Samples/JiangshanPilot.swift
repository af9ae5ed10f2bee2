import LinliStore

/// 江山 虎山街道 市中心社区: residents in old compounds with many elders, 46 social organisations, 30+ interest
/// classes, door-knock teams, a mediation team; a year of volunteer hours at changing rates, the charity
/// store with stock running out, transfers to hardship households, micro-wishes and charity sales.
struct JiangshanPilot {
    let scale: PilotFixtures.Scale
    let c = "jiangshan"
    static let compounds = ["鹿溪小区", "江滨新村", "城南老街", "文化弄", "北门小区"]
    static let activities: [(String, String)] = [
        ("敲门入户", "visit"), ("楼道清扫", "clean"), ("爱心理发", "service"), ("法治课堂", "service"),
        ("邻里巡逻", "patrol"), ("陪老人聊天", "visit"), ("垃圾分类督导", "clean"), ("四点半课堂", "service"),
    ]
    static let gifts: [(String, String, Int64, Int64)] = [
        ("rice", "大米5斤", 50, 40), ("oil", "食用油", 60, 30), ("towel", "毛巾", 15, 100),
        ("detergent", "洗衣液", 25, 60), ("notebook", "笔记本", 8, 80), ("haircut", "理发券", 20, 50),
    ]
    static let orgPrefixes = ["阳光", "红船", "邻里", "夕阳红", "巾帼", "青年", "爱心", "银龄", "和美", "书香", "江城", "虎山"]
    static let orgSuffixes = ["志愿服务队", "公益协会", "互助会", "服务社"]
    static let classes = ["书法", "太极", "广场舞", "越剧", "合唱", "剪纸", "摄影", "编织", "象棋", "智能手机", "舞龙", "国画"]

    func write(_ out: inout FixtureWriter) {
        // In this order: the random draws, and so the sample, depend on it.
        registerStaffAndRates(&out)
        let residents = registerResidents(&out)
        let adults = residents.filter { $0.birthYear <= 2007 && $0.birthYear >= 1943 }.map(\.id)
        let hardship = residents.filter { $0.tags.contains("hardship") }.map(\.id)
        let wishful = residents.filter { $0.tags.contains("leftBehindChild") || $0.tags.contains("solitaryElder") }.map(\.id)
        registerGroups(adults, &out)
        var days = Days(adults: adults, hardship: hardship, wishful: wishful)
        for day in 0..<scale.jiangshanDays {
            // In this order each day: the random draws, and so the sample, depend on it.
            restock(day, &days, &out)
            verifyAndLogHours(day, &days, &out)
            redeemAndTransfer(day, &days, &out)
            wishesAndFund(day, &days, &out)
            mediate(day, &days, &out)
        }
        // Realistic mistakes the engine must refuse.
        let poor = adults.first { (out.model.balances[$0] ?? 0) < 50 } ?? adults[0]
        out.command(
            "gift.redeem", "sk-js-1", day: scale.jiangshanDays, minute: 600,
            [("redemption", "rd-js-too-much"), ("resident", .string(poor)), ("item", "rice"), ("quantity", 1)],
            mistake: Rejection.Reason.insufficientBalance.rawValue)
        out.command(
            "hours.log", "gw-js-1", day: scale.jiangshanDays, minute: 610,
            [
                ("log", "log-js-long"), ("volunteer", .string(adults[0])), ("minutes", 800),
                ("activity", "通宵值守"), ("category", "patrol"),
            ], mistake: Rejection.Reason.invalidField.rawValue)
        out.command(
            "community.register", PilotFixtures.admin, day: scale.jiangshanDays, minute: 620,
            [("community", "jiangshan-2"), ("name", "重复"), ("district", "虎山街道")],
            mistake: Rejection.Reason.duplicateCommandId.rawValue, id: "\(out.pilot)-1")
    }

    /// The community, its staff and its rates: 10 points an hour, 15 for door-knocking visits.
    private func registerStaffAndRates(_ out: inout FixtureWriter) {
        let admin = PilotFixtures.admin
        out.command("community.register", admin, day: -30, minute: 540, [("community", .string(c)), ("name", "江山市虎山街道市中心社区"), ("district", "虎山街道")])
        let staff = [
            ("sw-js-1", "socialWorker"), ("sw-js-2", "socialWorker"), ("gw-js-1", "gridWorker"), ("gw-js-2", "gridWorker"), ("gw-js-3", "gridWorker"),
            ("gw-js-4", "gridWorker"), ("sk-js-1", "storeKeeper"), ("md-js-1", "mediator"), ("md-js-2", "mediator"), ("au-js-1", "auditor"),
        ]
        for (subject, role) in staff {
            out.command("role.grant", admin, day: -30, minute: 560, [("subject", .string(subject)), ("role", .string(role)), ("community", .string(c))])
        }
        // Rates: 10 points an hour, 15 for door-knocking visits; the default rises to 12 after four months.
        out.command("points.rate.set", admin, day: -1, minute: 0, [("community", .string(c)), ("pointsPerHour", 10)])
        out.model.rates.append(("*", FixtureWriter.ms(-1, 0), 10))
        out.command("points.rate.set", admin, day: -1, minute: 0, [("community", .string(c)), ("category", "visit"), ("pointsPerHour", 15)])
        out.model.rates.append(("visit", FixtureWriter.ms(-1, 0), 15))
    }

    /// Residents: many elders in the old compounds, children (some left behind), hardship households.
    private func registerResidents(_ out: inout FixtureWriter) -> [(id: String, birthYear: Int, tags: [String])] {
        var residents: [(id: String, birthYear: Int, tags: [String])] = []
        for index in 0..<scale.jiangshanResidents {
            let id = "r-js-\(index + 1)"
            let birthYear = out.rng.chance(35) ? out.rng.between(1932, 1963) : out.rng.between(1964, 2018)
            var tags: [String] = []
            if out.rng.chance(5) { tags.append("hardship") }
            if birthYear <= 1953 && out.rng.chance(20) { tags.append("solitaryElder") }
            if birthYear >= 2010 && out.rng.chance(30) { tags.append("leftBehindChild") }
            if out.rng.chance(2) { tags.append("disabled") }
            var fields: [(String, JSONValue)] = [
                ("resident", .string(id)), ("community", .string(c)), ("household", .string("h-js-\(index / 3 + 1)")),
                ("name", .string(FixtureNames.name(index))), ("birthYear", .int(Int64(birthYear))),
                ("compound", .string(out.rng.pick(Self.compounds))), ("building", .string("\(out.rng.between(1, 12))幢")),
                ("grid", .string("grid-js-\(index % 8 + 1)")),
            ]
            if !tags.isEmpty { fields.append(("tags", .array(tags.map { .string($0) }))) }
            out.command("resident.register", "gw-js-\(index % 4 + 1)", day: -29 + index % 20, minute: 600, fields)
            residents.append((id, birthYear, tags))
        }
        return residents
    }

    /// 46 social organisations, a donor bank, a department; 30+ interest classes; door-knock and mediation teams.
    private func registerGroups(_ adults: [String], _ out: inout FixtureWriter) {
        let admin = PilotFixtures.admin
        for index in 0..<46 {
            out.command(
                "organization.register", admin, day: -20, minute: 540 + index,
                [
                    ("organization", .string("org-js-\(index + 1)")), ("community", .string(c)),
                    (
                        "name",
                        .string(Self.orgPrefixes[index % Self.orgPrefixes.count] + Self.orgSuffixes[index / Self.orgPrefixes.count % Self.orgSuffixes.count])
                    ),
                    ("kind", "socialOrg"),
                ])
        }
        out.command(
            "organization.register", admin, day: -20, minute: 600,
            [("organization", "donor-js-bank"), ("community", .string(c)), ("name", "江山农商银行"), ("kind", "donor")])
        out.command(
            "organization.register", admin, day: -20, minute: 601,
            [("organization", "dept-js-tax"), ("community", .string(c)), ("name", "江山市税务局"), ("kind", "department")])
        for index in 0..<32 {
            let members = (0..<out.rng.between(3, 8)).map { _ in out.rng.pick(adults) }
            out.command(
                "team.form", admin, day: -19, minute: 540 + index,
                [
                    ("team", .string("class-js-\(index + 1)")), ("community", .string(c)),
                    ("name", .string(Self.classes[index % Self.classes.count] + "班\(index / Self.classes.count + 1)")), ("kind", "interestClass"),
                    ("members", .array(Array(Set(members)).sorted().map { .string($0) })),
                ])
        }
        for team in 1...3 {
            let neighbours = Array(Set((0..<3).map { _ in out.rng.pick(adults) })).sorted()
            out.command(
                "team.form", admin, day: -19, minute: 600 + team,
                [
                    ("team", .string("knock-js-\(team)")), ("community", .string(c)), ("name", .string("敲门嫂\(team)队")), ("kind", "doorKnock"),
                    ("members", .array((["sw-js-\(team % 2 + 1)", "gw-js-\(team)", "gw-js-\(team + 1)"] + neighbours).map { .string($0) })),
                ])
        }
        out.command(
            "team.form", admin, day: -19, minute: 610,
            [
                ("team", "mediation-js"), ("community", .string(c)), ("name", "矛盾纠纷调解队"), ("kind", "mediation"),
                ("members", ["md-js-1", "md-js-2"]),
            ])
    }

    /// What the daily loop carries from one day to the next.
    private struct Days {
        let adults: [String], hardship: [String], wishful: [String]
        var pending: [(log: String, volunteer: String, minutes: Int64, category: String, atMs: Int64, day: Int)] = []
        var redemptions: [(id: String, resident: String, item: String, quantity: Int64, points: Int64)] = []
        var wishes: [(id: String, state: String, day: Int)] = []
        var disputes: [(id: String, day: Int, step: Int)] = []
        var n = 0
    }

    /// The default rate's rise on day 120, and the store's monthly restock.
    private func restock(_ day: Int, _ days: inout Days, _ out: inout FixtureWriter) {
        if day == 120 {
            out.command("points.rate.set", PilotFixtures.admin, day: day, minute: 0, [("community", .string(c)), ("pointsPerHour", 12)])
            out.model.rates.append(("*", FixtureWriter.ms(day, 0), 12))
        }
        // The store restocks monthly, a little less than it gives out: stock runs out.
        if day % 30 == 0 {
            for (item, name, price, quantity) in Self.gifts {
                let added = day == 0 ? quantity : quantity / 3
                var fields: [(String, JSONValue)] = [
                    ("item", .string(item)), ("community", .string(c)), ("name", .string(name)),
                    ("pricePoints", .int(price)), ("quantity", .int(added)),
                ]
                if out.rng.chance(30) { fields.append(("donor", "donor-js-bank")) }
                out.command("gift.stock", "sk-js-1", day: day, minute: 480, fields)
                out.model.stock[item, default: 0] += added
            }
        }
    }

    /// Yesterday's hours verified or rejected, and the day's hours logged.
    private func verifyAndLogHours(_ day: Int, _ days: inout Days, _ out: inout FixtureWriter) {
        // Yesterday's hours are verified (most) or rejected (a few); some stay pending.
        var still: [(log: String, volunteer: String, minutes: Int64, category: String, atMs: Int64, day: Int)] = []
        for log in days.pending {
            let roll = out.rng.below(100)
            if roll < 88 {
                out.command("hours.verify", "sw-js-\(out.rng.between(1, 2))", day: day, minute: 540, [("log", .string(log.log))])
                out.model.credit(log.volunteer, minutes: log.minutes, category: log.category, atMs: log.atMs)
            } else if roll < 94 {
                out.command("hours.reject", "sw-js-1", day: day, minute: 545, [("log", .string(log.log)), ("reason", "时长与签到记录不符")])
            } else if day - log.day < 3 {
                still.append(log)
            }
        }
        days.pending = still
        for _ in 0..<scale.hoursPerDay {
            days.n += 1
            let volunteer = out.rng.pick(days.adults)
            let (activity, category) = out.rng.pick(Self.activities)
            let minutes = Int64(out.rng.between(2, 16) * 15)
            let minute = out.rng.between(480, 1_140)
            let log = "log-js-\(days.n)"
            let selfReported = out.rng.chance(30)
            out.command(
                "hours.log", selfReported ? volunteer : "gw-js-\(out.rng.between(1, 4))", day: day, minute: minute,
                [
                    ("log", .string(log)), ("volunteer", .string(volunteer)), ("minutes", .int(minutes)), ("activity", .string(activity)),
                    ("category", .string(category)),
                ])
            days.pending.append((log, volunteer, minutes, category, FixtureWriter.ms(day, minute), day))
        }
    }

    /// Redemptions and an occasional reversal at the store; the weekly gift of points.
    private func redeemAndTransfer(_ day: Int, _ days: inout Days, _ out: inout FixtureWriter) {
        // Redemptions at 邻礼公益超市, only within balance and stock (the store says no otherwise).
        for _ in 0..<max(1, scale.hoursPerDay / 3) {
            let resident = out.rng.pick(days.adults)
            let (item, _, price, _) = out.rng.pick(Self.gifts)
            let balance = out.model.balances[resident] ?? 0
            let quantity = Int64(out.rng.between(1, 2))
            guard balance >= price * quantity, (out.model.stock[item] ?? 0) >= quantity else { continue }
            days.n += 1
            let id = "rd-js-\(days.n)"
            out.command(
                "gift.redeem", "sk-js-1", day: day, minute: 960,
                [("redemption", .string(id)), ("resident", .string(resident)), ("item", .string(item)), ("quantity", .int(quantity))])
            out.model.balances[resident]! -= price * quantity
            out.model.redeemed += price * quantity
            out.model.stock[item]! -= quantity
            days.redemptions.append((id, resident, item, quantity, price * quantity))
        }
        if day % 17 == 5, !days.redemptions.isEmpty {
            let r = days.redemptions.remove(at: out.rng.below(days.redemptions.count))
            out.command("redemption.reverse", "sk-js-1", day: day, minute: 1_000, [("redemption", .string(r.id)), ("reason", "礼品有破损，退回")])
            out.model.balances[r.resident]! += r.points
            out.model.redeemed -= r.points
            out.model.stock[r.item]! += r.quantity
        }
        // A weekly gift of points to a hardship household (转赠).
        if day % 7 == 3, !days.hardship.isEmpty, let giver = days.adults.max(by: { (out.model.balances[$0] ?? 0, $1) < (out.model.balances[$1] ?? 0, $0) }),
            (out.model.balances[giver] ?? 0) >= 30
        {
            let to = out.rng.pick(days.hardship)
            if to != giver {
                let points = Int64(out.rng.between(10, 30))
                out.command(
                    "points.transfer", giver, day: day, minute: 1_100,
                    [("from", .string(giver)), ("to", .string(to)), ("points", .int(points)), ("reason", "转赠困难家庭")])
                out.model.balances[giver]! -= points
                out.model.balances[to, default: 0] += points
            }
        }
    }

    /// Micro-wishes posted, claimed and fulfilled; the care fund's income and help.
    private func wishesAndFund(_ day: Int, _ days: inout Days, _ out: inout FixtureWriter) {
        // Micro-wishes of left-behind children and solitary elders, adopted by organisations.
        if day % 10 == 2, !days.wishful.isEmpty {
            days.n += 1
            let id = "wish-js-\(days.n)"
            out.command(
                "wish.post", "sw-js-1", day: day, minute: 600,
                [
                    ("wish", .string(id)), ("beneficiary", .string(out.rng.pick(days.wishful))), ("community", .string(c)),
                    ("description", .string(out.rng.pick(["想要一个新书包", "希望有人陪我过生日", "想要一台收音机", "需要一副老花镜", "想学画画"]))),
                ])
            days.wishes.append((id, "open", day))
        }
        for index in days.wishes.indices {
            let age = day - days.wishes[index].day
            if days.wishes[index].state == "open" && age == 3 {
                out.command(
                    "wish.claim", "sw-js-2", day: day, minute: 620,
                    [("wish", .string(days.wishes[index].id)), ("claimant", .string("org-js-\(out.rng.between(1, 46))"))])
                days.wishes[index].state = "claimed"
            } else if days.wishes[index].state == "claimed" && age == 8 {
                let fulfil = out.rng.chance(85)
                out.command(
                    fulfil ? "wish.fulfil" : "wish.cancel", "sw-js-2", day: day, minute: 630,
                    [("wish", .string(days.wishes[index].id)), ("note", fulfil ? "已送达" : "受助人已搬离")])
                days.wishes[index].state = fulfil ? "fulfilled" : "cancelled"
            }
        }
        // Charity sales of donated handcraft into the care fund; help to hardship households out of it.
        if day % 15 == 6 {
            let amount = Int64(out.rng.between(50, 300) * 100)
            out.command(
                "fund.income", "sw-js-1", day: day, minute: 900,
                [("fund", "care-fund-js"), ("community", .string(c)), ("source", "charitySale"), ("amountFen", .int(amount))])
            out.model.fundFen += amount
        }
        if day % 15 == 12, !days.hardship.isEmpty, out.model.fundFen >= 5_000 {
            let amount = min(out.model.fundFen, Int64(out.rng.between(20, 100) * 100))
            out.command(
                "fund.disburse", "sw-js-1", day: day, minute: 930,
                [("fund", "care-fund-js"), ("beneficiary", .string(out.rng.pick(days.hardship))), ("amountFen", .int(amount)), ("purpose", "困难家庭节日慰问")])
            out.model.fundFen -= amount
        }
    }

    /// Disputes reported, and each one's next step.
    private func mediate(_ day: Int, _ days: inout Days, _ out: inout FixtureWriter) {
        // Disputes, resolved at the first moment where possible.
        if day % 6 == 1 {
            days.n += 1
            let id = "dispute-js-\(days.n)"
            let first = out.rng.pick(days.adults), second = out.rng.pick(days.adults)
            let parties: JSONValue = first == second ? [.string(first), "public"] : [.string(first), .string(second)]
            out.command(
                "dispute.report", "gw-js-\(out.rng.between(1, 4))", day: day, minute: 700,
                [
                    ("dispute", .string(id)), ("community", .string(c)), ("parties", parties),
                    ("category", .string(out.rng.pick(["neighbour", "noise", "parking", "pets", "family", "property"]))),
                    ("description", .string(out.rng.pick(["楼上漏水殃及楼下", "装修噪音扰民", "占用公共车位", "宠物粪便未清理", "赡养老人分歧", "物业服务不到位"]))),
                    ("channel", .string(out.rng.pick(["doorKnock", "wechatGroup", "other"]))),
                ])
            out.model.disputeStates[id] = "reported"
            days.disputes.append((id, day, 0))
        }
        for index in days.disputes.indices where days.disputes[index].step >= 0 {
            let (id, reported, step) = days.disputes[index]
            guard day > reported else { continue }
            let mediator = "md-js-\(reported % 2 + 1)"
            switch step {
            case 0:
                if out.rng.chance(8) {
                    out.command("dispute.withdraw", mediator, day: day, minute: 600, [("dispute", .string(id)), ("reason", "双方已自行和解")])
                    out.model.disputeStates[id] = "withdrawn"
                    days.disputes[index].step = -1
                } else {
                    out.command(
                        "dispute.assign", mediator, day: day, minute: 600,
                        [("dispute", .string(id)), ("mediator", .string(mediator)), ("team", "mediation-js")])
                    out.model.disputeStates[id] = "assigned"
                    days.disputes[index].step = 1
                }
            case 1, 2:
                out.command(
                    "dispute.session", mediator, day: day, minute: 840,
                    [
                        ("dispute", .string(id)), ("session", .string("\(id)-s\(step)")),
                        ("attendees", .array([.string(mediator)])), ("notes", "听取双方陈述，现场协商"),
                    ])
                out.model.disputeStates[id] = "mediating"
                let roll = out.rng.below(100)
                if roll < 70 || step == 2 {
                    if roll >= 90 {
                        out.command(
                            "dispute.escalate", mediator, day: day, minute: 900,
                            [("dispute", .string(id)), ("to", ["department": "司法所"]), ("reason", "需要专业调解")])
                        out.model.disputeStates[id] = "escalated"
                        days.disputes[index].step = -1
                    } else {
                        out.command("dispute.resolve", mediator, day: day, minute: 900, [("dispute", .string(id)), ("agreement", "双方签订调解协议，约定整改时限")])
                        out.model.disputeStates[id] = "resolved"
                        days.disputes[index].step = 3
                    }
                } else {
                    days.disputes[index].step = 2
                }
            case 3:
                if day - reported >= 7 {
                    out.command(
                        "dispute.followUp", mediator, day: day, minute: 660,
                        [("dispute", .string(id)), ("satisfaction", .int(Int64(out.rng.between(3, 5)))), ("notes", "回访：双方关系缓和")])
                    out.model.disputeStates[id] = "followedUp"
                    days.disputes[index].step = -1
                }
            default: break
            }
        }
    }

}
