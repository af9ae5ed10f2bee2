/// One stored record of a log, as another copy of that log holds it (an export's `record`).
public struct StoredRecord: Sendable, Equatable {
    /// Its position.
    public var position: UInt64
    /// The record's bytes, hash included (docs/FORMAT.md).
    public var bytes: [UInt8]

    /// A record.
    public init(position: UInt64, bytes: [UInt8]) {
        self.position = position
        self.bytes = bytes
    }
}

/// One command's records as another copy of the log holds them, with the request digest its command id
/// was stored with (what idempotency needs: no event carries it).
public struct RecordedCommand: Sendable, Equatable {
    /// The digest stored with the command id.
    public var requestDigest: Hash
    /// Its records, in position order: one or more, all of one command id.
    public var records: [StoredRecord]

    /// A command's records.
    public init(requestDigest: Hash, records: [StoredRecord]) {
        self.requestDigest = requestDigest
        self.records = records
    }
}

extension EventLog {
    /// Ends an import begun with ``createForImport(at:replicaOf:options:)``: writes the projections'
    /// checkpoint and removes the mark that keeps the store from opening, in one transaction.
    public func finishImport() throws {
        try checkpoint()
        try environment.write { txn in try txn.delete(meta, key: StoreLayout.importIncompleteKey) }
    }
}

extension LogWriter {
    /// Appends a command's records exactly as another copy of this log holds them: same positions, same
    /// bytes, so the same chain. How an import and a replica take their source's log.
    ///
    /// Records at positions this log holds already must be byte-identical to its own (else
    /// ``LogError/notAnExtension(position:reason:)``: a fork); the first new one must follow the head.
    /// Each new record is checked as the chain verification checks it (hash, link, structure) and as an
    /// append is (stream version, an unused command id, the log's limits), then applied to every
    /// projection, whose checks refuse what the rules never allow (a balance below zero). Any failure
    /// throws, and the whole write transaction is rolled back. Returns how many records were new.
    @discardableResult
    public func appendRecorded(_ command: RecordedCommand) throws -> Int {
        precondition(!command.records.isEmpty, "a command has at least one record")
        var fresh: [RecordedEvent] = []
        for record in command.records {
            if record.position <= session.head.position, fresh.isEmpty {
                try compareHeld(record)
            } else {
                fresh.append(try appendNext(record, commandId: fresh.first?.commandId))
            }
        }
        guard let first = fresh.first else { return 0 }
        if let earlier = try log.commandRecord(first.commandId, transaction) {
            throw LogError.corrupt(position: first.position, reason: "command id \(first.commandId) was used at position \(earlier.first) already")
        }
        try log.validate(
            AppendCommand(
                commandId: first.commandId, requestDigest: command.requestDigest, actor: first.actor, occurredAt: first.occurredAt,
                events: fresh.map { NewEvent(stream: $0.stream, type: $0.type, schemaVersion: $0.schemaVersion, payload: $0.payload) }),
            alreadyAppended: session.appended.count - fresh.count)
        try finishCommand(first.commandId, digest: command.requestDigest, first: first.position, eventsCount: fresh.count)
        return fresh.count
    }

    /// A record at a position this log holds: it must be the very same bytes.
    private func compareHeld(_ record: StoredRecord) throws {
        let same = try withUnsafeBytes(of: record.position.bigEndian) { key in
            try transaction.withValue(in: log.events, key: key) { stored in stored.elementsEqual(record.bytes) }
        }
        guard same == true else {
            throw LogError.notAnExtension(
                position: record.position, reason: "the record differs from the one this store holds there: the source's log is not this one's (a fork)")
        }
    }

    /// Checks the record that follows the head and puts it in the events table, advancing the head and its
    /// stream's head.
    private func appendNext(_ record: StoredRecord, commandId: String?) throws -> RecordedEvent {
        let position = session.head.position + 1
        guard record.position == position else {
            throw LogError.notAnExtension(
                position: record.position, reason: "this store ends at position \(session.head.position); the records must go on from position \(position)")
        }
        let event = try record.bytes.withUnsafeBytes { bytes throws -> RecordedEvent in
            guard let (previous, _, valid) = RecordCodec.checkHash(bytes), valid else {
                throw LogError.corrupt(position: position, reason: "the record's stored hash is not SHA-256 of its bytes: the record was altered")
            }
            guard session.head.hash.equals(previous) else {
                throw LogError.corrupt(
                    position: position, reason: "the record's previous hash is not the hash of position \(session.head.position): the chain is broken here")
            }
            do throws(RecordError) { return try RecordCodec.decode(bytes, expectedPosition: position) } catch {
                throw LogError.corrupt(position: position, reason: error.reason)
            }
        }
        if let commandId, event.commandId != commandId {
            throw LogError.corrupt(position: position, reason: "the record belongs to command \(event.commandId), not to \(commandId) as the records before it")
        }
        let stream = try streamHead(event.stream)
        guard event.streamVersion == stream.version + 1, event.previousPositionInStream == stream.lastPosition else {
            throw LogError.corrupt(
                position: position,
                reason: "the record says version \(event.streamVersion) of \(event.stream) after position \(event.previousPositionInStream); "
                    + "the log has version \(stream.version) ending at position \(stream.lastPosition)")
        }
        try record.bytes.withUnsafeBytes { bytes in
            try withUnsafeBytes(of: position.bigEndian) { key in try transaction.put(log.events, key: key, value: bytes, flags: .append) }
        }
        session.streams[event.stream] = StreamHead(version: event.streamVersion, lastPosition: position)
        session.touchedStreams.insert(event.stream)
        session.appended.append(event)
        session.head = LogHead(position: position, hash: event.hash)
        return event
    }
}
