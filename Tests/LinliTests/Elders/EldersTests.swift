import Foundation
@testable import Linli
import Testing

extension World {
    func survey(_ elder: String, adl: Int64, alone: Bool, at: String = "2024-03-01T09:30:00+08:00") throws {
        try ok(
            "elder.survey", actor: "sw-1", at: at,
            [
                ("elder", .string(elder)), ("basic", ["livingAlone": .bool(alone), "household": "h-1", "phone": "138"]),
                ("health", ["adl": .int(adl), "conditions": ["高血压"]]), ("needs", ["mealDelivery", "companionship"]),
                ("serviceWillingness", ["willing": true, "notes": "希望送餐"]), ("workWillingness", ["willing": false]),
            ])
    }

    func tier(of elder: String) throws -> Int64? {
        try engine.elderDocument(elder)?["tier"]?.intValue
    }

    /// Door-knock team `knock` with gw-1, and a meal plan of 7 a week for r-1.
    func setUpElders() throws {
        try setUpCommunity()
        try ok("team.form", actor: "admin", [("team", "knock"), ("community", "jiangshan"), ("name", "敲门嫂"), ("kind", "doorKnock"), ("members", ["gw-1"])])
        try ok("organization.register", actor: "admin", [("organization", "canteen"), ("community", "jiangshan"), ("name", "长者食堂"), ("kind", "business")])
        try ok(
            "elder.plan.set", actor: "sw-1", at: "2024-03-01T09:00:00+08:00",
            [("elder", "r-1"), ("services", [["service": "mealDelivery", "perWeek": 7], ["service": "companionship", "perWeek": 1]])])
    }

    func deliver(_ delivery: String, at: String, service: String = "mealDelivery", provider: String = "canteen", mode: String = "other", minutes: Int64 = 20)
        throws
    {
        try ok(
            "service.deliver", actor: "gw-1", at: at,
            [
                ("delivery", .string(delivery)), ("elder", "r-1"), ("service", .string(service)),
                ("provider", .string(provider)), ("mode", .string(mode)), ("minutes", .int(minutes)),
            ])
    }
}

@Suite("Elder services: tiers")
struct ElderTierTests {
    @Test(
        "the default bands at every boundary, with and without living alone",
        arguments: [
            (100 as Int64, 0 as Int64, 1 as Int64), (99, 1, 2), (61, 1, 2), (60, 2, 3), (41, 2, 3), (40, 3, 3), (0, 3, 3),
        ])
    func boundaries(adl: Int64, tier: Int64, aloneTier: Int64) throws {
        let w = try World()
        try w.setUpCommunity()
        try w.survey("r-1", adl: adl, alone: false)
        try w.survey("r-2", adl: adl, alone: true)
        #expect(try w.tier(of: "r-1") == tier)
        #expect(try w.tier(of: "r-2") == aloneTier)
        let reason = try #require(try w.engine.elderDocument("r-2")?["tierReason"]?.stringValue)
        #expect(reason.contains("ADL \(adl)") && reason.contains("living alone") && reason.contains("default policy"))
    }

    @Test("a policy applies to surveys from its occurred time, even when recorded later; overrides and later surveys")
    func policiesAndOverrides() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.survey("r-1", adl: 70, alone: false, at: "2024-03-01T09:00:00+08:00")
        try w.survey("r-2", adl: 70, alone: false, at: "2024-05-01T09:00:00+08:00")
        #expect(try w.tier(of: "r-1") == 1)
        // A stricter policy from 1 April, recorded after both surveys: only r-2's survey falls under it.
        try w.ok(
            "elder.tier.policy", actor: "admin", at: "2024-04-01T00:00:00+08:00",
            [
                ("community", "jiangshan"), ("livingAloneRaise", 0),
                (
                    "bands",
                    [
                        ["minAdl": 91, "maxAdl": 100, "tier": 0], ["minAdl": 71, "maxAdl": 90, "tier": 1], ["minAdl": 51, "maxAdl": 70, "tier": 2],
                        ["minAdl": 0, "maxAdl": 50, "tier": 3],
                    ]
                ),
            ])
        #expect(try w.tier(of: "r-1") == 1)
        #expect(try w.tier(of: "r-2") == 2)
        #expect(try w.engine.elderDocument("r-2")?["tierReason"]?.stringValue?.contains("policy of 2024-04-01T00:00:00+08:00") == true)
        // An override wins until a later survey.
        try w.ok("elder.tier.assign", actor: "sw-1", at: "2024-03-10T09:00:00+08:00", [("elder", "r-1"), ("tier", 3), ("reason", "术后卧床")])
        #expect(try w.tier(of: "r-1") == 3)
        #expect(try w.engine.elderDocument("r-1")?["tierReason"]?.stringValue?.contains("术后卧床") == true)
        try w.survey("r-1", adl: 100, alone: true, at: "2024-06-01T09:00:00+08:00")
        #expect(try w.tier(of: "r-1") == 0)  // the April policy raises nothing for living alone
        #expect(try w.engine.elderDocument("r-1")?["surveys"] == 2)
        // An earlier survey recorded late does not supersede the latest.
        try w.survey("r-1", adl: 10, alone: true, at: "2024-02-01T09:00:00+08:00")
        #expect(try w.tier(of: "r-1") == 0)
        #expect(try w.engine.tierDistribution().map { "\($0.tier)=\($0.count)" } == ["0=1", "2=1"])
    }

    @Test("the survey's sections 4 and 5: services the elder would receive and kinds of work, kept with the survey, shown and counted")
    func willingness() throws {
        let w = try World()
        try w.setUpCommunity()
        let fields: (JSONValue, JSONValue) -> [(String, JSONValue)] = { service, work in
            [
                ("elder", "r-1"), ("basic", ["livingAlone": false]), ("health", ["adl": 90]), ("needs", ["mealDelivery"]),
                ("serviceWillingness", service), ("workWillingness", work),
            ]
        }
        try w.ok(
            "elder.survey", actor: "sw-1",
            fields(
                ["willing": true, "services": ["mealDelivery", "haircut"], "notes": "午餐"],
                ["willing": true, "kinds": ["助餐志愿", "邻里巡逻"]]))
        let survey = try #require(try w.engine.elderDocument("r-1")?["survey"])
        #expect(survey["serviceWillingness"]?["services"] == ["mealDelivery", "haircut"])
        #expect(survey["workWillingness"]?["kinds"] == ["助餐志愿", "邻里巡逻"])
        try w.survey("r-2", adl: 70, alone: true)
        #expect(try w.engine.elders().map { "\($0.elder)=\($0.willingToWork)" } == ["r-1=true", "r-2=false"])
        // A service outside the needs list, a service or a kind twice, an unknown key: refused, naming it.
        let unknown = try w.refused(.invalidField, "elder.survey", actor: "sw-1", fields(["willing": true, "services": ["massage"]], ["willing": false]))
        #expect(unknown?.field == "serviceWillingness.services[0]")
        let twice = try w.refused(
            .invalidField, "elder.survey", actor: "sw-1", fields(["willing": true, "services": ["haircut", "haircut"]], ["willing": false]))
        #expect(twice?.field == "serviceWillingness.services")
        let kindTwice = try w.refused(.invalidField, "elder.survey", actor: "sw-1", fields(["willing": true], ["willing": true, "kinds": ["巡逻", "巡逻"]]))
        #expect(kindTwice?.field == "workWillingness.kinds")
        let extra = try w.refused(.invalidField, "elder.survey", actor: "sw-1", fields(["willing": true], ["willing": true, "hours": 3]))
        #expect(extra?.field == "workWillingness.hours")
    }

    @Test("bad policies and surveys are refused with the field named")
    func badInput() throws {
        let w = try World()
        try w.setUpCommunity()
        let gap = try w.refused(
            .invalidField, "elder.tier.policy", actor: "admin",
            [("community", "jiangshan"), ("bands", [["minAdl": 61, "maxAdl": 100, "tier": 0], ["minAdl": 0, "maxAdl": 59, "tier": 3]])])
        #expect(gap?.message.contains("60") == true)
        _ = try w.refused(
            .invalidField, "elder.tier.policy", actor: "admin",
            [("community", "jiangshan"), ("bands", [["minAdl": 50, "maxAdl": 100, "tier": 0], ["minAdl": 0, "maxAdl": 50, "tier": 3]])])
        _ = try w.refused(
            .invalidField, "elder.tier.policy", actor: "admin", [("community", "jiangshan"), ("bands", [["minAdl": 0, "maxAdl": 100, "tier": 4]])])
        let adl = try w.refused(
            .invalidField, "elder.survey", actor: "sw-1",
            [
                ("elder", "r-1"), ("basic", [:]), ("health", ["adl": 101]), ("needs", []),
                ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
            ])
        #expect(adl?.field == "health.adl")
        _ = try w.refused(
            .invalidField, "elder.survey", actor: "sw-1",
            [
                ("elder", "r-1"), ("basic", ["livingAlone": "yes"]), ("health", ["adl": 80]), ("needs", []),
                ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
            ])
        _ = try w.refused(
            .invalidField, "elder.survey", actor: "sw-1",
            [
                ("elder", "r-1"), ("basic", [:]), ("health", ["adl": 80]), ("needs", ["massage"]),
                ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
            ])
        _ = try w.refused(
            .unknownElder, "elder.survey", actor: "sw-1",
            [
                ("elder", "ghost"), ("basic", [:]), ("health", ["adl": 80]), ("needs", []),
                ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
            ])
    }
}

@Suite("Elder services: plans, deliveries, visits")
struct ElderServiceTests {
    @Test("ISO weeks in China Standard Time")
    func weeks() {
        #expect(ISOWeek(containing: Timestamp(iso8601: "2024-01-01T00:00:00+08:00")!).description == "2024-W01")
        #expect(ISOWeek(containing: Timestamp(iso8601: "2021-01-03T12:00:00+08:00")!).description == "2020-W53")
        #expect(ISOWeek(containing: Timestamp(iso8601: "2024-12-30T08:00:00+08:00")!).description == "2025-W01")
        // Monday 07:00 in Quzhou is Sunday 23:00 UTC: it belongs to the new week.
        #expect(ISOWeek(containing: Timestamp(iso8601: "2024-03-10T23:00:00Z")!).description == "2024-W11")
        #expect(ISOWeek(containing: Timestamp(iso8601: "2024-03-10T15:59:59Z")!).description == "2024-W10")
    }

    @Test("adherence per ISO week across the week boundary in Asia/Shanghai; behind plan is pro rata by day")
    func adherence() throws {
        let w = try World()
        try w.setUpElders()
        // Week 10 (4–10 March): six meals, the last on Sunday 23:30 local.
        for (n, day) in ["04", "05", "06", "07", "08"].enumerated() { try w.deliver("w10-\(n)", at: "2024-03-\(day)T11:30:00+08:00") }
        try w.deliver("w10-sun", at: "2024-03-10T23:30:00+08:00")
        // Monday 07:00 local (Sunday 23:00 UTC) counts for week 11.
        try w.deliver("w11-mon", at: "2024-03-10T23:00:00Z")
        let sunday = Timestamp(iso8601: "2024-03-10T23:59:00+08:00")!
        let week10 = try #require(try w.engine.elderDocument("r-1", now: sunday)?["adherence"])
        #expect(week10["week"] == "2024-W10")
        #expect(week10["services"]?.arrayValue?.first?["delivered"] == 6)
        #expect(week10["services"]?.arrayValue?.first?["expectedToDate"] == 7)
        #expect(try w.engine.elders(behindPlan: true, now: sunday).map(\.elder) == ["r-1"])
        let monday = Timestamp(iso8601: "2024-03-11T12:00:00+08:00")!
        let week11 = try #require(try w.engine.elderDocument("r-1", now: monday)?["adherence"]?["services"]?.arrayValue)
        #expect(week11.map { $0["delivered"] } == [1, 0])
        #expect(week11.map { $0["expectedToDate"] } == [1, 0])  // 7 × 1/7 meals, 1 × 1/7 visits by Monday
        #expect(try w.engine.elders(behindPlan: true, now: monday).isEmpty)
        // A new plan replaces the old from its occurred time.
        try w.ok(
            "elder.plan.set", actor: "sw-1", at: "2024-03-11T13:00:00+08:00", [("elder", "r-1"), ("services", [["service": "mealDelivery", "perWeek": 14]])])
        let replaced = try #require(try w.engine.elderDocument("r-1", now: Timestamp(iso8601: "2024-03-12T12:00:00+08:00"))?["plan"])
        #expect(replaced.text == #"[{"service":"mealDelivery","perWeek":14}]"#)
        let before = try #require(try w.engine.elderDocument("r-1", now: sunday)?["plan"])
        #expect(before.arrayValue?.count == 2)
    }

    @Test("history is in occurred-time order whatever the order of recording")
    func historyOrder() throws {
        let w = try World()
        try w.setUpElders()
        try w.deliver("late", at: "2024-03-05T12:00:00+08:00")
        try w.deliver("early", at: "2024-03-02T12:00:00+08:00")
        try w.ok(
            "visit.log", actor: "gw-1", at: "2024-03-03T10:00:00+08:00",
            [("visit", "v-1"), ("elder", "r-1"), ("visitor", "gw-1"), ("team", "knock"), ("observations", "精神好"), ("concern", false)])
        let history = try w.engine.elderHistory("r-1")
        #expect(history.map { $0["delivery"]?.stringValue ?? $0["visit"]?.stringValue ?? "" } == ["early", "v-1", "late"])
        let document = try #require(try w.engine.elderDocument("r-1"))
        #expect(document["history"]?.arrayValue?.first?["mode"] == "other")
        #expect(document["history"]?.arrayValue?[1]["visitor"] == "gw-1")
    }

    @Test("providers by mode; unique delivery and visit ids; visits by door-knock team members")
    func providers() throws {
        let w = try World()
        try w.setUpElders()
        func deliver(_ id: String, _ provider: String, _ mode: String) -> [(String, JSONValue)] {
            [("delivery", .string(id)), ("elder", "r-1"), ("service", "cleaning"), ("provider", .string(provider)), ("mode", .string(mode)), ("minutes", 60)]
        }
        _ = try w.refused(.unknownOrganization, "service.deliver", actor: "gw-1", deliver("d", "r-2", "other"))
        _ = try w.refused(.invalidField, "service.deliver", actor: "gw-1", deliver("d", "r-2", "self"))
        _ = try w.refused(.invalidField, "service.deliver", actor: "gw-1", deliver("d", "r-1", "mutual"))
        _ = try w.refused(.unknownResident, "service.deliver", actor: "gw-1", deliver("d", "canteen", "mutual"))
        try w.ok("service.deliver", actor: "gw-1", deliver("d", "r-1", "self"))
        _ = try w.refused(.duplicateId, "service.deliver", actor: "gw-1", deliver("d", "canteen", "other"))
        _ = try w.refused(
            .invalidField, "visit.log", actor: "gw-1",
            [("visit", "v"), ("elder", "r-1"), ("visitor", "sw-1"), ("team", "knock"), ("observations", ""), ("concern", false)])
        try w.ok(
            "station.register", actor: "admin",
            [("station", "hub"), ("community", "jiangshan"), ("kind", "hub"), ("functions", ["助餐", "应急设备"]), ("name", "邻里中心")])
        _ = try w.refused(
            .invalidField, "station.register", actor: "admin", [("station", "hub-2"), ("community", "jiangshan"), ("kind", "hub"), ("functions", [])])
        try w.ok(
            "service.deliver", actor: "gw-1",
            [("delivery", "at-hub"), ("elder", "r-1"), ("service", "haircut"), ("provider", "canteen"), ("mode", "other"), ("minutes", 15), ("station", "hub")])
        #expect(try w.engine.stations().first?.int("deliveries") == 1)
    }

    @Test("a stored counter at the edge of Int64, not whole, or a damaged counter row is a finding naming the row, never a trap")
    func storedCountersAreChecked() throws {
        // Each forgery of the stored rows a delivery increases, with words of the finding it must give.
        let week = ISOWeek(containing: try #require(Timestamp(iso8601: "2024-03-04T10:00:00+08:00")))
        let forgeries: [(table: EldersProjection.Table, key: [UInt8], forge: (inout [UInt8]) -> Void, words: String)] = [
            (.stations, Array("hub".utf8), { Self.setField(&$0, "deliveries", .int(.max)) }, "the deliveries of station hub overflows"),
            (
                .adherence, EldersDomain.adherenceKey(elder: "r-1", week: week, service: "mealDelivery"),
                { Self.setField(&$0, "delivered", .int(.max)) }, "the delivered of r-1's week 2024-W10 overflows"
            ),
            (.stations, Array("hub".utf8), { Self.setField(&$0, "minutes", .string("12")) }, "no field \"minutes\" holding a whole number"),
            (.stations, Array("hub".utf8), { $0.removeLast(2) }, "does not decode"),
        ]
        for (table, key, forge, words) in forgeries {
            let w = try World()
            try w.setUpElders()
            try w.ok(
                "station.register", actor: "admin",
                [("station", "hub"), ("community", "jiangshan"), ("kind", "hub"), ("functions", ["助餐"]), ("name", "邻里中心")])
            let station: [(String, JSONValue)] = [("station", "hub")]
            let deliver = { (id: String) in
                try w.run(
                    "service.deliver", actor: "gw-1", at: "2024-03-04T10:00:00+08:00",
                    [("delivery", .string(id)), ("elder", "r-1"), ("service", "mealDelivery"), ("provider", "canteen"), ("mode", "other"), ("minutes", 20)]
                        + station)
            }
            #expect(try deliver("d-1").rejection == nil)
            // The insider's forgery goes into LMDB's rows, which the state in memory was first written to.
            let database = try w.engine.log.read { $0.databases(of: "elders")[table.name] }
            try w.engine.log.checkpoint()
            var row = try #require(try w.engine.log.environment.read { try $0.value(in: database, key: key) })
            forge(&row)
            try w.engine.log.environment.write { try $0.put(database, key: key, value: row) }
            let head = try w.engine.log.head
            #expect(throws: LogError.self, "\(words)") { try deliver("d-2") }
            do {
                _ = try deliver("d-3")
            } catch let LogError.corrupt(_, reason) {
                #expect(reason.contains(words), "\(reason)")
            }
            #expect(try w.engine.log.head == head, "nothing is appended over a corrupt row")
        }
    }

    /// A stored row (`position ‖ CBOR map`) with `key` set to `value`.
    static func setField(_ row: inout [UInt8], _ key: String, _ value: JSONValue) {
        let map = try! CBOR.decode(Array(row[8...]))
        row = Array(row[0..<8])
        CBOR.encode(map.setting(key, value), into: &row)
    }

    @Test("a mutual-help delivery credits the volunteer at the mutualHelp rate in force, in the same append")
    func mutualHelpJoinsTheLedger() throws {
        let w = try World()
        try w.setUpElders()
        try w.ok(
            "points.rate.set", actor: "admin", at: "2024-01-01T00:00:00+08:00", [("community", "jiangshan"), ("category", "mutualHelp"), ("pointsPerHour", 20)])
        let before = try w.engine.log.head.position
        try w.deliver("m-1", at: "2024-03-04T10:00:00+08:00", service: "companionship", provider: "r-2", mode: "mutual", minutes: 90)
        let types = try w.engine.log.events(from: before + 1).map(\.type)
        #expect(types == ["service.delivered", "hours.logged", "hours.verified"])
        #expect(try w.engine.balance(of: "resident:r-2").balance == 30)
        // A later rate never re-values these hours, and applies to later ones.
        try w.ok(
            "points.rate.set", actor: "admin", at: "2024-03-05T00:00:00+08:00", [("community", "jiangshan"), ("category", "mutualHelp"), ("pointsPerHour", 40)])
        try w.deliver("m-2", at: "2024-03-06T10:00:00+08:00", service: "companionship", provider: "r-2", mode: "mutual", minutes: 45)
        #expect(try w.engine.balance(of: "resident:r-2").balance == 60)
        let statement = try w.engine.statement(of: "resident:r-2")
        #expect(statement.map { $0.detail["pointsPerHour"] } == [20, 40])
        #expect(try w.engine.mutualHelp().first?.int("minutes") == 135)
        #expect(try w.engine.balances().reduce(0) { $0 + $1.balance } == 0)
    }

    @Test("with no rate in force, a mutual delivery is refused whole")
    func mutualHelpWithoutRate() throws {
        let w = try World()
        try w.setUpElders()
        let head = try w.engine.log.head
        let outcome = try w.run(
            "service.deliver", actor: "gw-1", at: "2023-06-01T10:00:00+08:00",
            [
                ("delivery", "m"), ("elder", "r-1"), ("service", "cleaning"),
                ("provider", "r-2"), ("mode", "mutual"), ("minutes", 60),
            ])
        #expect(outcome.rejection?.reason == .illegalTransition)
        #expect(try w.engine.log.head == head)
        #expect(try w.engine.elderHistory("r-1").isEmpty)
    }

    @Test("a concern stays open until a later visit or delivery closes it")
    func concerns() throws {
        let w = try World()
        try w.setUpElders()
        func visit(_ id: String, _ at: String, concern: Bool) throws {
            try w.ok(
                "visit.log", actor: "gw-1", at: at,
                [
                    ("visit", .string(id)), ("elder", "r-1"), ("visitor", "gw-1"), ("team", "knock"),
                    ("observations", concern ? "腿脚浮肿，需跟进" : "正常"), ("concern", .bool(concern)),
                ])
        }
        try visit("v-1", "2024-03-04T10:00:00+08:00", concern: true)
        #expect(try w.engine.openConcerns().map { try $0.string("visit") } == ["v-1"])
        try w.deliver("earlier", at: "2024-03-03T10:00:00+08:00")  // before the concern: does not close it
        #expect(try w.engine.openConcerns().count == 1)
        try visit("v-2", "2024-03-05T10:00:00+08:00", concern: true)  // still a concern: open, now on v-2
        #expect(try w.engine.openConcerns().map { try $0.string("visit") } == ["v-2"])
        try w.deliver("after", at: "2024-03-05T12:00:00+08:00")
        #expect(try w.engine.openConcerns().isEmpty)
        try visit("v-3", "2024-03-06T10:00:00+08:00", concern: true)
        try visit("v-4", "2024-03-07T10:00:00+08:00", concern: false)
        #expect(try w.engine.openConcerns().isEmpty)
        let live = try projectionDump(w.engine)
        try w.engine.log.rebuildProjections()
        #expect(try projectionDump(w.engine) == live, "replay equality")
        #expect(try w.engine.audit().ok)
    }
}

@Suite("Elder services: the typed history read")
struct ElderHistoryReadTests {
    @Test("the typed history holds the same entries as the JSON history, in the same order")
    func sameAsJSON() throws {
        let w = try World()
        try w.setUpElders()
        try w.ok(
            "points.rate.set", actor: "admin", at: "2024-01-01T00:00:00+08:00", [("community", "jiangshan"), ("category", "mutualHelp"), ("pointsPerHour", 12)])
        try w.deliver("b", at: "2024-03-05T12:00:00+08:00", service: "companionship", provider: "r-2", mode: "mutual", minutes: 45)
        try w.deliver("a", at: "2024-03-02T12:00:00+08:00")
        try w.ok(
            "visit.log", actor: "gw-1", at: "2024-03-03T10:00:00+08:00",
            [("visit", "v-1"), ("elder", "r-1"), ("visitor", "gw-1"), ("team", "knock"), ("observations", "腿脚浮肿，需要跟进观察"), ("concern", true)])
        let typed = try w.engine.elderServiceHistory("r-1")
        let json = try w.engine.elderHistory("r-1")
        #expect(typed.map(\.id) == ["a", "v-1", "b"])
        #expect(typed.count == json.count)
        for (entry, row) in zip(typed, json) {
            #expect(entry.kind == (row["kind"] == "visit" ? .visit : .delivery))
            #expect(entry.position == UInt64(row["position"]?.intValue ?? 0))
            #expect(Timestamp(epochMilliseconds: entry.occurredAtMs, offsetMinutes: 480).iso8601 == row["at"]?.stringValue)
            #expect(entry.provider == (row["provider"] ?? row["visitor"])?.stringValue)
        }
        #expect(typed[1].concern && typed[1].kind == .visit && typed[1].service == "")
        #expect(typed[2].mode == "mutual" && typed[2].minutes == 45 && typed[2].service == "companionship")
        #expect(try w.engine.elderServiceHistory("r-2").isEmpty)
        // The view answers kinds, minutes and times without building entries.
        let view = try w.engine.elderHistoryView("r-1")
        #expect(view.indices.map(view.isVisit) == [false, true, false])
        #expect(view.indices.map(view.minutes) == [20, 0, 45])
        #expect(view.indices.map(view.occurredAtMs) == typed.map(\.occurredAtMs))
    }
}
