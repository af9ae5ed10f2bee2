import Foundation
@testable import Linli
@testable import LinliStore
@_exported import LinliTestSupport
import Testing

let fixedClock: @Sendable () -> Timestamp = { Timestamp(epochMilliseconds: 1_717_200_000_000) }

/// A store with an admin, and a line builder.
final class World {
    let dir = TemporaryDirectory()
    let engine: Engine
    var counter = 0

    /// A store whose audits replay the ledger in its parts (``Projection/replayParts``) unless
    /// `replayInParts` says otherwise, so that every audit test checks the parts too (nil: as a store
    /// outside the tests decides).
    init(admin: String = "admin", replayInParts: Bool? = true) throws {
        var options = Engine.Options()
        options.clock = fixedClock
        options.replayInParts = replayInParts
        engine = try Engine.create(at: dir.sub("store"), admin: admin, at: Timestamp(iso8601: "2024-01-01T08:00:00+08:00"), options: options)
    }

    func nextId(_ prefix: String = "setup") -> String {
        counter += 1
        return "\(prefix)-\(counter)"
    }

    /// An NDJSON line for a command.
    func line(_ name: String, actor: String, at: String = "2024-03-01T09:30:00+08:00", id: String? = nil, _ fields: [(String, JSONValue)]) -> String {
        JSONValue.object([("command", .string(name)), ("id", .string(id ?? nextId())), ("actor", .string(actor)), ("at", .string(at))] + fields).text
    }

    /// Runs a command and returns its outcome.
    @discardableResult
    func run(_ name: String, actor: String, at: String = "2024-03-01T09:30:00+08:00", id: String? = nil, _ fields: [(String, JSONValue)]) throws
        -> CommandOutcome
    {
        let report = try engine.apply(lines: [Array(line(name, actor: actor, at: at, id: id, fields).utf8)])
        return report.outcomes[0]
    }

    /// Runs a command that must succeed.
    func ok(
        _ name: String, actor: String, at: String = "2024-03-01T09:30:00+08:00", _ fields: [(String, JSONValue)],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let outcome = try run(name, actor: actor, at: at, fields)
        if let rejection = outcome.rejection { Issue.record("\(name) rejected: \(rejection)", sourceLocation: sourceLocation) }
    }

    /// Runs a command that must be rejected with `reason`, and checks that it wrote nothing.
    func refused(
        _ reason: Rejection.Reason, _ name: String, actor: String, at: String = "2024-03-01T09:30:00+08:00", _ fields: [(String, JSONValue)],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Rejection? {
        let before = try engine.log.head
        let outcome = try run(name, actor: actor, at: at, fields)
        #expect(outcome.rejection?.reason == reason, "\(name): \(outcome)", sourceLocation: sourceLocation)
        #expect(try engine.log.head == before, "a rejected command wrote something", sourceLocation: sourceLocation)
        return outcome.rejection
    }

    /// The pilot's basic set-up: a community, staff with one role each, residents and a rate.
    func setUpCommunity(_ community: String = "jiangshan") throws {
        try ok("community.register", actor: "admin", [("community", .string(community)), ("name", "市中心社区"), ("district", "虎山街道")])
        for (subject, role) in [
            ("sw-1", "socialWorker"), ("gw-1", "gridWorker"), ("sk-1", "storeKeeper"), ("cv-1", "convener"),
            ("md-1", "mediator"), ("au-1", "auditor"),
        ] {
            try ok("role.grant", actor: "admin", [("subject", .string(subject)), ("role", .string(role)), ("community", .string(community))])
        }
        for (resident, name) in [("r-1", "王秀英"), ("r-2", "李建国"), ("r-3", "张小明")] {
            try ok(
                "resident.register", actor: "gw-1",
                [
                    ("resident", .string(resident)), ("community", .string(community)), ("household", "h-1"),
                    ("name", .string(name)), ("birthYear", 1950),
                ])
        }
        try ok("points.rate.set", actor: "admin", at: "2023-12-01T00:00:00+08:00", [("community", .string(community)), ("pointsPerHour", 10)])
    }
}

extension Engine {
    /// Re-encodes an export from `position` on after `change` rewrote that event, re-chaining every record
    /// after it, as a forger who recomputes the hashes (which costs nothing) would.
    func forgedExport(at position: UInt64, _ change: (inout RecordedEvent) -> Void) throws -> [String] {
        var lines: [String] = []
        var previous = Hash.genesis
        var writer = ByteWriter()
        try log.read { reader in
            try reader.forEachEvent(from: 1) { event in
                var event = event
                if event.position == position { change(&event) }
                let hash = event.payload.withUnsafeBytes { payload in
                    RecordCodec.encode(
                        position: event.position, stream: event.stream, streamVersion: event.streamVersion, previousInStream: event.previousPositionInStream,
                        type: event.type, schemaVersion: event.schemaVersion, commandId: event.commandId, actor: event.actor,
                        occurredAt: event.occurredAt, recordedAt: event.recordedAt, payload: payload, previousHash: previous, into: &writer)
                }
                let rechained = try RecordedEvent.decode(stored: writer.bytes, position: event.position)
                let digest = try reader.commandRecord(event.commandId)!.digest
                lines.append(EventExport.json(rechained, requestDigest: digest).text)
                previous = hash
                return true
            }
        }
        return lines
    }

    /// The same, with the event's payload changed as a JSON object: `change` edits its fields.
    func forgedExport(at position: UInt64, payload change: @escaping (inout [(String, JSONValue)]) -> Void) throws -> [String] {
        try forgedExport(at: position) { event in
            guard case .object(var pairs) = try! CBOR.decode(event.payload) else { preconditionFailure("a payload is a map") }
            change(&pairs)
            event.payload = CBOR.encode(.object(pairs))
        }
    }
}
