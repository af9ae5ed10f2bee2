/// The contract's closed sets of values (DOMAIN.md), as types: the command specs take their allowed values
/// from these, and the command line builds its options from the same types, so no layer retypes them.
public protocol ContractVocabulary: RawRepresentable, CaseIterable, Sendable where RawValue == String {}

extension ContractVocabulary {
    /// Every value, as the contract spells it.
    public static var values: [String] { allCases.map(\.rawValue) }
}

extension FieldType {
    /// One of a vocabulary's values.
    static func oneOf<V: ContractVocabulary>(_ vocabulary: V.Type) -> FieldType { .oneOf(V.values) }
}

extension Role: ContractVocabulary {}
extension VotingRule: ContractVocabulary {}

/// How an issue or a dispute reached the community.
public enum Channel: String, ContractVocabulary { case wechatGroup, doorKnock, suggestionBox, meeting, other }
/// The level of an issue's scope.
public enum ScopeLevel: String, ContractVocabulary { case community, compound, building }
/// A meeting's format.
public enum MeetingFormat: String, ContractVocabulary { case ownersAssembly, communityConsultation, buildingConsultation, triParty }
/// The role an attendee has in a meeting.
public enum AttendeeRole: String, ContractVocabulary {
    case resident, owner, propertyCompany, ownersCommittee, socialOrg, child, expert, elderAdvisor, official
}
/// A resident's stance in a comment on an issue.
public enum Stance: String, ContractVocabulary { case support, oppose, neutral }
/// A vote.
public enum VoteChoice: String, ContractVocabulary {
    case `for`, against, abstain
}
/// A service an elder may need and a plan may schedule.
public enum ElderService: String, ContractVocabulary {
    case mealDelivery, cleaning, medicalEscort, companionship, emergencyAlarm, dayCare, haircut, legalAid
}
/// Who delivered a service: staff or a provider (`other`), the elder (`self`), or a neighbour (`mutual`).
public enum DeliveryMode: String, ContractVocabulary {
    case other
    case selfCare = "self"
    case mutual
}
/// A station's kind in the 1+N network.
public enum StationKind: String, ContractVocabulary { case hub, station }
/// Where a fund's money came from.
public enum FundSource: String, ContractVocabulary { case charitySale, enterprise, donation }
/// A dispute's category.
public enum DisputeCategory: String, ContractVocabulary { case neighbour, property, parking, noise, family, pets, other }
/// A tag on a resident.
public enum ResidentTag: String, ContractVocabulary { case hardship, leftBehindChild, solitaryElder, disabled }
/// An organization's kind.
public enum OrganizationKind: String, ContractVocabulary { case socialOrg, propertyCompany, ownersCommittee, department, business, donor }
/// A team's kind.
public enum TeamKind: String, ContractVocabulary { case doorKnock, selfGovernance, mediation, socialOrg, silverVolunteers, interestClass }
/// The engine's projections, by name (`linli rebuild --projection`).
public enum ProjectionName: String, ContractVocabulary { case registry, ledger, deliberation, mediation, elders }

extension ProjectionName {
    /// The projections the queries of `domain` read: its own, and the registry's (residents' names). The
    /// other domains' projections are read only by commands (a dispute's home visit, a delivery's hours
    /// log). A time-travel view for one domain's queries replays only these
    /// (``Engine/asOf(_:position:projections:progress:)``); `TimeTravelTests` runs every query of every
    /// domain on such a view, and a projection read but not replayed stops it.
    public static func read(byQueriesOf domain: ProjectionName) -> Set<ProjectionName> {
        domain == .registry ? [.registry] : [domain, .registry]
    }
}
