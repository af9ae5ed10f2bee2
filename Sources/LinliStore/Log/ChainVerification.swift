/// One place where the chain does not hold.
public struct ChainFailure: Sendable, Equatable, CustomStringConvertible {
    /// The position of the record that failed (0 for the stored head).
    public var position: UInt64
    /// What failed.
    public var reason: String

    /// A failure.
    public init(position: UInt64, reason: String) {
        self.position = position
        self.reason = reason
    }

    public var description: String { position == 0 ? reason : "position \(position): \(reason)" }
}

/// The result of walking the whole chain.
public struct ChainReport: Sendable, Equatable {
    /// How many records were walked.
    public var events: UInt64
    /// The last record walked: its position and stored hash.
    public var head: LogHead
    /// The failures found, at most ``ChainVerifier/failuresMax``.
    public var failures: [ChainFailure]
    /// True when every record's hash, link and position held and the stored head matched.
    public var ok: Bool { failures.isEmpty }
}

/// Checks records one after another: each record's position is the previous one plus 1, its stored
/// previous hash is the previous record's stored hash, and its stored hash is SHA-256 of its bytes before
/// the hash. Works on raw bytes, so it is shared by the live store and by an exported file.
public struct ChainVerifier: Sendable {
    /// Failures beyond this many are counted but not kept.
    public static let failuresMax = 1_000

    /// Records checked so far.
    public private(set) var events: UInt64 = 0
    /// The last record's position and stored hash.
    public private(set) var head = LogHead.empty
    /// Failures so far.
    public private(set) var failures: [ChainFailure] = []
    /// Whether to decode each record fully (catching malformed fields) besides checking its hash.
    public let decodes: Bool

    /// A verifier expecting position 1 next.
    public init(decodes: Bool = true) { self.decodes = decodes }

    mutating func fail(_ position: UInt64, _ reason: String) {
        if failures.count < Self.failuresMax { failures.append(ChainFailure(position: position, reason: reason)) }
    }

    /// Checks the next stored record, stored under `key`.
    public mutating func check(key: UInt64, record: UnsafeRawBufferPointer) {
        let expected = head.position + 1
        events += 1
        if key != expected { fail(key, "expected position \(expected) next; a gap or reordering") }
        guard let (previous, hash, valid) = RecordCodec.checkHash(record) else {
            fail(key, "record of \(record.count) bytes is too short to hold a hash")
            head = LogHead(position: key, hash: .genesis)
            return
        }
        if !valid { fail(key, "stored hash does not match SHA-256 of the record: the record was altered") }
        if !head.hash.equals(previous) {
            fail(key, "previous hash does not match the hash of position \(head.position): the chain is broken here")
        }
        if decodes {
            // validate checks the stored position too, with the rest of the record's structure.
            do { try RecordCodec.validate(record, expectedPosition: key) } catch { fail(key, error.reason) }
        } else if RecordCodec.position(of: record) != key {
            fail(key, "the record holds another position than its key")
        }
        head = LogHead(position: key, hash: Hash(hash))
    }

    /// The report so far.
    public var report: ChainReport { ChainReport(events: events, head: head, failures: failures) }
}

extension EventLog {
    /// Re-checks the hash chain over every stored event, in one read snapshot, and compares the end with the
    /// stored head. A record that fails to decode is reported at its position, never a crash.
    public func verifyChain(decodes: Bool = true, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> ChainReport {
        try environment.read { txn in
            var verifier = ChainVerifier(decodes: decodes)
            // The log's pages lie between the projections' pages written in the same transactions, so even
            // this in-order walk maps pages it does not read; the budget keeps them from piling up.
            var budget = MappedPagesBudget(checkEvery: MappedPagesBudget.walkCheckEvery, releasingFirst: environment)
            let storedHead = try readHead(txn)
            let total = storedHead.position
            try txn.walk(events) { key, record in
                guard let position = bigEndianValue(key), key.count == 8 else {
                    verifier.fail(0, "an events key of \(key.count) bytes")
                    return true
                }
                verifier.check(key: position, record: record)
                budget.step(environment)
                if verifier.events % 65_536 == 0 { progress?(verifier.events, total) }
                return true
            }
            progress?(verifier.events, total)
            if verifier.head != storedHead {
                verifier.fail(
                    0,
                    "the stored head (position \(storedHead.position), \(storedHead.hash.hex.prefix(16))…) is not the last record (position \(verifier.head.position), \(verifier.head.hash.hex.prefix(16))…)"
                )
            }
            return verifier.report
        }
    }
}
