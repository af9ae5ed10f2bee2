/// Deliberation's event types: issues, meetings, votes and outcomes.
public enum DeliberationEvent: String, CaseIterable, Sendable {
    case issueProposed = "issue.proposed"
    case issueCommented = "issue.commented"
    case issueAssessed = "issue.assessed"
    case issueAdmitted = "issue.admitted"
    case issueDeclined = "issue.declined"
    case issueMerged = "issue.merged"
    case meetingScheduled = "meeting.scheduled"
    case meetingAttended = "meeting.attended"
    case opinionGiven = "meeting.opinionGiven"
    case voteCast = "vote.cast"
    case meetingClosed = "meeting.closed"
    case outcomeSubmitted = "outcome.submitted"
    case outcomeProgressed = "outcome.progressed"
    case outcomeImplemented = "outcome.implemented"
    case outcomeEvaluated = "outcome.evaluated"
}
