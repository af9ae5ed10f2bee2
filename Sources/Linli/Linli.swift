@_exported import LinliStore

/// The Linli engine library: the domains of neighbourhood governance over the event log.
public enum LinliVersion {
    /// The library's version.
    public static let string = "0.1.0"
}
