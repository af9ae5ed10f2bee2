import LinliStore

/// What `linli audit verify --export FILE` finds in an exported file, without the store: the chain
/// re-checked over the records the file carries, the readable fields checked against those records, and
/// every projection rebuilt from the file alone.
public struct ExportReport: Sendable {
    /// The chain over the file's records.
    public var chain: ChainReport
    /// Lines whose readable fields disagree with their record, or that are not events at all.
    public var fieldMismatches: [ChainFailure]
    /// The rebuilt projections' digests, by `projection/database` (as ``AuditReport`` gives for the store).
    public var digests: [String: Hash]
    /// Published checkpoints the file does not extend (or that are malformed), each at its position.
    public var checkpointProblems: [ChainFailure] = []
    /// True when the chain holds, every line agrees with its record, and the file extends every checkpoint.
    public var ok: Bool { chain.ok && fieldMismatches.isEmpty && checkpointProblems.isEmpty }

    /// `{"ok","events","head","headPosition","stateDigest","mismatches":[...]}`.
    public var json: JSONValue {
        let mismatches =
            (chain.failures + fieldMismatches).map {
                JSONValue.object([("kind", "chain"), ("position", .int(Int64($0.position))), ("reason", .string($0.reason))])
            }
            + checkpointProblems.map { JSONValue.object([("kind", "checkpoint"), ("position", .int(Int64($0.position))), ("reason", .string($0.reason))]) }
        return [
            "ok": .bool(ok), "events": .int(Int64(chain.events)), "head": .string(chain.head.hash.hex), "headPosition": .int(Int64(chain.head.position)),
            "stateDigest": .string(AuditReport.stateDigest(digests).hex), "mismatches": .array(mismatches),
        ]
    }
}

extension Engine {
    /// Verifies an export (`linli export` lines) with no store at all: each line's `record` is checked in
    /// chain order exactly as the store's records are, its readable fields are compared with the record,
    /// and the decoded events are replayed into fresh projections whose digests can be compared with
    /// the store's (``AuditReport/json``'s `stateDigest`). Replay stops at the first line that is not a
    /// decodable record.
    ///
    /// With `checkpoints` (published statements), the file must also extend each one: hold, at its
    /// position, a record that verifies in the chain and carries the published hash. The published figures
    /// are checked against a store (`linli audit verify --checkpoint`, or `linli import --checkpoint`).
    public static func verifyExport(lines: some Sequence<[UInt8]>, checkpoints: [JSONValue] = [], progress: ((UInt64) -> Void)? = nil) throws -> ExportReport {
        var iterator = lines.makeIterator()
        return try verifyExport(readingLines: { iterator.next() }, checkpoints: checkpoints, progress: progress)
    }

    /// Verifies as ``verifyExport(lines:checkpoints:progress:)`` does, taking each line from `nextLine`
    /// (nil at the end). A read that fails is thrown as it is: a file cut short is never verified as if whole.
    public static func verifyExport(readingLines nextLine: () throws -> [UInt8]?, checkpoints: [JSONValue] = [], progress: ((UInt64) -> Void)? = nil)
        throws -> ExportReport
    {
        // The replay takes a sequence, whose iterator is stored: the closure outlives nothing it is given to.
        try withoutActuallyEscaping(nextLine) { nextLine in try verifyExport(escaping: nextLine, checkpoints: checkpoints, progress: progress) }
    }

    private static func verifyExport(escaping nextLine: @escaping () throws -> [UInt8]?, checkpoints: [JSONValue], progress: ((UInt64) -> Void)?) throws
        -> ExportReport
    {
        var published: [UInt64: String] = [:]
        var checkpointProblems: [ChainFailure] = []
        for (index, statement) in checkpoints.enumerated() {
            if let malformed = Checkpoints.malformation(statement) {
                checkpointProblems.append(ChainFailure(position: 0, reason: "checkpoint \(index + 1) is not a valid statement: \(malformed)"))
            } else {
                published[UInt64(statement["position"]!.intValue!)] = statement["head"]!.stringValue!
            }
        }
        var verifier = ChainVerifier(decodes: true)
        var mismatches: [ChainFailure] = []
        var lineNumber = 0
        var stopped = false
        var readFailure: (any Error)?
        func readLine() -> [UInt8]? {
            do { return try nextLine() } catch {
                readFailure = error
                stopped = true
                return nil
            }
        }
        var next: UInt64 = 1
        let events = AnySequence<RecordedEvent> {
            AnyIterator {
                while !stopped, let line = readLine() {
                    lineNumber += 1
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
                    guard let json = try? JSONParser.parse(line, lineBytesMax: ExportedLine.lineBytesMax, depthMax: ExportedLine.jsonDepthMax),
                        let position = json["position"]?.intValue, position > 0,
                        let hex = json["record"]?.stringValue, let record = bytes(fromHex: hex)
                    else {
                        mismatches.append(ChainFailure(position: 0, reason: "line \(lineNumber) is not an exported event with a record"))
                        stopped = true
                        return nil
                    }
                    let failuresBefore = verifier.report.failures.count
                    record.withUnsafeBytes { verifier.check(key: UInt64(position), record: $0) }
                    // Replay needs the log's order and records that hold: it stops at the first record the
                    // chain check refused (reported there), so an altered event is never replayed.
                    guard verifier.report.failures.count == failuresBefore, UInt64(position) == next,
                        let event = try? RecordedEvent.decode(stored: record, position: UInt64(position))
                    else {
                        stopped = true
                        return nil
                    }
                    next += 1
                    if let hash = published.removeValue(forKey: event.position), hash != event.hash.hex {
                        checkpointProblems.append(
                            ChainFailure(
                                position: event.position,
                                reason:
                                    "the record at the published position has hash \(event.hash.hex), not the published \(hash): the file does not extend the published history"
                            ))
                    }
                    let readable = EventExport.json(event)
                    for key in EventExport.readableFields where json[key] != readable[key] {
                        mismatches.append(ChainFailure(position: UInt64(position), reason: "line \(lineNumber): \(key) is not what the record holds"))
                    }
                    progress?(UInt64(lineNumber))
                    return event
                }
                return nil
            }
        }
        do {
            let replayed = try MemoryProjections.replaying(events, into: makeProjections(), digesting: true)
            if let readFailure { throw readFailure }
            for position in published.keys.sorted() {
                checkpointProblems.append(
                    ChainFailure(
                        position: position, reason: "the file's verified records end at position \(next - 1), before the published position \(position)"))
            }
            return ExportReport(chain: verifier.report, fieldMismatches: mismatches, digests: try replayed.digests(), checkpointProblems: checkpointProblems)
        } catch let error as LogError {
            // Records that hold but do not replay (an event referring to one the file lacks) are a finding.
            if let readFailure { throw readFailure }
            guard case .corrupt(let position, let reason) = error else { throw error }
            mismatches.append(ChainFailure(position: position, reason: "cannot replay: \(reason)"))
            return ExportReport(chain: verifier.report, fieldMismatches: mismatches, digests: [:])
        }
    }
}
