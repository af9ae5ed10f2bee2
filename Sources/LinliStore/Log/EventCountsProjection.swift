/// A projection with no domain knowledge: how many events each stream and each type holds. It serves
/// the store's own tests (crash safety, rebuild equality) and a store summary.
public final class EventCountsProjection: Projection {
    public let name = "event-counts"
    public let version: UInt32 = 1
    public let databaseNames = ["by-stream", "by-type"]

    /// A new instance; it holds no state of its own.
    public init() {}

    public func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws {
        try increment(Array(event.stream.utf8), in: databases["by-stream"], transaction)
        try increment(Array(event.type.utf8), in: databases["by-type"], transaction)
    }

    private func increment(_ key: [UInt8], in database: Database, _ transaction: borrowing WriteTransaction) throws {
        let current = try transaction.value(in: database, key: key).flatMap { $0.withUnsafeBytes { bigEndianValue($0) } } ?? 0
        try transaction.put(database, key: key, value: bigEndianKey(current + 1))
    }

    /// The count of events in each stream, read in `reader`'s snapshot.
    public static func streamCounts(_ reader: borrowing LogReader) throws -> [String: UInt64] {
        let databases = reader.databases(of: "event-counts")
        var out: [String: UInt64] = [:]
        _ = try reader.withTransaction { txn in
            try txn.walk(databases["by-stream"]) { key, value in
                out[String(decoding: key, as: UTF8.self)] = bigEndianValue(value)
                return true
            }
        }
        return out
    }
}
