import LinliStore

/// `linli status`: the log's own status (``StoreStatus``) with its events counted per domain.
public struct EngineStatus: Sendable, Equatable {
    /// The store's identity, head, size, checkpoint positions and replica mark.
    public var store: StoreStatus
    /// Events per domain, in the domains' order: registry, ledger, deliberation, mediation, elders; event
    /// types no projection takes count under "other".
    public var eventsByDomain: [(domain: String, events: UInt64)]

    public static func == (lhs: EngineStatus, rhs: EngineStatus) -> Bool {
        lhs.store == rhs.store && lhs.eventsByDomain.elementsEqual(rhs.eventsByDomain) { $0.domain == $1.domain && $0.events == $1.events }
    }
}

extension Engine {
    /// The store's status, read in one snapshot.
    public func status() throws -> EngineStatus {
        let store = try log.status()
        let domains = Self.makeProjections()
        var counts = domains.map { ($0.name, UInt64(0)) } + [("other", UInt64(0))]
        for (type, events) in store.eventsByType {
            // A type some projections share (dispute.reported) counts under the first that takes it.
            let index = domains.firstIndex { $0.eventTypes?.contains(type) ?? false } ?? domains.count
            counts[index].1 += events
        }
        return EngineStatus(store: store, eventsByDomain: counts.map { (domain: $0.0, events: $0.1) })
    }
}
