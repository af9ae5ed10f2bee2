/// What an operator checks first (`linli status`): which store this is, how far its log goes, how large it
/// is, how far its projections' checkpoint lags, and whether it is a replica. All read in one snapshot.
public struct StoreStatus: Sendable, Equatable {
    /// The store's identity: the hash of its first record, which its backups, imports and replicas share
    /// (nil for an empty log).
    public var identity: Hash?
    /// The last event's position and hash.
    public var head: LogHead
    /// The last event's occurred and recorded times (nil for an empty log).
    public var lastOccurredAt: Timestamp?
    /// See ``lastOccurredAt``.
    public var lastRecordedAt: Timestamp?
    /// Events per event type.
    public var eventsByType: [String: UInt64]
    /// The data file's size on disk.
    public var fileBytes: Int
    /// The bytes of it that LMDB has used (the rest is room the map has grown into).
    public var usedBytes: Int
    /// Each projection's stored checkpoint position (the log after it is replayed when the store opens).
    public var checkpointPositions: [String: UInt64]
    /// Who the store follows, when it is a replica.
    public var replicaOf: String?
}

extension EventLog {
    /// The store's status, read in one snapshot. Counting events by type walks the log's records (their
    /// type field only): about a second per million events when the pages are cached.
    public func status() throws -> StoreStatus {
        try read { reader in
            let head = try reader.head
            let first = head.position == 0 ? nil : try reader.event(at: 1)
            let last = head.position == 0 ? nil : try reader.event(at: head.position)
            let counts = try reader.withTransaction { txn in try eventsByType(txn) }
            return StoreStatus(
                identity: first?.hash, head: head, lastOccurredAt: last?.occurredAt, lastRecordedAt: last?.recordedAt,
                eventsByType: counts, fileBytes: BackupFiles.size(path + "/data.mdb"), usedBytes: environment.usedBytes,
                checkpointPositions: try reader.checkpoints().mapValues(\.position), replicaOf: replicaSource)
        }
    }

    private func eventsByType(_ txn: borrowing ReadTransaction) throws -> [String: UInt64] {
        var counts: [[UInt8]: UInt64] = [:]
        var budget = MappedPagesBudget(checkEvery: MappedPagesBudget.walkCheckEvery, releasingFirst: environment)
        try txn.walk(events) { _, record in
            guard let type = RecordCodec.type(of: record) else {
                throw LogError.corrupt(position: RecordCodec.position(of: record) ?? 0, reason: "the record has no readable type")
            }
            counts[Array(type), default: 0] += 1
            budget.step(environment)
            return true
        }
        return Dictionary(uniqueKeysWithValues: counts.map { (String(decoding: $0.key, as: UTF8.self), $0.value) })
    }
}
