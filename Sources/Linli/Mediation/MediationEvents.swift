/// Mediation's event types: a dispute from its report to its follow-up.
public enum MediationEvent: String, CaseIterable, Sendable {
    case reported = "dispute.reported"
    case assigned = "dispute.assigned"
    case sessionHeld = "dispute.sessionHeld"
    case resolved = "dispute.resolved"
    case escalated = "dispute.escalated"
    case withdrawn = "dispute.withdrawn"
    case followedUp = "dispute.followedUp"
}
