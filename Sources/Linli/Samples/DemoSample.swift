import LinliStore

/// A small, deterministic sample of the Jiangshan city-centre pilot (江山 市中心社区) for `linli demo`,
/// until the pilot fixtures land: staff, residents, a month of volunteer hours at a changing rate,
/// redemptions at the charity store, a transfer to a hardship household, micro-wishes and a care fund.
public enum DemoSample {
    /// The administrator the sample's store is created with.
    public static let admin = "admin-js"

    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭"]
    static let givenNames = ["秀英", "建国", "桂兰", "志强", "玉梅", "国华", "丽娟", "文斌", "春梅", "海燕", "德明", "淑珍"]
    static let activities = [("敲门入户", "visit"), ("楼道清扫", "clean"), ("爱心理发", "service"), ("法治课堂", "service"), ("邻里巡逻", "patrol")]

    /// The sample's NDJSON lines, the same on every run.
    public static func lines() -> [String] {
        var out: [String] = []
        var n = 0
        func add(_ name: String, _ actor: String, _ at: String, _ fields: [(String, JSONValue)]) {
            n += 1
            let envelope: [(String, JSONValue)] = [("command", .string(name)), ("id", .string(String(format: "demo-%05d", n))), ("actor", .string(actor)), ("at", .string(at))]
            out.append(JSONValue.object(envelope + fields).text)
        }
        let c = "jiangshan"
        add("community.register", admin, "2023-08-01T09:00:00+08:00", [("community", .string(c)), ("name", "江山市虎山街道市中心社区"), ("district", "虎山街道")])
        for (subject, role) in [("sw-01", "socialWorker"), ("gw-01", "gridWorker"), ("gw-02", "gridWorker"), ("sk-01", "storeKeeper")] {
            add("role.grant", admin, "2023-08-01T09:10:00+08:00", [("subject", .string(subject)), ("role", .string(role)), ("community", .string(c))])
        }
        add("points.rate.set", admin, "2023-08-01T00:00:00+08:00", [("community", .string(c)), ("pointsPerHour", 10)])
        add("organization.register", admin, "2023-08-02T09:00:00+08:00", [("organization", "org-tax"), ("community", .string(c)), ("name", "江山市税务局"), ("kind", "department")])
        var seed: UInt64 = 2023
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        let residents = (1...24).map { index -> String in
            let id = String(format: "r-%03d", index)
            let name = surnames[index % surnames.count] + givenNames[(index * 7) % givenNames.count]
            var fields: [(String, JSONValue)] = [("resident", .string(id)), ("community", .string(c)), ("household", .string("h-\(index / 2)")),
                                                 ("name", .string(name)), ("birthYear", .int(Int64(1935 + next(70)))), ("compound", "鹿溪小区"),
                                                 ("building", .string("\(1 + index % 6)幢"))]
            if index % 8 == 0 { fields.append(("tags", ["hardship"])) }
            if index % 11 == 0 { fields.append(("tags", ["solitaryElder"])) }
            add("resident.register", "gw-01", "2023-08-03T10:00:00+08:00", fields)
            return id
        }
        add("team.form", admin, "2023-08-05T09:00:00+08:00", [("team", "door-knock-1"), ("community", .string(c)), ("name", "敲门嫂一队"), ("kind", "doorKnock"),
                                                             ("members", ["sw-01", "gw-01", "gw-02", "r-002", "r-005"])])
        add("points.rate.set", admin, "2023-09-01T00:00:00+08:00", [("community", .string(c)), ("category", "visit"), ("pointsPerHour", 15)])
        // The generator keeps its own balances so that the sample holds no rejected line.
        var balances: [String: Int64] = [:]
        for day in 1...28 {
            let date = String(format: "2023-09-%02d", day)
            for slot in 0..<3 {
                let volunteer = residents[next(residents.count)]
                let (activity, category) = activities[next(activities.count)]
                let log = "log-\(day)-\(slot)"
                let minutes = Int64(30 + next(8) * 15)
                add("hours.log", "gw-0\(1 + slot % 2)", "\(date)T\(String(format: "%02d", 8 + slot)):30:00+08:00", [("log", .string(log)), ("volunteer", .string(volunteer)),
                                                                                              ("minutes", .int(minutes)), ("activity", .string(activity)), ("category", .string(category))])
                if next(10) > 0 {
                    balances[volunteer, default: 0] += minutes * (category == "visit" ? 15 : 10) / 60
                    add("hours.verify", "sw-01", "\(date)T17:00:00+08:00", [("log", .string(log))])
                } else {
                    add("hours.reject", "sw-01", "\(date)T17:00:00+08:00", [("log", .string(log)), ("reason", "未签到")])
                }
            }
        }
        for (item, name, price, quantity) in [("rice", "大米5斤", 30, 6), ("oil", "食用油", 40, 4), ("towel", "毛巾", 10, 20), ("haircut", "爱心理发一次", 15, 30)] {
            add("gift.stock", "sk-01", "2023-09-20T09:00:00+08:00", [("item", .string(item)), ("community", .string(c)), ("name", .string(name)),
                                                                    ("pricePoints", .int(Int64(price))), ("quantity", .int(Int64(quantity)))])
        }
        let prices: [String: Int64] = ["rice": 30, "oil": 40, "towel": 10, "haircut": 15]
        var redeemed = 0
        for (index, resident) in residents.enumerated() {
            let item = ["rice", "oil", "towel", "haircut"][index % 4]
            guard redeemed < 14, balances[resident, default: 0] >= prices[item]! else { continue }
            balances[resident, default: 0] -= prices[item]!
            add("gift.redeem", "sk-01", "2023-09-30T10:\(String(format: "%02d", index)):00+08:00",
                [("redemption", .string("rd-\(index)")), ("resident", .string(resident)), ("item", .string(item)), ("quantity", 1)])
            redeemed += 1
        }
        if let giver = residents.first(where: { balances[$0, default: 0] >= 5 && $0 != "r-008" }) {
            add("points.transfer", giver, "2023-09-30T15:00:00+08:00", [("from", .string(giver)), ("to", "r-008"), ("points", 5), ("reason", "转赠困难户")])
        }
        add("wish.post", "sw-01", "2023-09-10T09:00:00+08:00", [("wish", "wish-1"), ("beneficiary", "r-011"), ("community", .string(c)), ("description", "想要一台收音机")])
        add("wish.claim", "sw-01", "2023-09-12T09:00:00+08:00", [("wish", "wish-1"), ("claimant", "org-tax")])
        add("wish.fulfil", "sw-01", "2023-09-20T09:00:00+08:00", [("wish", "wish-1"), ("note", "已送达")])
        add("wish.post", "sw-01", "2023-09-15T09:00:00+08:00", [("wish", "wish-2"), ("beneficiary", "r-016"), ("community", .string(c)), ("description", "留守儿童想要绘本")])
        add("fund.income", "sw-01", "2023-09-23T16:00:00+08:00", [("fund", "care-fund"), ("community", .string(c)), ("source", "charitySale"), ("amountFen", 86_500)])
        add("fund.disburse", "sw-01", "2023-09-28T10:00:00+08:00", [("fund", "care-fund"), ("beneficiary", "r-008"), ("amountFen", 30_000), ("purpose", "中秋慰问困难户")])
        return out
    }
}
