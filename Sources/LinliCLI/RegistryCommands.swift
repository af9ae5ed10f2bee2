import ArgumentParser
import Linli

struct Community: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "community", abstract: "Communities.", subcommands: [Register.self])

    struct Register: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a community.", discussion: "Example: linli community register --community jiangshan --name 市中心社区 --district 虎山街道 --as admin-1")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The community id.") var community: String
        @Option(help: "Its name.") var name: String
        @Option(help: "Its street or district.") var district: String
        static let contractCommand = "community.register"
        func fields() throws -> [String: JSONValue] { ["community": .string(community), "name": .string(name), "district": .string(district)] }
    }
}

struct Resident: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resident", abstract: "Residents: register, tag, untag.", subcommands: [Register.self, Tag.self, Untag.self])

    struct Register: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a resident.",
            discussion:
                "Example: linli resident register --resident r-12 --community jiangshan --household h-5 --name 王秀英 --birth-year 1948 --compound 鹿溪小区 --building 3幢 --tag solitaryElder --as gw-01"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The resident id.") var resident: String
        @Option(help: "The community.") var community: String
        @Option(help: "The household.") var household: String
        @Option(help: "The name.") var name: String
        @Option(help: "Year of birth.") var birthYear: Int64
        @Option(help: "The compound (小区).") var compound: String?
        @Option(help: "The building.") var building: String?
        @Option(help: "The grid.") var grid: String?
        @Option(name: .customLong("tag"), help: "A tag (repeat).") var tags: [ResidentTag] = []
        static let contractCommand = "resident.register"
        func fields() throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = [
                "resident": .string(resident), "community": .string(community), "household": .string(household),
                "name": .string(name), "birthYear": .int(birthYear),
            ]
            if let compound { fields["compound"] = .string(compound) }
            if let building { fields["building"] = .string(building) }
            if let grid { fields["grid"] = .string(grid) }
            if !tags.isEmpty { fields["tags"] = .array(tags.map { .string($0.rawValue) }) }
            return fields
        }
    }

    struct Tag: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "tag",
            abstract: "Tag a resident.", discussion: "Example: linli resident tag --resident r-12 --tag hardship --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The resident.") var resident: String
        @Option(help: "The tag.") var tag: ResidentTag
        static let contractCommand = "resident.tag"
        func fields() throws -> [String: JSONValue] { ["resident": .string(resident), "tag": .string(tag.rawValue)] }
    }

    struct Untag: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "untag",
            abstract: "Remove a tag.", discussion: "Example: linli resident untag --resident r-12 --tag hardship --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The resident.") var resident: String
        @Option(help: "The tag.") var tag: ResidentTag
        static let contractCommand = "resident.untag"
        func fields() throws -> [String: JSONValue] { ["resident": .string(resident), "tag": .string(tag.rawValue)] }
    }
}

struct Organization: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "organization", abstract: "Organizations.", subcommands: [Register.self])

    struct Register: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register an organization.",
            discussion:
                "Kinds: socialOrg, propertyCompany, ownersCommittee, department, business, donor. Example: linli organization register --organization pm-1 --community zigang --name 紫港物业 --kind propertyCompany --as admin-1"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The organization id.") var organization: String
        @Option(help: "The community.") var community: String
        @Option(help: "Its name.") var name: String
        @Option(help: "Its kind.") var kind: OrganizationKind
        static let contractCommand = "organization.register"
        func fields() throws -> [String: JSONValue] {
            ["organization": .string(organization), "community": .string(community), "name": .string(name), "kind": .string(kind.rawValue)]
        }
    }
}

struct Team: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "team", abstract: "Teams: form, join, leave.", subcommands: [Form.self, Join.self, Leave.self])

    struct Form: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "form",
            abstract: "Form a team.",
            discussion:
                "Kinds: doorKnock, selfGovernance, mediation, socialOrg, silverVolunteers, interestClass. Example: linli team form --team knock-1 --community jiangshan --name 敲门嫂 --kind doorKnock --member sw-01 --member gw-01 --member r-12 --as admin-1"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The team id.") var team: String
        @Option(help: "The community.") var community: String
        @Option(help: "Its name.") var name: String
        @Option(help: "Its kind.") var kind: TeamKind
        @Option(name: .customLong("member"), help: "A member (repeat).") var members: [String] = []
        static let contractCommand = "team.form"
        func fields() throws -> [String: JSONValue] {
            return [
                "team": .string(team), "community": .string(community), "name": .string(name), "kind": .string(kind.rawValue),
                "members": .array(members.map { .string($0) }),
            ]
        }
    }

    struct Join: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "join",
            abstract: "Add a member.", discussion: "Example: linli team join --team knock-1 --member r-40 --as admin-1")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The team.") var team: String
        @Option(help: "The member.") var member: String
        static let contractCommand = "team.join"
        func fields() throws -> [String: JSONValue] { ["team": .string(team), "member": .string(member)] }
    }

    struct Leave: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "leave",
            abstract: "Remove a member.", discussion: "Example: linli team leave --team knock-1 --member r-40 --as admin-1")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The team.") var team: String
        @Option(help: "The member.") var member: String
        static let contractCommand = "team.leave"
        func fields() throws -> [String: JSONValue] { ["team": .string(team), "member": .string(member)] }
    }
}

struct Unit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unit", abstract: "Units (专有部分) and their owners.", subcommands: [Register.self])

    struct Register: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a unit and its owner (the basis of owners' votes).",
            discussion: "Example: linli unit register --unit zg-3-502 --community zigang --compound 紫港小区 --building 3幢 --area-sqm 89 --owner r-88 --as admin-1")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The unit id.") var unit: String
        @Option(help: "The community.") var community: String
        @Option(help: "The compound (小区).") var compound: String
        @Option(help: "The building.") var building: String
        @Option(help: "Area in whole m².") var areaSqm: Int64
        @Option(help: "The owner (a resident).") var owner: String
        static let contractCommand = "unit.register"
        func fields() throws -> [String: JSONValue] {
            return [
                "unit": .string(unit), "community": .string(community), "compound": .string(compound),
                "building": .string(building), "areaSqm": .int(areaSqm), "owner": .string(owner),
            ]
        }
    }
}

struct RoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "role", abstract: "Roles per community: grant, revoke.", subcommands: [Grant.self, Revoke.self])

    struct Grant: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant",
            abstract: "Grant a role in a community.",
            discussion:
                "Roles: admin, socialWorker, gridWorker, storeKeeper, convener, mediator, auditor. Example: linli role grant --subject gw-01 --role gridWorker --community jiangshan --as admin-1"
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Who.") var subject: String
        @Option(help: "The role.") var role: Role
        @Option(help: "The community.") var community: String
        static let contractCommand = "role.grant"
        func fields() throws -> [String: JSONValue] { ["subject": .string(subject), "role": .string(role.rawValue), "community": .string(community)] }
    }

    struct Revoke: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke a role.", discussion: "Example: linli role revoke --subject gw-01 --role gridWorker --community jiangshan --as admin-1")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "Who.") var subject: String
        @Option(help: "The role.") var role: Role
        @Option(help: "The community.") var community: String
        static let contractCommand = "role.revoke"
        func fields() throws -> [String: JSONValue] { ["subject": .string(subject), "role": .string(role.rawValue), "community": .string(community)] }
    }
}

struct Wish: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wish",
        abstract: "Micro-wishes (微心愿): post, claim, fulfil, cancel.", subcommands: [Post.self, Claim.self, Fulfil.self, Cancel.self])

    struct Post: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "post",
            abstract: "Post a wish for a resident.",
            discussion: "Example: linli wish post --beneficiary r-3 --community jiangshan --description 想要一个新书包 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The wish id (default: generated).") var wish: String?
        @Option(help: "Who it is for.") var beneficiary: String
        @Option(help: "The community.") var community: String
        @Option(help: "The wish.") var description: String
        static let contractCommand = "wish.post"
        func fields() throws -> [String: JSONValue] {
            return [
                "wish": .string(wish ?? generatedId("wish")), "beneficiary": .string(beneficiary), "community": .string(community),
                "description": .string(description),
            ]
        }
    }

    struct Claim: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "claim",
            abstract: "A unit, donor or resident adopts a wish.", discussion: "Example: linli wish claim --wish w-1 --claimant bank-1 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The wish.") var wish: String
        @Option(help: "The organization or resident.") var claimant: String
        static let contractCommand = "wish.claim"
        func fields() throws -> [String: JSONValue] { ["wish": .string(wish), "claimant": .string(claimant)] }
    }

    struct Fulfil: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "fulfil",
            abstract: "Mark a claimed wish fulfilled.", discussion: "Example: linli wish fulfil --wish w-1 --note 已送达 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The wish.") var wish: String
        @Option(help: "A note.") var note: String?
        static let contractCommand = "wish.fulfil"
        func fields() throws -> [String: JSONValue] { ["wish": .string(wish)].merging(note.map { ["note": .string($0)] } ?? [:]) { $1 } }
    }

    struct Cancel: RecordingCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel",
            abstract: "Cancel an open or claimed wish.", discussion: "Example: linli wish cancel --wish w-1 --note 已搬离 --as sw-01")
        @OptionGroup var store: StoreOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "The wish.") var wish: String
        @Option(help: "A note.") var note: String?
        static let contractCommand = "wish.cancel"
        func fields() throws -> [String: JSONValue] { ["wish": .string(wish)].merging(note.map { ["note": .string($0)] } ?? [:]) { $1 } }
    }
}
