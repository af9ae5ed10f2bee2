/// The elder services' event types.
public enum ElderEvent: String, CaseIterable, Sendable {
    case surveyed = "elder.surveyed"
    case tierPolicySet = "elder.tierPolicySet"
    case tierAssigned = "elder.tierAssigned"
    case planSet = "elder.planSet"
    case stationRegistered = "station.registered"
    case serviceDelivered = "service.delivered"
    case visitLogged = "visit.logged"
}
