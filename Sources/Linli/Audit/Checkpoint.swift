import LinliStore

/// Published checkpoints, as transparency logs publish signed tree heads: a short statement of the log's
/// position and head hash with each community's headline figures, meant for the notice board or the
/// bureau. Because each hash commits to every event before it, a log that still has the published hash at
/// the published position has not rewritten anything before it — even if an insider recomputed the whole
/// chain consistently, which the chain check alone cannot catch.
public enum Checkpoints {
    /// The statement's format version.
    public static let formatVersion: Int64 = 1

    /// What is wrong with a statement's form, naming the field, or nil when it is well formed: version 1,
    /// a position from 1, a head of 64 lower-case hex digits, the communities' figures as an object.
    static func malformation(_ statement: JSONValue) -> String? {
        guard case .object = statement else { return "a statement is a JSON object" }
        guard statement["linliCheckpoint"]?.intValue == formatVersion else { return "linliCheckpoint: must be \(formatVersion)" }
        guard let position = statement["position"]?.intValue, position >= 1 else { return "position: must be a whole number from 1" }
        guard let head = statement["head"]?.stringValue, head.utf8.count == 64,
            head.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            return "head: must be the event's hash, 64 lower-case hex digits"
        }
        guard case .object? = statement["communities"] else { return "communities: must be an object of each community's figures" }
        return nil
    }

    /// Each community's figures from the projections of `engine` (live or as of a position).
    static func figures(_ engine: Engine) throws -> JSONValue {
        let balances = try engine.balances()
        let issues = try engine.issues()
        let disputes = try engine.disputes()
        // Counting elders needs only their rows, not each one's tier and week of adherence.
        let elders = try engine.rows(of: \.elders, "elders").map { try $0.string("community") }
        var communities = Set(balances.compactMap { $0.account.hasPrefix("issuance:") ? String($0.account.dropFirst(9)) : nil })
        communities.formUnion(issues.map(\.community))
        communities.formUnion(disputes.map(\.community))
        communities.formUnion(elders)
        var out: [(String, JSONValue)] = []
        for community in communities.sorted() {
            let issued = -(balances.first { $0.account == "issuance:\(community)" }?.balance ?? 0)
            let redeemed = balances.first { $0.account == "store:\(community)" }?.balance ?? 0
            out.append(
                (
                    community,
                    [
                        "pointsIssued": .int(issued), "pointsRedeemed": .int(redeemed), "pointsOutstanding": .int(issued - redeemed),
                        "issues": .int(Int64(issues.filter { $0.community == community }.count)),
                        "disputes": .int(Int64(disputes.filter { $0.community == community }.count)),
                        "elders": .int(Int64(elders.filter { $0 == community }.count)),
                    ]
                ))
        }
        return .object(out)
    }
}

/// What checking one published checkpoint against today's log found.
public struct CheckpointCheck: Sendable {
    /// The published position.
    public var position: UInt64
    /// Whether the log still reaches the position with the published head hash.
    public var extendsLog: Bool
    /// Whether the figures recomputed at that position equal the published ones.
    public var figuresMatch: Bool
    /// What is wrong, for a person; empty when both hold.
    public var problems: [String]
    /// True when both hold.
    public var ok: Bool { extendsLog && figuresMatch }
}

extension Engine {
    /// A checkpoint statement for the head as it is now: `{"linliCheckpoint":1,"position","head","at",
    /// "communities":{…}}`, one line of JSON to publish.
    public func checkpoint(at now: Timestamp? = nil) throws -> JSONValue {
        let head = try log.head
        let time = (now ?? log.options.clock()).inOffset(Timestamp.shanghaiOffsetMinutes)
        // The figures come from the projections at exactly this head.
        let view = try asOf(position: head.position)
        return [
            "linliCheckpoint": .int(Checkpoints.formatVersion), "position": .int(Int64(head.position)), "head": .string(head.hash.hex),
            "at": .string(time.iso8601), "communities": try Checkpoints.figures(view),
        ]
    }

    /// Checks published checkpoints: the event at each position must still carry the published hash, and
    /// the projections replayed to that position must show the published figures.
    public func verify(checkpoints: [JSONValue]) throws -> [CheckpointCheck] {
        let head = try log.head
        var checks: [CheckpointCheck] = []
        for checkpoint in checkpoints {
            if let malformed = Checkpoints.malformation(checkpoint) {
                checks.append(
                    CheckpointCheck(position: 0, extendsLog: false, figuresMatch: false, problems: ["not a valid checkpoint statement: \(malformed)"]))
                continue
            }
            let position = UInt64(checkpoint["position"]!.intValue!)
            let published = checkpoint["head"]!.stringValue!
            var problems: [String] = []
            var extends = false
            if position > head.position {
                problems.append("the log ends at position \(head.position), before the published position \(position): events were removed")
            } else if let event = try log.event(at: position) {
                extends = event.hash.hex == published
                if !extends {
                    problems.append(
                        "the event at position \(position) has hash \(event.hash.hex), not the published \(published): history before it was rewritten")
                }
            } else {
                problems.append("the log has no event at the published position \(position), though its head is at \(head.position): events were removed")
            }
            var figuresMatch = false
            if extends {
                figuresMatch = try Checkpoints.figures(try asOf(position: position)) == checkpoint["communities"]
                if !figuresMatch { problems.append("the figures replayed to position \(position) differ from the published ones") }
            }
            checks.append(CheckpointCheck(position: position, extendsLog: extends, figuresMatch: figuresMatch, problems: problems))
        }
        return checks
    }
}
