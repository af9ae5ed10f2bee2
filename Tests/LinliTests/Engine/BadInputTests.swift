import Foundation
@testable import Linli
import Testing

@Suite("Bad input is rejected with its line and field, and writes nothing")
struct BadInputTests {
    static let valid =
        #"{"command":"hours.log","id":"c-1","actor":"gw-1","at":"2024-03-01T09:30:00+08:00","log":"l-1","volunteer":"r-1","minutes":90,"activity":"敲门入户","category":"visit"}"#

    /// Each case: a line, the reason code and the field it must name.
    static let cases: [(String, [UInt8], Rejection.Reason, String?)] = [
        ("malformed JSON", Array(#"{"command":"hours.log","id":"c-1""#.utf8), .invalidJSON, "id"),
        ("malformed value", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":9x"#).utf8), .invalidJSON, "minutes"),
        ("not an object", Array("[1,2]".utf8), .invalidJSON, nil),
        ("missing field", Array(valid.replacingOccurrences(of: #","minutes":90"#, with: "").utf8), .invalidField, "minutes"),
        ("mistyped field", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":"90""#).utf8), .invalidField, "minutes"),
        ("zero minutes", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":0"#).utf8), .invalidField, "minutes"),
        ("negative minutes", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":-5"#).utf8), .invalidField, "minutes"),
        ("too many minutes", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":721"#).utf8), .invalidField, "minutes"),
        (
            "number beyond Int64", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":92233720368547758070"#).utf8), .invalidJSON,
            "minutes"
        ),
        ("fractional number", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":90.5"#).utf8), .invalidJSON, "minutes"),
        ("exponent number", Array(valid.replacingOccurrences(of: #""minutes":90"#, with: #""minutes":9e1"#).utf8), .invalidJSON, "minutes"),
        ("unknown volunteer", Array(valid.replacingOccurrences(of: #""volunteer":"r-1""#, with: #""volunteer":"r-404""#).utf8), .unknownResident, "volunteer"),
        ("invalid UTF-8", Array(valid.utf8.prefix(120)) + [0xFF, 0xFE] + Array(valid.utf8.dropFirst(120)), .invalidJSON, nil),
        ("lone surrogate", Array(valid.replacingOccurrences(of: "敲门入户", with: #"\ud800"#).utf8), .invalidJSON, "activity"),
        ("unknown field", Array(valid.replacingOccurrences(of: #""log":"l-1""#, with: #""log":"l-1","minuets":5"#).utf8), .invalidField, "minuets"),
        ("duplicate key", Array(valid.replacingOccurrences(of: #""log":"l-1""#, with: #""log":"l-1","log":"l-2""#).utf8), .invalidJSON, nil),
        ("at without offset", Array(valid.replacingOccurrences(of: "2024-03-01T09:30:00+08:00", with: "2024-03-01T09:30:00").utf8), .invalidField, "at"),
        ("impossible date", Array(valid.replacingOccurrences(of: "2024-03-01T09:30:00+08:00", with: "2023-02-29T09:30:00+08:00").utf8), .invalidField, "at"),
        ("empty id", Array(valid.replacingOccurrences(of: #""id":"c-1""#, with: #""id":"""#).utf8), .invalidField, "id"),
        (
            "over-long id", Array(valid.replacingOccurrences(of: #""log":"l-1""#, with: "\"log\":\"\(String(repeating: "长", count: 30))\"").utf8),
            .invalidField, "log"
        ),
        ("over-long text", Array(valid.replacingOccurrences(of: "敲门入户", with: String(repeating: "敲", count: 100)).utf8), .invalidField, "activity"),
        (
            "unknown enum", Array(#"{"command":"resident.tag","id":"c-1","actor":"gw-1","at":"2024-03-01T09:30:00+08:00","resident":"r-1","tag":"rich"}"#.utf8),
            .invalidField, "tag"
        ),
        ("unknown command", Array(#"{"command":"hours.delete","id":"c-1","actor":"gw-1","at":"2024-03-01T09:30:00+08:00"}"#.utf8), .unknownCommand, "command"),
        ("over-long line", Array(valid.replacingOccurrences(of: "敲门入户", with: String(repeating: "a", count: (1 << 20) + 1)).utf8), .invalidJSON, nil),
    ]

    @Test("each kind of bad input", arguments: 0..<cases.count)
    func badInput(index: Int) throws {
        let (label, bytes, reason, field) = Self.cases[index]
        let w = try World()
        try w.setUpCommunity()
        let before = try w.engine.log.head
        let report = try w.engine.apply(lines: [
            Array(Self.valid.replacingOccurrences(of: "c-1", with: "c-0").replacingOccurrences(of: "l-1", with: "l-0").utf8), bytes,
        ])
        let rejection = report.outcomes[1].rejection
        #expect(rejection?.reason == reason, "\(label): \(report.outcomes[1])")
        if let field { #expect(rejection?.field == field, "\(label): field \(rejection?.field ?? "nil"), \(rejection?.message ?? "")") }
        #expect(rejection?.message.isEmpty == false)
        #expect(report.rejections.map(\.line) == [2], "the rejection names line 2")
        #expect(!report.committed && report.eventsAppended == 0)
        #expect(try w.engine.log.head == before, "\(label): the atomic batch wrote something")
    }

    @Test("the valid line itself is accepted (the cases above differ from it in one thing)")
    func validLine() throws {
        let w = try World()
        try w.setUpCommunity()
        #expect(try w.engine.execute(line: Self.valid) != .skipped)
    }

    @Test("atomic batches write nothing on any rejection; --continue commits the valid lines; CRLF and empty lines")
    func batchModes() throws {
        let w = try World()
        try w.setUpCommunity()
        let lines = [
            w.line("hours.log", actor: "gw-1", id: "b-1", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
                + "\r",
            "",
            w.line("hours.verify", actor: "sw-1", id: "b-2", [("log", "l-1")]),
            w.line("hours.verify", actor: "sw-1", id: "b-3", [("log", "l-404")]),
            w.line(
                "hours.log", actor: "gw-1", id: "b-4", [("log", "l-2"), ("volunteer", "r-404"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")]),
        ].map { Array($0.utf8) }
        let head = try w.engine.log.head
        let atomic = try w.engine.apply(lines: lines)
        #expect(atomic.rejections.map(\.line) == [4, 5])
        #expect(atomic.rejections.map(\.rejection.reason) == [.unknownLog, .unknownResident])
        #expect(atomic.outcomes[1] == .skipped)
        let headAfter = try w.engine.log.head
        #expect(!atomic.committed && headAfter == head)
        // The line that depended on an earlier line of the batch was evaluated against it.
        if case .applied = atomic.outcomes[2] {} else { Issue.record("line 3 should have been applied within the batch: \(atomic.outcomes[2])") }
        let continued = try w.engine.apply(lines: lines, mode: .continueOnRejection)
        #expect(continued.committed && continued.applied == 2 && continued.rejected == 2)
        #expect(try w.engine.balance(of: "resident:r-1").balance == 10)
        // A rejected command leaves no trace: its id can be used later.
        let retry = try w.engine.apply(lines: [
            Array(
                w.line(
                    "hours.log", actor: "gw-1", id: "b-4", [("log", "l-2"), ("volunteer", "r-2"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")]
                ).utf8)
        ])
        #expect(retry.committed && retry.rejected == 0)
    }

    @Test("the same id with the same body is a no-op success; with another body, duplicateCommandId")
    func idempotency() throws {
        let w = try World()
        try w.setUpCommunity()
        let line = w.line(
            "hours.log", actor: "gw-1", id: "same", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
        guard case .applied(let first, let last) = try w.engine.execute(line: line) else { Issue.record("not applied"); return }
        let head = try w.engine.log.head
        // The same body with its keys in another order and other spacing is the same command.
        let reordered =
            #"{ "minutes": 60, "command": "hours.log", "id": "same", "actor": "gw-1", "at": "2024-03-01T09:30:00+08:00", "log": "l-1", "volunteer": "r-1", "activity": "巡逻", "category": "patrol" }"#
        #expect(try w.engine.execute(line: reordered) == .duplicate(firstPosition: first, lastPosition: last))
        #expect(try w.engine.log.head == head)
        let other = w.line(
            "hours.log", actor: "gw-1", id: "same", [("log", "l-9"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")])
        #expect(throws: Rejection.self) { try w.engine.execute(line: other) }
        let rejection = try w.engine.apply(lines: [Array(other.utf8)]).outcomes[0].rejection
        #expect(rejection?.reason == .duplicateCommandId && rejection?.field == "id")

        // Within one batch too: the id looked up for a line that is then rejected, and an id appended
        // earlier in the same transaction (the log skips a second look-up only for the id just found unused).
        let batch = [
            w.line(
                "hours.log", actor: "gw-1", id: "b-1", [("log", "l-2"), ("volunteer", "r-404"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")]),
            w.line("hours.log", actor: "gw-1", id: "b-1", [("log", "l-2"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")]),
            w.line("hours.log", actor: "gw-1", id: "b-1", [("log", "l-2"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")]),
            w.line("hours.log", actor: "gw-1", id: "b-1", [("log", "l-3"), ("volunteer", "r-1"), ("minutes", 60), ("activity", "巡逻"), ("category", "patrol")]),
        ].map { Array($0.utf8) }
        let report = try w.engine.apply(lines: batch, mode: .continueOnRejection)
        #expect(report.outcomes[0].rejection?.reason == .unknownResident)
        guard case .applied(let batchFirst, let batchLast) = report.outcomes[1] else { Issue.record("not applied: \(report.outcomes[1])"); return }
        #expect(report.outcomes[2] == .duplicate(firstPosition: batchFirst, lastPosition: batchLast))
        #expect(report.outcomes[3].rejection?.reason == .duplicateCommandId)
        #expect(report.eventsAppended == 1)
    }
}

@Suite("Identifiers are ASCII, compared byte for byte (DOMAIN.md section 2)")
struct IdentifierTests {
    @Test("a look-alike id (KELVIN SIGN for K), a space, a leading dot or Chinese is invalidField naming the field; names stay UTF-8")
    func lookAlikes() throws {
        let w = try World()
        try w.setUpCommunity()
        try w.ok(
            "resident.register", actor: "gw-1", [("resident", "r-K1"), ("community", "jiangshan"), ("household", "h-9"), ("name", "王秀英"), ("birthYear", 1948)])
        for bad in ["r-\u{212A}1", "r 1", ".r1", "居民1", "r-1\u{0301}"] {
            let outcome = try w.run(
                "resident.register", actor: "gw-1",
                [
                    ("resident", .string(bad)), ("community", "jiangshan"), ("household", "h-9"),
                    ("name", "王秀英"), ("birthYear", 1948),
                ])
            #expect(outcome.rejection?.reason == .invalidField && outcome.rejection?.field == "resident", "\(bad): \(outcome)")
        }
        // The actor is an identifier too: a look-alike of a granted worker is refused before any role check.
        let actor = try w.run(
            "resident.register", actor: "gw-\u{0031}\u{20DD}",
            [
                ("resident", "r-2"), ("community", "jiangshan"), ("household", "h-9"),
                ("name", "王秀英"), ("birthYear", 1948),
            ])
        #expect(actor.rejection?.reason == .invalidField && actor.rejection?.field == "actor", "\(actor)")
        // Names are free UTF-8: a compound named in Chinese is accepted.
        try w.ok(
            "resident.register", actor: "gw-1",
            [
                ("resident", "r-30"), ("community", "jiangshan"), ("household", "h-9"), ("name", "李建国"),
                ("birthYear", 1975), ("compound", "紫港小区"),
            ])
    }
}
