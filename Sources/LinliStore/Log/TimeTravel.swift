import Foundation

/// Projections rebuilt in a private temporary LMDB environment from a part of the log: every event up to a
/// position, or every event that occurred at or before a time. The store is never modified; the
/// environment is deleted when the value is released.
public final class ScratchProjections: @unchecked Sendable {
    /// The scratch environment.
    public let environment: Environment
    /// Each projection's databases in it, by projection name.
    public let databases: [String: ProjectionDatabases]
    /// The last position replayed (events after it were not looked at).
    public let position: UInt64
    /// Events replayed into the projections.
    public let replayed: UInt64
    /// Events left out: after the time asked for, or (rarely) events whose own prerequisites occurred after
    /// it, such as a verification dated before the hours it verifies.
    public let skipped: [UInt64]
    private let directory: String

    init(environment: Environment, databases: [String: ProjectionDatabases], position: UInt64, replayed: UInt64, skipped: [UInt64], directory: String) {
        self.environment = environment
        self.databases = databases
        self.position = position
        self.replayed = replayed
        self.skipped = skipped
        self.directory = directory
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

extension EventLog {
    /// Replays the events at positions ≤ `position` (default: the head) whose occurred time is at or before
    /// `occurredAtOrBefore` (default: any) into fresh projections in a temporary environment — the state
    /// "as it stood" then, for time-travel queries.
    ///
    /// Events are replayed in log order, so a projection sees them as it did live. When a filter by occurred
    /// time leaves out an event that a later kept event depends on (its projection finds an entity missing),
    /// the dependent event is left out too and listed in ``ScratchProjections/skipped``: each chunk runs in
    /// one scratch transaction, and a chunk that fails is redone one event per transaction.
    public func scratchProjections(upTo position: UInt64? = nil, occurredAtOrBefore time: Timestamp? = nil,
                                   progress: ((UInt64, UInt64) -> Void)? = nil) throws -> ScratchProjections {
        let directory = NSTemporaryDirectory() + "linli-asof-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            var scratchOptions = Environment.Options()
            scratchOptions.initialMapSizeBytes = 16 << 20
            let scratch = try Environment(path: directory, options: scratchOptions)
            var scratchSlots: [ProjectionSlot] = []
            var byProjection: [String: ProjectionDatabases] = [:]
            for slot in currentSlots() {
                var byName: [String: Database] = [:]
                for name in slot.projection.databaseNames {
                    byName[name] = try scratch.database(named: "\(slot.projection.name)/\(name)", create: true)
                }
                let databases = ProjectionDatabases(projection: slot.projection.name, generation: 0, byName: byName)
                scratchSlots.append(ProjectionSlot(projection: slot.projection, databases: databases))
                byProjection[slot.projection.name] = databases
            }
            let limit = time?.epochMilliseconds
            var skipped: [UInt64] = []
            var replayed: UInt64 = 0
            let last = try environment.read { txn -> UInt64 in
                let head = try readHead(txn).position
                let last = min(head, position ?? head)
                var next: UInt64 = 1
                while next <= last {
                    let to = min(last, next + replayChunkEvents - 1)
                    var chunk: [RecordedEvent] = []
                    try txn.walk(events, from: bigEndianKey(next)) { key, record in
                        guard let at = bigEndianValue(key), at <= to else { return false }
                        let event = try RecordCodec.decode(record, expectedPosition: at)
                        if let limit, event.occurredAt.epochMilliseconds > limit { skipped.append(at) } else { chunk.append(event) }
                        return true
                    }
                    do {
                        try scratch.write { scratchTxn in
                            for event in chunk { for slot in scratchSlots { try slot.projection.apply(event, in: scratchTxn, databases: slot.databases) } }
                        }
                        replayed += UInt64(chunk.count)
                    } catch let error as LogError where limit != nil {
                        guard case .corrupt = error else { throw error }
                        // Some kept event depends on a left-out one: one transaction per event finds which.
                        for event in chunk {
                            do {
                                try scratch.write { scratchTxn in
                                    for slot in scratchSlots { try slot.projection.apply(event, in: scratchTxn, databases: slot.databases) }
                                }
                                replayed += 1
                            } catch LogError.corrupt {
                                skipped.append(event.position)
                            }
                        }
                    }
                    progress?(to, last)
                    next = to + 1
                }
                return last
            }
            return ScratchProjections(environment: scratch, databases: byProjection, position: last, replayed: replayed,
                                      skipped: skipped.sorted(), directory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }
}
