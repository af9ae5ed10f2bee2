import Foundation
@testable import Linli
@testable import LinliCodec
@testable import LinliStore
import Testing

/// A replay's read-ahead checks each event's type and payload on its own thread (``DomainEvent/Prepared``):
/// what the applying thread then reads must be what it would have checked itself, and a record that fails
/// its checks must still fail, at its position, when its turn comes.
@Suite("Events prepared where they are read")
struct PreparedEventTests {
    /// Every event of an elder-services store, prepared and not: the same type and the same fields.
    @Test("a prepared event reads as one checked where applied: the same type, the same bytes for every field, texts where they lie")
    func preparedMatchesChecked() throws {
        let w = try World()
        try w.setUpElders()
        try w.deliver("d-1", at: "2024-03-04T10:00:00+08:00")
        try w.deliver("d-2", at: "2024-03-05T10:00:00+08:00", service: "companionship", minutes: 45)
        let events = try w.engine.log.events(from: 1)
        #expect(events.count > 15)
        for record in events {
            var prepared = record
            prepared.prepared = try #require(DomainEvent.Prepared(checking: record), "\(record.type) at \(record.position)")
            let (checked, fast) = (try DomainEvent(record), try DomainEvent(prepared))
            #expect(checked.type == fast.type)
            guard case .object(let pairs) = checked.payload else { continue }
            for key in pairs.map(\.0) + ["absent"] {
                let slow = checked.withField(key) { $0.map { Array($0) } }
                #expect(fast.withField(key) { $0.map { Array($0) } } == slow, "\(record.type).\(key)")
                // A text read where it lies is the text read as a string; any other field is no text.
                var name = key
                let text = name.withUTF8 { fast.optionalText(keyBytes: UnsafeRawBufferPointer($0)) }
                #expect(text?.string == checked.optionalString(key), "\(record.type).\(key)")
                #expect(text.map { Array($0.bytes) } == checked.optionalString(key).map { Array($0.utf8) })
            }
        }
    }

    @Test("a text read where it lies that is not UTF-8 is repaired as a string of it is, so that keys made from either agree")
    func damagedTextIsRepaired() throws {
        let w = try World()
        try w.setUpElders()
        try w.deliver("d-1", at: "2024-03-04T10:00:00+08:00")
        var record = try #require(try w.engine.log.events(from: 1).last { $0.type == "service.delivered" })
        // {"elder": text of the bytes FF 41}: well-formed CBOR, not UTF-8.
        let valid = try #require(DomainEvent.Prepared(checking: record))
        #expect(valid.textIsUTF8)
        record.payload = [0xA1, 0x65] + Array("elder".utf8) + [0x62, 0xFF, 0x41]
        // Checked where applied, and prepared on a reading thread (which finds the text is not UTF-8).
        var prepared = record
        let preparation = try #require(DomainEvent.Prepared(checking: record))
        #expect(!preparation.textIsUTF8)
        prepared.prepared = preparation
        for e in [try DomainEvent(record), try DomainEvent(prepared)] {
            let text = try e.text("elder")
            #expect(text.string == e.optionalString("elder") && text.string == "\u{FFFD}A")
            #expect(Array(text.bytes) == Array(try e.string("elder").utf8))
        }
    }

    @Test("a record whose type or payload fails its checks is not prepared, and is a finding at its position when applied")
    func failuresWaitForTheirTurn() throws {
        let w = try World()
        try w.setUpElders()
        try w.deliver("d-1", at: "2024-03-04T10:00:00+08:00")
        let delivered = try #require(try w.engine.log.events(from: 1).last { $0.type == "service.delivered" })
        var cut = delivered, unknown = delivered
        cut.payload.removeLast(3)
        unknown.type = "service.teleported"
        for (record, words) in [(cut, "does not decode"), (unknown, "which Linli does not write")] {
            #expect(DomainEvent.Prepared(checking: record) == nil)
            #expect {
                _ = try DomainEvent(record)
            } throws: { error in
                guard case LogError.corrupt(let position, let reason) = error else { return false }
                return position == record.position && reason.contains(words)
            }
        }
    }
}
