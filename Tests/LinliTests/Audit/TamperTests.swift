import Foundation
@testable import Linli
@testable import LinliStore
import Testing

/// Every way an insider with write access to the LMDB files could try to change history, each caught by
/// the check that should catch it, with the message an auditor needs.
@Suite("Audit: tampering")
struct TamperTests {
    /// A community with hours verified for r-1 (position of the verification returned), and a checkpoint
    /// published at the end.
    func world() throws -> (World, verified: UInt64, checkpoint: JSONValue) {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("hours.log", actor: "gw-1", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 180), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok("hours.verify", actor: "sw-1", [("log", "l-1")])
        let verified = try w.engine.log.head.position
        for n in 2...6 {
            try w.ok(
                "hours.log", actor: "gw-1", [("log", .string("l-\(n)")), ("volunteer", "r-2"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
        }
        let checkpoint = try w.engine.checkpoint()
        try w.ok("hours.verify", actor: "sw-1", [("log", "l-2")])
        return (w, verified, checkpoint)
    }

    var events: (EventLog) -> Database { { $0.events } }

    func record(_ log: EventLog, _ position: UInt64) throws -> [UInt8] {
        try #require(try log.environment.read { try $0.value(in: log.events, key: bigEndianKey(position)) })
    }

    func setHead(_ log: EventLog, _ head: LogHead) throws {
        try log.environment.write { try $0.put(log.meta, key: StoreLayout.headKey, value: head.encoded) }
    }

    /// Re-hashes every record from `position` on so that the chain is consistent again, as a careful
    /// insider would, after `change` rewrote the event at `position`.
    func rewriteChain(_ log: EventLog, from position: UInt64, change: (inout RecordedEvent) -> Void) throws {
        let head = try log.head
        var previous = try position == 1 ? Hash.genesis : log.event(at: position - 1)!.hash
        var writer = ByteWriter()
        for at in position...head.position {
            var event = try #require(try log.event(at: at))
            if at == position { change(&event) }
            let hash = event.payload.withUnsafeBytes { payload in
                RecordCodec.encode(
                    position: at, stream: event.stream, streamVersion: event.streamVersion, previousInStream: event.previousPositionInStream,
                    type: event.type, schemaVersion: event.schemaVersion, commandId: event.commandId, actor: event.actor,
                    occurredAt: event.occurredAt, recordedAt: event.recordedAt, payload: payload, previousHash: previous, into: &writer)
            }
            try log.environment.write { try $0.put(log.events, key: bigEndianKey(at), value: writer.bytes) }
            previous = hash
        }
        try setHead(log, LogHead(position: head.position, hash: previous))
    }

    @Test("an edited payload byte: the chain check names the position and says the record was altered")
    func editedPayload() throws {
        let (w, verified, _) = try world()
        let log = w.engine.log
        var bytes = try record(log, verified)
        // The payload sits just before the 32-byte hash; change one byte of it.
        bytes[bytes.count - 40] ^= 0x01
        try log.environment.write { try $0.put(log.events, key: bigEndianKey(verified), value: bytes) }
        let report = try w.engine.audit()
        #expect(!report.ok)
        #expect(report.chain.failures.map(\.position) == [verified])
        #expect(report.chain.failures.first?.reason.contains("altered") == true)
    }

    @Test("deleted last events: the stored head gives it away; with the head forged too, the projections do; with those rebuilt, the checkpoint does")
    func deletedLastEvents() throws {
        let (w, _, checkpoint) = try world()
        let log = w.engine.log
        let head = try log.head
        try log.environment.write { txn in
            for at in (head.position - 2)...head.position { _ = try txn.delete(log.events, key: bigEndianKey(at)) }
        }
        let naive = try w.engine.audit()
        #expect(naive.chain.failures.contains { $0.position == 0 && $0.reason.contains("stored head") })
        #expect(naive.projections.failure?.contains("missing") == true)
        // A careful insider moves the head back too: the chain holds, the projections still show the deleted events.
        let last = try #require(try log.event(at: head.position - 3))
        try setHead(log, LogHead(position: last.position, hash: last.hash))
        let careful = try w.engine.audit()
        #expect(careful.chain.ok)
        #expect(!careful.projections.ok)
        #expect(careful.projections.mismatches.contains { $0.projection == "ledger" && AuditRendering.key($0.key) == "resident:r-2" })
        // A thorough insider rebuilds the projections: only the published checkpoint catches it.
        try log.rebuildProjections()
        #expect(try w.engine.audit().ok)
        let checks = try w.engine.verify(checkpoints: [checkpoint])
        #expect(checks.first?.ok == false)
        #expect(checks.first?.problems.first?.contains("events were removed") == true)
    }

    @Test("a history rewritten consistently (every hash recomputed, projections rebuilt) passes the chain check but not the published checkpoint")
    func rewrittenChain() throws {
        let (w, verified, checkpoint) = try world()
        let log = w.engine.log
        #expect(try w.engine.verify(checkpoints: [checkpoint]).first?.ok == true)
        // Thirty points become three hundred.
        try rewriteChain(log, from: verified) { event in
            var payload = try! CBOR.decode(event.payload)
            payload = payload.setting("points", 300)
            event.payload = CBOR.encode(payload)
        }
        try log.rebuildProjections()
        let report = try w.engine.audit()
        #expect(report.ok, "a consistent rewrite is invisible to the chain and projection checks alone")
        #expect(try w.engine.balance(of: "resident:r-1").balance == 300)
        let check = try #require(try w.engine.verify(checkpoints: [checkpoint]).first)
        #expect(!check.ok && !check.extendsLog)
        #expect(check.problems.first?.contains("history before it was rewritten") == true)
    }

    @Test("a malformed checkpoint statement is a problem that names its field, never a crash; a missing event at a published position says so")
    func malformedStatements() throws {
        let (w, _, checkpoint) = try world()
        let cases: [(JSONValue, String)] = [
            (checkpoint.setting("position", -5), "position: must be a whole number from 1"),
            (checkpoint.setting("position", .string("7")), "position: must be a whole number from 1"),
            (checkpoint.setting("head", "abc"), "head: must be the event's hash"),
            (checkpoint.setting("linliCheckpoint", 2), "linliCheckpoint: must be 1"),
            (checkpoint.setting("communities", .null), "communities: must be an object"),
            ("just text", "a statement is a JSON object"),
        ]
        let checks = try w.engine.verify(checkpoints: cases.map(\.0))
        for (check, (_, expected)) in zip(checks, cases) {
            #expect(!check.ok)
            #expect(check.problems.first?.contains(expected) == true, "\(check.problems)")
        }
        // The event at the published position deleted, the head left where it was.
        let log = w.engine.log
        let position = UInt64(try #require(checkpoint["position"]?.intValue))
        try log.environment.write { txn in _ = try txn.delete(log.events, key: bigEndianKey(position)) }
        let missing = try #require(try w.engine.verify(checkpoints: [checkpoint]).first)
        #expect(!missing.ok && missing.problems.first?.contains("no event at the published position \(position)") == true, "\(missing.problems)")
    }

    @Test("two events swapped: the chain check finds the reordering")
    func reordered() throws {
        let (w, verified, _) = try world()
        let log = w.engine.log
        let first = try record(log, verified), second = try record(log, verified + 1)
        try log.environment.write { txn in
            try txn.put(log.events, key: bigEndianKey(verified), value: second)
            try txn.put(log.events, key: bigEndianKey(verified + 1), value: first)
        }
        let report = try w.engine.chainOnly()
        #expect(!report.ok)
        #expect(report.failures.contains { $0.position == verified && $0.reason.contains("another position") || $0.reason.contains("chain is broken") })
        #expect(report.failures.allSatisfy { [verified, verified + 1, verified + 2].contains($0.position) })
    }

    @Test("an export verified offline equals the store verified online; an edited export line is caught")
    func offlineEqualsOnline() throws {
        let (w, verified, _) = try world()
        let online = try w.engine.audit()
        let lines = try w.engine.log.events().map { Array(EventExport.json($0).text.utf8) }
        let offline = try Engine.verifyExport(lines: lines)
        #expect(offline.ok)
        #expect(offline.chain.events == online.chain.events && offline.chain.head == online.chain.head)
        #expect(offline.digests == online.projections.rebuiltDigests)
        #expect(offline.json["stateDigest"] == online.json["stateDigest"])
        // A readable field edited without its record is named; an edited record breaks the chain.
        var edited = lines
        let text = String(decoding: edited[Int(verified) - 1], as: UTF8.self).replacingOccurrences(of: #""points":30"#, with: #""points":3000"#)
        edited[Int(verified) - 1] = Array(text.utf8)
        let fields = try Engine.verifyExport(lines: edited)
        #expect(!fields.ok && fields.fieldMismatches.map(\.position) == [verified])
        #expect(fields.fieldMismatches.first?.reason.contains("payload") == true)
        var reordered = lines
        reordered.swapAt(3, 4)
        let swapped = try Engine.verifyExport(lines: reordered)
        #expect(!swapped.chain.ok)
    }

    @Test("explain: every posting of an account with its event from the log, adding up to the balance")
    func explainAccount() throws {
        let (w, verified, _) = try world()
        let explained = try w.engine.explain(account: "resident:r-1")
        #expect(explained["sumEqualsBalance"] == true)
        #expect(explained["balance"] == 30)  // 180 minutes at the default 10 points an hour
        let posting = try #require(explained["postings"]?.arrayValue?.first)
        #expect(posting["position"] == .int(Int64(verified)))
        #expect(posting["eventType"] == "hours.verified" && posting["eventAgrees"] == true)
        #expect(posting["pointsPerHour"] == 10)
        #expect(posting["eventHash"] == .string(try w.engine.log.event(at: verified)!.hash.hex))
    }
}

extension Engine {
    /// The chain check alone (a reordered store may not replay).
    func chainOnly() throws -> ChainReport { try log.verifyChain() }
}
