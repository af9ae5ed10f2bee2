import LinliStore

/// Every event type Linli writes: the checked vocabulary of the log. A decision emits one of these, and a
/// projection claims a list of them and switches over them exhaustively, so that a type added to a domain
/// is a compile error in every `apply` that must decide what to do with it. Each domain's enum (its folder's
/// `…Events.swift`) spells its names once; docs/EVENTS.md lists them, and `EventCatalogTests` holds the two
/// and the projections' claims together.
public enum EventType: Hashable, Sendable, CustomStringConvertible {
    case registry(RegistryEvent)
    case ledger(LedgerEvent)
    case deliberation(DeliberationEvent)
    case mediation(MediationEvent)
    case elders(ElderEvent)

    /// The stored name, such as `hours.verified`.
    public var rawValue: String {
        switch self {
        case .registry(let type): type.rawValue
        case .ledger(let type): type.rawValue
        case .deliberation(let type): type.rawValue
        case .mediation(let type): type.rawValue
        case .elders(let type): type.rawValue
        }
    }

    public var description: String { rawValue }

    /// The type a stored name stands for, or nil for a name Linli does not write.
    public init?(rawValue: String) {
        guard let type = Self.byName[rawValue] else { return nil }
        self = type
    }

    /// Every type, domain by domain.
    public static let allCases: [EventType] =
        RegistryEvent.allCases.map(EventType.registry) + LedgerEvent.allCases.map(EventType.ledger)
        + DeliberationEvent.allCases.map(EventType.deliberation) + MediationEvent.allCases.map(EventType.mediation)
        + ElderEvent.allCases.map(EventType.elders)

    /// One hashed look-up per event replayed, rather than a string comparison per case.
    private static let byName: [String: EventType] = {
        let pairs = allCases.map { ($0.rawValue, $0) }
        return Dictionary(pairs, uniquingKeysWith: { first, second in preconditionFailure("two event types named \(first)") })
    }()

    /// The names of some types, as a projection claims them from the log.
    static func names(_ types: [EventType]) -> Set<String> { Set(types.map(\.rawValue)) }
}
