import LinliStore

/// 常山 紫港社区 (四步走): an issue library of the issues the seed names — parking-space allocation, a children's
/// play space designed with children at the table, renovating an old compound, installing lifts in old
/// buildings (an owners' assembly under `doubleMajorityMajor`, first failing, then passing), pets, a
/// property-fee dispute — assessed, deliberated in all four formats with lawyers, psychologists and the
/// 三老, implemented and evaluated; some rejected by vote and brought back or declined.
struct ZigangPilot {
    let scale: PilotFixtures.Scale
    let c = "zigang"
    static let compounds = ["紫港小区", "东方嘉苑", "老粮站宿舍", "城东花园"]

    struct Unit { let id: String; let owner: String; let compound: String; let building: String; let areaSqm: Int64 }

    func write(_ out: inout FixtureWriter) {
        // In this order: the random draws, and so the sample, depend on it.
        registerStaffAndOrganisations(&out)
        let (residents, units) = registerResidentsAndUnits(&out)
        let adults = residents.filter { $0.birthYear < 2005 }.map(\.id)
        let children = residents.filter { $0.birthYear >= 2010 }.map(\.id)
        let sanlao = Array(residents.filter { $0.birthYear < 1955 }.prefix(3).map(\.id))  // 三老: respected elders
        var day0 = 0
        for round in 0..<scale.zigangIssueRounds {
            var issues = IssueScript(out: out, c: c, adults: adults, children: children, sanlao: sanlao, units: units)
            defer { out = issues.out }
            writeRound(round + 1, day0: day0, first: round == 0, &issues)
            day0 += 18
        }
    }

    /// The community, its conveners and grid worker, and the organisations at its tables.
    private func registerStaffAndOrganisations(_ out: inout FixtureWriter) {
        let admin = PilotFixtures.admin
        out.command("community.register", admin, day: -60, minute: 540, [("community", .string(c)), ("name", "常山县紫港社区"), ("district", "常山县紫港街道")])
        for (subject, role) in [("cv-zg-1", "convener"), ("cv-zg-2", "convener"), ("gw-zg-1", "gridWorker"), ("au-zg-1", "auditor")] {
            out.command("role.grant", admin, day: -60, minute: 560, [("subject", .string(subject)), ("role", .string(role)), ("community", .string(c))])
        }
        for (id, name, kind) in [
            ("pm-zg", "紫港物业服务公司", "propertyCompany"), ("oc-zg", "紫港小区业主委员会", "ownersCommittee"),
            ("so-zg", "紫港志愿者协会", "socialOrg"), ("dept-zg-housing", "常山县住建局", "department"),
        ] {
            out.command(
                "organization.register", admin, day: -60, minute: 600,
                [("organization", .string(id)), ("community", .string(c)), ("name", .string(name)), ("kind", .string(kind))])
        }
    }

    /// Residents, and the units whose owners and areas owners' assemblies count.
    private func registerResidentsAndUnits(_ out: inout FixtureWriter) -> ([(id: String, birthYear: Int, compound: String)], [Unit]) {
        let admin = PilotFixtures.admin
        var residents: [(id: String, birthYear: Int, compound: String)] = []
        var units: [Unit] = []
        for index in 0..<scale.zigangResidents {
            let id = "r-zg-\(index + 1)"
            let household = index / 2
            let compound = Self.compounds[household % Self.compounds.count]
            let birthYear = index % 2 == 1 && out.rng.chance(40) ? out.rng.between(2010, 2017) : out.rng.between(1940, 1995)
            out.command(
                "resident.register", "gw-zg-1", day: -55 + index % 20, minute: 600,
                [
                    ("resident", .string(id)), ("community", .string(c)), ("household", .string("h-zg-\(household + 1)")),
                    ("name", .string(FixtureNames.name(index + 13))),
                    ("birthYear", .int(Int64(birthYear))), ("compound", .string(compound)),
                ])
            residents.append((id, birthYear, compound))
            // The first member of most households owns their flat; a few own a second one.
            if index % 2 == 0 && out.rng.chance(80) {
                for extra in 0..<(out.rng.chance(10) ? 2 : 1) {
                    let unit = Unit(
                        id: "u-zg-\(index + 1)-\(extra + 1)", owner: id, compound: compound,
                        building: "\(compound)\(household % 6 + 1)幢", areaSqm: Int64(out.rng.between(45, 140)))
                    out.command(
                        "unit.register", admin, day: -40, minute: 600 + index % 300,
                        [
                            ("unit", .string(unit.id)), ("community", .string(c)), ("compound", .string(unit.compound)), ("building", .string(unit.building)),
                            ("areaSqm", .int(unit.areaSqm)), ("owner", .string(unit.owner)),
                        ])
                    units.append(unit)
                }
            }
        }
        return (residents, units)
    }

    /// One round of the issue library: ten issues through the four steps, each ending differently.
    private func writeRound(_ r: Int, day0: Int, first: Bool, _ issues: inout IssueScript) {
        // 1. Parking spaces, three parties at the table.
        let parking = "parking-\(r)"
        issues.propose(
            parking, day: day0, scope: ("compound", "紫港小区"), title: "停车位分配方案", category: "parking", channel: "wechatGroup",
            description: "小区车位不足，外来车辆占位，业主停车难")
        // 9. A duplicate, merged into it while both are still proposals; its comments carry over.
        let duplicate = "parking-dup-\(r)"
        issues.propose(
            duplicate, day: day0 + 2, scope: ("compound", "紫港小区"), title: "停车难问题", category: "parking", channel: "wechatGroup", description: "晚上回来找不到车位")
        issues.merge(duplicate, into: parking, day: day0 + 3)
        issues.consult(
            parking, day: day0, format: "triParty", rule: "simpleMajority", forShare: 75,
            extras: [("pm-zg", "propertyCompany"), ("oc-zg", "ownersCommittee")])
        issues.outcome(parking, day: day0 + 16, progress: [30, 70, 100], implement: true, evaluate: true)
        // 2. A children's play space, designed with children at the table.
        let play = "play-\(r)"
        issues.propose(
            play, day: day0 + 1, scope: ("community", c), title: "儿童游乐空间设计", category: "children", channel: "meeting",
            description: "社区缺少儿童活动场地，请孩子们一起参与设计")
        issues.consult(
            play, day: day0 + 1, format: "communityConsultation", rule: "twoThirds", forShare: 85, extras: [("so-zg", "socialOrg")], withChildren: true,
            childTriesToVote: first)
        issues.outcome(play, day: day0 + 20, progress: [50], implement: false, evaluate: false)
        // 3. Renovating an old compound: an owners' assembly.
        let renovate = "renovate-\(r)"
        issues.propose(
            renovate, day: day0 + 2, scope: ("compound", "老粮站宿舍"), title: "老旧小区综合改造", category: "renovation", channel: "doorKnock",
            description: "雨污管网老化、外墙脱落，申请纳入老旧小区改造")
        issues.assembly(renovate, day: day0 + 2, meeting: "\(renovate)-m1", rule: "doubleMajority", turnout: 95, forShare: 80)
        issues.outcome(renovate, day: day0 + 20, progress: [], implement: false, evaluate: false)
        // 4. A lift in an old building: fails for lack of participation, then passes.
        let lift = "lift-\(r)"
        issues.propose(
            lift, day: day0 + 3, scope: ("compound", "东方嘉苑"), title: "老楼加装电梯", category: "lift", channel: "suggestionBox",
            description: "楼内老人多，上下楼困难，申请加装电梯")
        issues.assembly(lift, day: day0 + 3, meeting: "\(lift)-m1", rule: "doubleMajorityMajor", turnout: 40, forShare: 90)
        issues.readmitAndAssembly(lift, day: day0 + 10, meeting: "\(lift)-m2", rule: "doubleMajorityMajor", turnout: 100, forShare: 95)
        issues.outcome(lift, day: day0 + 30, progress: [20, 60], implement: false, evaluate: false)
        // 5. Pets: rejected by vote, then declined.
        let pets = "pets-\(r)"
        issues.propose(pets, day: day0 + 4, scope: ("community", c), title: "文明养犬公约", category: "pets", channel: "wechatGroup", description: "遛狗不牵绳、粪便不清理")
        issues.consult(pets, day: day0 + 4, format: "communityConsultation", rule: "simpleMajority", forShare: 30, extras: [])
        issues.decline(pets, day: day0 + 20, reason: "表决未通过，转由物业加强宣传")
        // 6. A property-fee dispute, with a lawyer's opinion.
        let fee = "fee-\(r)"
        issues.propose(
            fee, day: day0 + 5, scope: ("compound", "紫港小区"), title: "物业费调整争议", category: "propertyFee", channel: "meeting",
            description: "物业拟上调物业费，部分业主有异议")
        issues.consult(
            fee, day: day0 + 5, format: "triParty", rule: "simpleMajority", forShare: 70,
            extras: [("pm-zg", "propertyCompany"), ("oc-zg", "ownersCommittee")], withLawyer: true)
        issues.outcome(fee, day: day0 + 22, progress: [40], implement: false, evaluate: false)
        // 7. Clearing stairwells, one building's consultation.
        let stairs = "stairs-\(r)"
        issues.propose(
            stairs, day: day0 + 6, scope: ("compound", "城东花园"), title: "楼道堆物清理", category: "safety", channel: "doorKnock", description: "楼道堆放杂物，存在消防隐患")
        issues.consult(stairs, day: day0 + 6, format: "buildingConsultation", rule: "simpleMajority", forShare: 90, extras: [])
        issues.outcome(stairs, day: day0 + 15, progress: [100], implement: true, evaluate: false)
        // 8. Waste sorting points: on the agenda. 10. Declined.
        let waste = "waste-\(r)"
        issues.propose(
            waste, day: day0 + 7, scope: ("community", c), title: "垃圾分类投放点位调整", category: "environment", channel: "suggestionBox",
            description: "投放点离住户太近，气味大")
        issues.assessAndAdmit(waste, day: day0 + 8)
        let dance = "dance-\(r)"
        issues.propose(
            dance, day: day0 + 8, scope: ("community", c), title: "广场舞音响扰民", category: "noise", channel: "wechatGroup", description: "晚上九点后音响声音过大")
        issues.decline(dance, day: day0 + 9, reason: "已由社区与舞队协商解决")
    }
}

/// Drives issues through the four steps, keeping the model's issue states and computing each tally with
/// the rules written out once more (smallest whole counts), apart from the engine's `Tally`.
struct IssueScript {
    var out: FixtureWriter
    let c: String
    let adults: [String]
    let children: [String]
    let sanlao: [String]
    let units: [ZigangPilot.Unit]
    var scopes: [String: (String, String)] = [:]
    var meetings: [String: String] = [:]

    init(out: FixtureWriter, c: String, adults: [String], children: [String], sanlao: [String], units: [ZigangPilot.Unit]) {
        self.out = out
        self.c = c
        self.adults = adults
        self.children = children
        self.sanlao = sanlao
        self.units = units
    }

    mutating func propose(_ issue: String, day: Int, scope: (String, String), title: String, category: String, channel: String, description: String) {
        let proposer = out.rng.pick(adults)
        out.command(
            "issue.propose", proposer, day: day, minute: 600,
            [
                ("issue", .string(issue)), ("community", .string(c)), ("scope", ["level": .string(scope.0), "ref": .string(scope.1)]),
                ("title", .string(title)),
                ("description", .string(description)), ("category", .string(category)), ("channel", .string(channel)),
            ])
        scopes[issue] = scope
        out.model.issueStates[issue] = "proposed"
        // 征求意见: residents' views.
        for k in 0..<out.rng.between(3, 10) {
            let resident = out.rng.pick(adults)
            let stance = out.rng.pick(["support", "support", "support", "oppose", "neutral"])
            out.command(
                "issue.comment", resident, day: day + 1 + k % 3, minute: 700 + k,
                [
                    ("issue", .string(issue)), ("resident", .string(resident)), ("stance", .string(stance)),
                    ("text", .string(stance == "support" ? "赞成，早该解决了" : stance == "oppose" ? "不同意，费用谁出？" : "看具体方案")),
                ])
        }
    }

    mutating func assessAndAdmit(_ issue: String, day: Int) {
        for convener in ["cv-zg-1", "cv-zg-2"] {
            out.command(
                "issue.assess", convener, day: day + 5, minute: 900,
                [
                    ("issue", .string(issue)), ("importance", .int(Int64(out.rng.between(3, 5)))),
                    ("urgency", .int(Int64(out.rng.between(2, 5)))), ("feasibility", .int(Int64(out.rng.between(2, 5)))),
                ])
        }
        out.command("issue.admit", "cv-zg-1", day: day + 7, minute: 900, [("issue", .string(issue)), ("reason", "重要且紧迫，列入协商议程")])
        out.model.issueStates[issue] = "onAgenda"
    }

    /// A consultation outside owners' assemblies: residents (and the 三老, organisations) vote.
    mutating func consult(
        _ issue: String, day: Int, format: String, rule: String, forShare: Int, extras: [(String, String)],
        withChildren: Bool = false, withLawyer: Bool = false, childTriesToVote: Bool = false
    ) {
        assessAndAdmit(issue, day: day)
        let meeting = "\(issue)-m1"
        let at = day + 14
        out.command(
            "meeting.schedule", "cv-zg-1", day: day + 9, minute: 900,
            [
                ("meeting", .string(meeting)), ("issue", .string(issue)), ("format", .string(format)),
                ("rule", .string(rule)), ("startsAt", .string(FixtureWriter.time(at, 1_140))),
            ])
        out.model.issueStates[issue] = "inDeliberation"
        var voters: [String] = []
        for resident in Array(Set((0..<12).map { _ in out.rng.pick(adults) })).sorted() {
            out.command(
                "meeting.attend", "cv-zg-1", day: at, minute: 1_140, [("meeting", .string(meeting)), ("participant", .string(resident)), ("role", "resident")])
            voters.append(resident)
        }
        for elder in sanlao where !voters.contains(elder) {
            out.command(
                "meeting.attend", "cv-zg-1", day: at, minute: 1_141, [("meeting", .string(meeting)), ("participant", .string(elder)), ("role", "elderAdvisor")])
            out.command(
                "meeting.opinion", "cv-zg-1", day: at, minute: 1_150,
                [("meeting", .string(meeting)), ("participant", .string(elder)), ("text", "邻里之间多商量，以和为贵")])
            voters.append(elder)
        }
        for (organization, role) in extras {
            out.command(
                "meeting.attend", "cv-zg-1", day: at, minute: 1_142,
                [("meeting", .string(meeting)), ("participant", .string(organization)), ("role", .string(role))])
            voters.append(organization)
        }
        if withChildren {
            for child in children.prefix(4) {
                out.command(
                    "meeting.attend", "cv-zg-1", day: at, minute: 1_143, [("meeting", .string(meeting)), ("participant", .string(child)), ("role", "child")])
                out.command(
                    "meeting.opinion", "cv-zg-1", day: at, minute: 1_155,
                    [
                        ("meeting", .string(meeting)), ("participant", .string(child)),
                        ("text", .string(out.rng.pick(["想要滑滑梯和沙坑", "希望有遮阳的地方", "要有给小小朋友玩的区域"]))),
                    ])
            }
            out.command(
                "meeting.attend", "cv-zg-1", day: at, minute: 1_144, [("meeting", .string(meeting)), ("participant", "psych-zg-1"), ("role", "expert")])
            out.command(
                "meeting.opinion", "cv-zg-1", day: at, minute: 1_156,
                [("meeting", .string(meeting)), ("participant", "psych-zg-1"), ("text", "孩子参与设计有助于增强归属感")])
        }
        if withLawyer {
            out.command(
                "meeting.attend", "cv-zg-1", day: at, minute: 1_144, [("meeting", .string(meeting)), ("participant", "lawyer-zg-1"), ("role", "expert")])
            out.command(
                "meeting.opinion", "cv-zg-1", day: at, minute: 1_157,
                [("meeting", .string(meeting)), ("participant", "lawyer-zg-1"), ("text", "物业费调整须符合合同约定并公示")])
            out.command(
                "meeting.attend", "cv-zg-1", day: at, minute: 1_145, [("meeting", .string(meeting)), ("participant", "street-zg-1"), ("role", "official")])
        }
        if childTriesToVote, let child = children.first {
            // A marked mistake: children speak at the table but do not vote.
            out.command(
                "vote.cast", "cv-zg-1", day: at, minute: 1_199, [("meeting", .string(meeting)), ("participant", .string(child)), ("choice", "for")],
                mistake: Rejection.Reason.notEligible.rawValue)
        }
        var forVotes = 0
        for voter in voters {
            let choice = out.rng.below(100) < forShare ? "for" : out.rng.chance(70) ? "against" : "abstain"
            if choice == "for" { forVotes += 1 }
            out.command(
                "vote.cast", voter.hasPrefix("r-") && out.rng.chance(50) ? voter : "cv-zg-1", day: at, minute: 1_200,
                [("meeting", .string(meeting)), ("participant", .string(voter)), ("choice", .string(choice))])
        }
        let cast = voters.count
        let passed = cast > 0 && (rule == "twoThirds" ? forVotes >= (2 * cast + 2) / 3 : forVotes >= cast / 2 + 1)
        close(issue, meeting: meeting, day: at, passed: passed)
    }

    /// An owners' assembly: owners of units in scope attend as owners; `turnout` percent of them vote.
    mutating func assembly(_ issue: String, day: Int, meeting: String, rule: String, turnout: Int, forShare: Int, schedule: Bool = true) {
        if schedule { assessAndAdmit(issue, day: day) }
        let at = day + 14
        out.command(
            "meeting.schedule", "cv-zg-1", day: day + 9, minute: 900,
            [
                ("meeting", .string(meeting)), ("issue", .string(issue)), ("format", "ownersAssembly"),
                ("rule", .string(rule)), ("startsAt", .string(FixtureWriter.time(at, 1_140))),
            ])
        out.model.issueStates[issue] = "inDeliberation"
        let scope = scopes[issue]!
        var areaByOwner: [String: Int64] = [:]
        for unit in units
        where scope.0 == "community" || (scope.0 == "compound" && unit.compound == scope.1) || (scope.0 == "building" && unit.building == scope.1) {
            areaByOwner[unit.owner, default: 0] += unit.areaSqm
        }
        var participating = 0, forOwners = 0
        var area: Int64 = 0, forArea: Int64 = 0
        for owner in areaByOwner.keys.sorted() where out.rng.below(100) < turnout {
            out.command(
                "meeting.attend", "cv-zg-1", day: at, minute: 1_140, [("meeting", .string(meeting)), ("participant", .string(owner)), ("role", "owner")])
            let choice = out.rng.below(100) < forShare ? "for" : out.rng.chance(60) ? "against" : "abstain"
            out.command(
                "vote.cast", "cv-zg-1", day: at, minute: 1_200, [("meeting", .string(meeting)), ("participant", .string(owner)), ("choice", .string(choice))])
            participating += 1
            area += areaByOwner[owner]!
            if choice == "for" { forOwners += 1; forArea += areaByOwner[owner]! }
        }
        let owners = areaByOwner.count, totalArea = areaByOwner.values.reduce(0, +)
        let joined = participating > 0 && participating >= (2 * owners + 2) / 3 && area >= (2 * totalArea + 2) / 3
        let major = rule == "doubleMajorityMajor"
        func enough(_ part: Int64, _ whole: Int64) -> Bool { major ? part >= (3 * whole + 3) / 4 : part >= whole / 2 + 1 }
        close(issue, meeting: meeting, day: at, passed: joined && enough(Int64(forOwners), Int64(participating)) && enough(forArea, area))
    }

    mutating func readmitAndAssembly(_ issue: String, day: Int, meeting: String, rule: String, turnout: Int, forShare: Int) {
        guard out.model.issueStates[issue] == "rejectedByVote" else { return }
        out.command("issue.admit", "cv-zg-1", day: day + 7, minute: 900, [("issue", .string(issue)), ("reason", "逐户做工作后重新上会")])
        out.model.issueStates[issue] = "onAgenda"
        assembly(issue, day: day, meeting: meeting, rule: rule, turnout: turnout, forShare: forShare, schedule: false)
    }

    mutating func close(_ issue: String, meeting: String, day: Int, passed: Bool) {
        out.command("meeting.close", "cv-zg-1", day: day, minute: 1_260, [("meeting", .string(meeting)), ("resolution", "按会议议定方案执行")])
        out.model.issueStates[issue] = passed ? "resolved" : "rejectedByVote"
        meetings[issue] = meeting
    }

    mutating func outcome(_ issue: String, day: Int, progress: [Int], implement: Bool, evaluate: Bool) {
        guard out.model.issueStates[issue] == "resolved" else { return }
        out.command("outcome.submit", "cv-zg-2", day: day, minute: 900, [("issue", .string(issue)), ("department", "常山县住建局")])
        out.model.issueStates[issue] = "submitted"
        for (index, percent) in progress.enumerated() {
            out.command(
                "outcome.progress", "cv-zg-2", day: day + 5 * (index + 1), minute: 900,
                [("issue", .string(issue)), ("percent", .int(Int64(percent))), ("note", "按计划推进")])
            out.model.issueStates[issue] = "implementing"
        }
        guard implement, out.model.issueStates[issue] == "implementing" else { return }
        out.command("outcome.implement", "cv-zg-2", day: day + 5 * progress.count + 2, minute: 900, [("issue", .string(issue))])
        out.model.issueStates[issue] = "implemented"
        guard evaluate else { return }
        out.command(
            "outcome.evaluate", "cv-zg-2", day: day + 5 * progress.count + 9, minute: 900,
            [
                ("issue", .string(issue)), ("evaluator", .string(out.rng.pick(adults))),
                ("satisfaction", .int(Int64(out.rng.between(3, 5)))),
            ])
        out.model.issueStates[issue] = "evaluated"
    }

    mutating func decline(_ issue: String, day: Int, reason: String) {
        out.command("issue.decline", "cv-zg-1", day: day, minute: 900, [("issue", .string(issue)), ("reason", .string(reason))])
        out.model.issueStates[issue] = "declined"
    }

    mutating func merge(_ issue: String, into: String, day: Int) {
        out.command("issue.merge", "cv-zg-1", day: day, minute: 930, [("issue", .string(issue)), ("into", .string(into)), ("reason", "与停车位分配为同一议题")])
        out.model.issueStates[issue] = "merged"
    }
}
