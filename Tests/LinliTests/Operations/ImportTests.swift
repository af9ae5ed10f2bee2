import Foundation
@testable import Linli
@testable import LinliStore
import Testing

/// Import and replicas (issue 20): a store made from an export holds the same log and the same figures;
/// an export that was altered, forged or does not extend the store is refused at its position, and a
/// refused import leaves nothing behind.
@Suite("Operations: import, restore from an export, replicas")
struct ImportTests {
    /// A community with points earned, moved and spent, so that every projection of the ledger holds rows.
    func source() throws -> World {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("hours.log", actor: "gw-1", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 180), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok("hours.verify", actor: "sw-1", [("log", "l-1")])
        try w.ok("points.transfer", actor: "r-1", [("from", "r-1"), ("to", "r-3"), ("points", 12), ("reason", "转赠困难户")])
        try w.ok("gift.stock", actor: "sk-1", [("item", "rice"), ("community", "jiangshan"), ("name", "大米5斤"), ("pricePoints", 10), ("quantity", 2)])
        try w.ok("gift.redeem", actor: "sk-1", [("item", "rice"), ("resident", "r-1"), ("redemption", "rd-1"), ("quantity", 1)])
        return w
    }

    func exportLines(_ engine: Engine, from: UInt64 = 1) throws -> [String] {
        var lines: [String] = []
        try engine.export(from: from) { lines.append($0.text) }
        return lines
    }

    func bytes(_ lines: [String]) -> [[UInt8]] { lines.map { Array($0.utf8) } }

    /// What an auditor compares: the head, and the digest of every stored projection database.
    func figures(_ engine: Engine) throws -> (LogHead, [String: Hash], [Balance]) {
        let report = try engine.audit()
        #expect(report.ok)
        return (try engine.log.head, report.projections.storedDigests, try engine.balances())
    }

    @Test("an imported store has the source's positions, records, head, identity and figures, and refuses a reused command id as the source does")
    func restoreFromExport() throws {
        let w = try source()
        let dir = TemporaryDirectory()
        let lines = try exportLines(w.engine)
        let report = try Engine.importExport(lines: bytes(lines), into: dir.sub("restored"))
        #expect(report.eventsAppended == UInt64(lines.count))
        let restored = try Engine.open(at: dir.sub("restored"))
        #expect(try exportLines(restored) == lines)
        let (sourceHead, sourceDigests, sourceBalances) = try figures(w.engine)
        let (head, digests, balances) = try figures(restored)
        #expect(head == sourceHead && digests == sourceDigests && balances == sourceBalances)
        #expect(try restored.status().store.identity == w.engine.status().store.identity)
        // The same id with another body is refused there as here; with the same body it is a duplicate.
        let reused = w.line(
            "hours.log", actor: "gw-1", id: "setup-1", [("log", "l-9"), ("volunteer", "r-2"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
        for engine in [w.engine, restored] {
            #expect { try engine.execute(line: reused) } throws: { ($0 as? Rejection)?.reason == .duplicateCommandId }
        }
        #expect(try restored.log.read { try $0.commandRecord("setup-2") }?.digest == w.engine.log.read { try $0.commandRecord("setup-2") }?.digest)
    }

    @Test("one altered hex digit of any line's record is refused at that line and position, and leaves no folder behind", arguments: [UInt64(7), 19, 23])
    func alteredByte(seed: UInt64) throws {
        let w = try source()
        var lines = try exportLines(w.engine)
        var random = SplitMix64(state: seed)
        let index = random.below(lines.count)
        var json = try JSONParser.parse(Array(lines[index].utf8))
        let record = try #require(json["record"]?.stringValue)
        var digits = Array(record)
        let at = random.below(digits.count)
        digits[at] = digits[at] == "0" ? "1" : "0"
        if case .object(let pairs) = json { json = .object(pairs.map { $0.0 == "record" ? ($0.0, .string(String(digits))) : $0 }) }
        lines[index] = json.text
        let dir = TemporaryDirectory()
        #expect {
            try Engine.importExport(lines: bytes(lines), into: dir.sub("r"))
        } throws: { error in
            guard let refusal = error as? ImportRefusal else { return false }
            return refusal.lineNumber == index + 1
        }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("r")))
    }

    @Test("a re-chained export whose transfer takes a balance below zero is refused at that position, and leaves nothing behind")
    func rechainedInvariantBreak() throws {
        let w = try source()
        let transfer = try #require(try exportLines(w.engine).firstIndex { $0.contains("\"type\":\"points.transferred\"") }) + 1
        let lines = try w.engine.forgedExport(at: UInt64(transfer)) { event in
            var payload = try! CBOR.decode(event.payload)
            if case .object(let pairs) = payload { payload = .object(pairs.map { $0.0 == "points" ? ($0.0, .int(5_000)) : $0 }) }
            event.payload = CBOR.encode(payload)
        }
        // The forgery holds as a chain: only the rules can refuse it.
        #expect(try Engine.verifyExport(lines: bytes(lines)).chain.ok)
        let dir = TemporaryDirectory()
        #expect {
            try Engine.importExport(lines: bytes(lines), into: dir.sub("r"))
        } throws: { error in
            guard let refusal = error as? ImportRefusal else { return false }
            return refusal.position == UInt64(transfer) && refusal.lineNumber == transfer && refusal.reason.contains("below zero")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("r")))
    }

    @Test("an altered record whose readable fields were altered to match is refused by its hash at its position")
    func consistentAlteration() throws {
        let w = try source()
        var lines = try exportLines(w.engine)
        let index = lines.count - 2
        let event = try #require(try w.engine.log.event(at: UInt64(index + 1)))
        var altered = event.storedBytes
        altered[altered.count - 40] ^= 0x01
        // Decode what the altered bytes hold and print them as the readable fields: only the hash can tell.
        let decoded = try RecordedEvent.decode(stored: altered, position: event.position)
        lines[index] = EventExport.json(decoded, requestDigest: try w.engine.log.read { try $0.commandRecord(event.commandId) }!.digest).text
        let dir = TemporaryDirectory()
        #expect {
            try Engine.importExport(lines: bytes(lines), into: dir.sub("r"))
        } throws: { error in
            (error as? ImportRefusal).map { $0.position == event.position && $0.reason.contains("altered") } ?? false
        }
    }

    @Test("with published checkpoints: an export that extends them imports; a forged hash, or a checkpoint past its end, is refused")
    func checkpoints() throws {
        let w = try source()
        let published = try w.engine.checkpoint()
        try w.ok("hours.log", actor: "gw-1", [("log", "l-2"), ("volunteer", "r-2"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
        let lines = bytes(try exportLines(w.engine))
        let dir = TemporaryDirectory()
        let report = try Engine.importExport(lines: lines, into: dir.sub("ok"), checkpoints: [published])
        #expect(report.checkpointsChecked == 1)
        var forged = published
        if case .object(let pairs) = forged { forged = .object(pairs.map { $0.0 == "head" ? ($0.0, .string(String(repeating: "ab", count: 32))) : $0 }) }
        #expect(throws: ImportRefusal.self) { try Engine.importExport(lines: lines, into: dir.sub("forged"), checkpoints: [forged]) }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("forged")))
        let later = try w.engine.checkpoint()
        #expect(throws: ImportRefusal.self) { try Engine.importExport(lines: Array(lines.dropLast()), into: dir.sub("short"), checkpoints: [later]) }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("short")))
    }

    @Test("a replica follows its source in steps, overlapping or not, with the same figures at each step; it takes no commands and never a fork")
    func replicaFollowsInSteps() throws {
        let w = try source()
        let dir = TemporaryDirectory()
        let start = try exportLines(w.engine)
        _ = try Engine.importExport(lines: bytes(Array(start.prefix(10))), into: dir.sub("replica"), replicaOf: "jiangshan office")
        let replica = try Engine.open(at: dir.sub("replica"))
        #expect(replica.log.replicaSource == "jiangshan office")
        for step in 0..<3 {
            for n in 0..<4 {
                try w.ok(
                    "hours.log", actor: "gw-1",
                    [("log", .string("s\(step)-\(n)")), ("volunteer", "r-2"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")])
            }
            // Step 0 ships from position 1 (everything overlaps), then from a few records before the head.
            let from = step == 0 ? 1 : try replica.log.head.position - 2
            let report = try replica.follow(lines: bytes(try exportLines(w.engine, from: from)))
            #expect(report.eventsAlreadyHeld > 0)
            let (sourceHead, sourceDigests, sourceBalances) = try figures(w.engine)
            let (head, digests, balances) = try figures(replica)
            #expect(head == sourceHead && digests == sourceDigests && balances == sourceBalances, "step \(step)")
        }
        // Commands are refused, naming the source.
        #expect {
            try replica.execute(
                line: w.line("hours.log", actor: "gw-1", [("log", "x"), ("volunteer", "r-2"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")]))
        } throws: { error in
            (error as? LogError).map { "\($0)".contains("replica of jiangshan office") } ?? false
        }
        // Another community's log shares the init event and differs from position 2 on: a fork.
        let other = try World()
        try other.setUpCommunity("hexi")
        let headBefore = try replica.log.head
        #expect {
            try replica.follow(lines: bytes(try exportLines(other.engine)))
        } throws: { error in
            (error as? ImportRefusal).map { $0.position == 2 && $0.reason.contains("fork") } ?? false
        }
        // A gap is refused too.
        try w.ok("hours.log", actor: "gw-1", [("log", "g-1"), ("volunteer", "r-2"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")])
        try w.ok("hours.log", actor: "gw-1", [("log", "g-2"), ("volunteer", "r-2"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")])
        #expect(throws: ImportRefusal.self) { try replica.follow(lines: bytes(try exportLines(w.engine, from: headBefore.position + 2))) }
        #expect(try replica.log.head == headBefore)
        // A store that is not a replica does not follow.
        #expect(throws: ImportRefusal.self) { try other.engine.follow(lines: bytes(try exportLines(w.engine))) }
    }

    @Test("an event nested as deep as a command exports, verifies and imports: the export's line is one level deeper")
    func deepestCommandExports() throws {
        let w = try World()
        try w.setUpCommunity()
        // The deepest `basic` a survey line may carry: one level more is refused as invalid JSON.
        func basic(_ levels: Int) -> JSONValue { (0..<levels).reduce(JSONValue.string("底")) { inner, _ in ["层": inner] } }
        var levels = 1
        while try w.run(
            "elder.survey", actor: "sw-1",
            [
                ("elder", "r-1"), ("basic", basic(levels + 1)), ("health", ["adl": 80]), ("needs", []),
                ("serviceWillingness", ["willing": true]), ("workWillingness", ["willing": false]),
            ]
        ).rejection == nil {
            levels += 1
            #expect(levels < JSONParser.depthMax + 2, "the command path has a depth limit")
            if levels >= JSONParser.depthMax + 2 { return }
        }
        let lines = try exportLines(w.engine)
        #expect(try Engine.verifyExport(lines: bytes(lines)).ok)
        let dir = TemporaryDirectory()
        let report = try Engine.importExport(lines: bytes(lines), into: dir.sub("r"))
        #expect(report.head == (try w.engine.log.head))
    }
}
