/// The ledger's event types: points, hours, the charity store, micro-wishes and funds.
public enum LedgerEvent: String, CaseIterable, Sendable {
    case rateSet = "points.rateSet"
    case hoursLogged = "hours.logged"
    case hoursVerified = "hours.verified"
    case hoursRejected = "hours.rejected"
    case pointsTransferred = "points.transferred"
    case pointsAdjusted = "points.adjusted"
    case giftStocked = "gift.stocked"
    case giftRedeemed = "gift.redeemed"
    case redemptionReversed = "redemption.reversed"
    case wishPosted = "wish.posted"
    case wishClaimed = "wish.claimed"
    case wishFulfilled = "wish.fulfilled"
    case wishCancelled = "wish.cancelled"
    case fundReceived = "fund.received"
    case fundDisbursed = "fund.disbursed"
}
