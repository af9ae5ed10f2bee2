/// The registry's event types.
public enum RegistryEvent: String, CaseIterable, Sendable {
    case storeInitialized = "store.initialized"
    case communityRegistered = "community.registered"
    case residentRegistered = "resident.registered"
    case residentTagged = "resident.tagged"
    case residentUntagged = "resident.untagged"
    case organizationRegistered = "organization.registered"
    case teamFormed = "team.formed"
    case teamJoined = "team.joined"
    case teamLeft = "team.left"
    case unitRegistered = "unit.registered"
    case roleGranted = "role.granted"
    case roleRevoked = "role.revoked"
}
