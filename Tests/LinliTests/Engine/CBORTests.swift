import Foundation
@testable import Linli
import Testing

/// The byte-level CBOR paths projections use (field look-ups, in-place updates, the map writer, the
/// non-allocating checks) must give exactly what the tree-building paths give: a live projection written
/// one way and rebuilt the other would otherwise fail `audit verify`. Seeded, bounded counts.
@Suite("CBOR: field reads, updates and checks agree with full decoding")
struct CBORTests {
    static let texts = ["", "a", "state", "市中心社区", "王秀英", "敲门入户", "2024-02-01T09:30:00+08:00", "résumé", "🙂", String(repeating: "x", count: 300)]
    static let keys = ["log", "state", "at", "atMs", "community", "points", "名字", "quantity", "a", "reversed"]
    /// The same keys as literals, for the map writer's literal keys.
    static let literalKeys: [StaticString] = ["log", "state", "at", "atMs", "community", "points", "名字", "quantity", "a", "reversed"]

    static func randomValue(_ random: inout SplitMix64, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &random) {
        case 0: return .int(Int64.random(in: Int64.min...Int64.max, using: &random) >> Int64.random(in: 0...63, using: &random))
        case 1: return .string(texts.randomElement(using: &random)!)
        case 2: return .bool(Bool.random(using: &random))
        case 3: return Bool.random(using: &random) ? .null : .int(Int64.random(in: -30...30, using: &random))
        case 4: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(&random, depth: depth + 1) })
        default: return randomMap(&random, depth: depth + 1)
        }
    }

    static func randomMap(_ random: inout SplitMix64, depth: Int) -> JSONValue {
        var pairs: [(String, JSONValue)] = []
        for key in keys.shuffled(using: &random).prefix(Int.random(in: 0...keys.count, using: &random)) {
            pairs.append((key, randomValue(&random, depth: depth)))
        }
        return .object(pairs)
    }

    @Test("a field read alone equals the field of the decoded value, for every key present or absent")
    func fieldsMatchDecoding() throws {
        var random = SplitMix64(state: 11)
        for _ in 0..<2_000 {
            let value = Self.randomMap(&random, depth: 0)
            let row = Row(position: 7, value: value)
            #expect(row.value == value)
            for key in Self.keys {
                #expect(row[key] == value[key])
                #expect(row.optionalString(key) == value[key]?.stringValue)
                #expect(row.optionalInt(key) == value[key]?.intValue)
                #expect(row.bool(key) == (value[key] == .bool(true)))
            }
        }
    }

    @Test("a field found through a map's index (an event's payload) is the field the walk finds, present or absent")
    func indexedFieldsMatchWalking() throws {
        var random = SplitMix64(state: 15)
        var found = 0
        for _ in 0..<2_000 {
            let bytes = CBOR.encode(Self.randomMap(&random, depth: 0))
            try bytes.withUnsafeBytes { map in
                let index = try #require(try CBOR.validateIndexing(map))
                for var key in Self.keys + ["stat", "states", ""] {
                    let walked = CBOR.field(key, in: map).map(Array.init)
                    let indexed = key.withUTF8 { index.field(UnsafeRawBufferPointer($0), in: map) }.map(Array.init)
                    #expect(indexed == walked, "key \(key) of \(bytes)")
                    if walked != nil { found += 1 }
                }
            }
        }
        #expect(found > 5_000, "most maps carry some of the keys: \(found)")
        // Keys whose heads take two and three bytes (24 and 256 bytes long or more), beside short ones; and a
        // key repeated, whose first value both find.
        let long = String(repeating: "k", count: 30), longer = String(repeating: "长", count: 100)
        let map: JSONValue = .object([("a", .int(1)), (long, .string("x")), (longer, .array([.int(2), .string(long)])), ("a", .int(3)), ("z", .null)])
        let bytes = CBOR.encode(map)
        try bytes.withUnsafeBytes { map in
            let index = try #require(try CBOR.validateIndexing(map))
            for var key in ["a", long, longer, "z", String(long.dropLast()), "b"] {
                let walked = CBOR.field(key, in: map).map(Array.init)
                let indexed = key.withUTF8 { index.field(UnsafeRawBufferPointer($0), in: map) }.map(Array.init)
                #expect(indexed == walked, "key of \(key.utf8.count) bytes")
            }
            var first = "a"
            #expect(first.withUTF8 { index.field(UnsafeRawBufferPointer($0), in: map) }.flatMap(CBOR.int) == 1)
        }
        // Not a map: valid, but no index.
        for value: JSONValue in [.int(3), .string("a"), .array([.int(1)]), .null] {
            #expect(try CBOR.encode(value).withUnsafeBytes { try CBOR.validateIndexing($0) } == nil)
        }
    }

    @Test("an in-place update gives the bytes of JSONValue.setting, and the map writer those of encode")
    func updatesMatchSetting() throws {
        var random = SplitMix64(state: 12)
        for _ in 0..<2_000 {
            let value = Self.randomMap(&random, depth: 0)
            let changes = Self.keys.shuffled(using: &random).prefix(Int.random(in: 0...4, using: &random))
                .map { ($0, Self.randomValue(&random, depth: 1)) }
            var expected = value
            for (key, new) in changes { expected = expected.setting(key, new) }
            let updated = CBOR.encode(value).withUnsafeBytes { CBOR.updating($0, changes, position: 42) }
            #expect(updated == Rows.encode(expected, position: 42))

            var writer = CBORMapWriter(count: expected.pairs.count, position: 42)
            for (key, item) in expected.pairs {
                switch item {
                case .string(let text): writer.string(Self.literalKeys[Self.keys.firstIndex(of: key)!], text)
                case .int(let number): writer.int(Self.literalKeys[Self.keys.firstIndex(of: key)!], number)
                default: writer.value(key, item)
                }
            }
            let written = writer.finish()
            #expect(written == Rows.encode(expected, position: 42))
        }
    }

    /// Counter names, as literals (``CBOR/Counter``), among ``keys``.
    static let counterKeys: [StaticString] = ["state", "atMs", "points", "名字", "quantity", "a"]

    @Test("two counters increased in one walk give the bytes of an update to their sums; an absent, repeated, non-whole or overflowing counter is named")
    func incrementsMatchUpdating() throws {
        var random = SplitMix64(state: 16)
        var outcomes: [String: Int] = [:]
        for _ in 0..<2_000 {
            // A random map, whose counters are mostly whole numbers, now and then absent, not whole, or near
            // the edge of Int64.
            var value = Self.randomMap(&random, depth: 1)
            let names = Self.counterKeys.shuffled(using: &random)
            let first: CBOR.Counter = (names[0], Int64.random(in: -720...720, using: &random))
            let second: CBOR.Counter = (names[1], Int64.random(in: -720...720, using: &random))
            let deltas = [(key: "\(first.key)", delta: first.delta), (key: "\(second.key)", delta: second.delta)]
            for (key, _) in deltas {
                switch Int.random(in: 0..<20, using: &random) {
                case 0: value = .object(value.pairs.filter { $0.0 != key })
                case 1: value = value.setting(key, .string("12"))
                case 2: value = value.setting(key, .int(Bool.random(using: &random) ? .max - 100 : .min + 100))
                case 3, 4:
                    // Near a width's edge, where the sum takes more or fewer bytes than the value.
                    let edge: Int64 = [0, 24, 256, 65_536, 4_294_967_296, -24, -256, -65_536].randomElement(using: &random)!
                    value = value.setting(key, .int(edge + Int64.random(in: -720...720, using: &random)))
                default: value = value.setting(key, .int(Int64.random(in: 0...1_000_000, using: &random)))
                }
            }
            var encoded = CBOR.encode(value)
            // Now and then a counter twice, as no map Linli writes has it.
            var repeated: String?
            let twice = deltas[Int.random(in: 0...1, using: &random)].key
            if Int.random(in: 0..<15, using: &random) == 0, value[twice] != nil, case .object(let pairs) = value {
                encoded = CBOR.encode(.object(pairs + [(twice, .int(1))]))
                repeated = twice
            }
            // A stored row: its position, then the map.
            let original = bigEndianKey(7) + encoded
            var row = original
            let outcome = CBOR.increment(&row, mapAt: 8, first, second, position: 42)
            func fails(_ key: String, _ delta: Int64) -> Bool { value[key]?.intValue.map { $0.addingReportingOverflow(delta).overflow } ?? true }
            if case .updated = outcome {} else { #expect(row == original, "a failed increase leaves the row as it was") }
            switch outcome {
            case .updated:
                #expect(repeated == nil && !deltas.contains { fails($0.key, $0.delta) }, "no counter fails: \(deltas) of \(value)")
                let changes = deltas.map { ($0.key, JSONValue.int(value[$0.key]!.intValue! + $0.delta)) }
                #expect(row == CBOR.encode(value).withUnsafeBytes { CBOR.updating($0, changes, position: 42) })
                // Written where the old values lay, or made again when a value's width changed.
                outcomes[row.count == original.count ? "updated in place" : "updated and made again", default: 0] += 1
            case .notAWholeNumber(let key):
                #expect(deltas.contains { $0.key == key } && (repeated != nil || value[key]?.intValue == nil), "\(key) is named as not whole in \(value)")
                // A counter there twice is the one named, unless another fails first.
                if let repeated, !deltas.contains(where: { fails($0.key, $0.delta) }) { #expect(key == repeated, "\(repeated) is there twice") }
                outcomes["not whole", default: 0] += 1
            case .overflows(let key, let old, let delta):
                #expect(deltas.contains { $0 == (key, delta) } && value[key]?.intValue == old && old.addingReportingOverflow(delta).overflow)
                outcomes["overflows", default: 0] += 1
            case .malformed(let error):
                Issue.record("an encoded map is malformed: \(error)")
            }
        }
        #expect(outcomes.count == 4 && outcomes.values.allSatisfy { $0 > 20 }, "every outcome is exercised: \(outcomes)")
    }

    @Test("counters increased in one walk check the row as validation does: damaged bytes are malformed exactly when it rejects them")
    func incrementsCheckTheRow() throws {
        var random = SplitMix64(state: 17)
        var malformed = 0
        for _ in 0..<4_000 {
            let value = Self.randomMap(&random, depth: 1).setting("minutes", .int(Int64.random(in: 0...1_000, using: &random)))
                .setting("a", .int(Int64.random(in: 0...1_000, using: &random)))
            var bytes = CBOR.encode(value)
            // Damage, as a torn or edited row would be: a flipped byte, a cut, a byte too many.
            switch Int.random(in: 0..<4, using: &random) {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            case 1: bytes.removeLast(Int.random(in: 1...min(3, bytes.count - 1), using: &random))
            case 2: bytes.append(UInt8.random(in: 0...255, using: &random))
            default: break
            }
            let valid = bytes.withUnsafeBytes { (try? CBOR.validate($0, checkingText: false)) != nil }
            let original = bigEndianKey(3) + bytes
            var row = original
            let outcome = CBOR.increment(&row, mapAt: 8, ("minutes", 1), ("a", 1), position: 7)
            if case .malformed = outcome {
                #expect(!valid, "a valid row is called malformed: \(bytes)")
                #expect(row == original)
                malformed += 1
            } else {
                #expect(valid, "a damaged row is increased: \(bytes) gives \(outcome)")
            }
        }
        #expect(malformed > 500, "damage is exercised: \(malformed)")
        // A well-formed row that is not a map holds no counter: not malformed, and unchanged.
        var array = bigEndianKey(3) + CBOR.encode(.array([.int(1), .int(2)]))
        let before = array
        guard case .notAWholeNumber(let key) = CBOR.increment(&array, mapAt: 8, ("minutes", 1), ("a", 1), position: 7) else {
            Issue.record("an array row is not a map of counters")
            return
        }
        #expect(key == "minutes" && array == before)
    }

    @Test("the non-allocating check accepts exactly what the decoder accepts, on damaged bytes too")
    func validationMatchesDecoding() throws {
        var random = SplitMix64(state: 13)
        var rejected = 0
        for _ in 0..<4_000 {
            var bytes = CBOR.encode(Self.randomValue(&random, depth: 0))
            // Damage: flip, cut or extend, as a torn or edited value would be.
            switch Int.random(in: 0..<4, using: &random) {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            case 1: bytes.removeLast(Int.random(in: 0...min(3, bytes.count - 1), using: &random))
            case 2: bytes.append(UInt8.random(in: 0...255, using: &random))
            default: break
            }
            let decoded = (try? CBOR.decode(bytes)) != nil
            let checked = bytes.withUnsafeBytes { (try? CBOR.validate($0)) != nil }
            // (`try?` would flatten a valid non-map's nil index into a failure.)
            let indexed = bytes.withUnsafeBytes { bytes in Result { try CBOR.validateIndexing(bytes) } }.isSuccess
            #expect(decoded == checked, "bytes \(bytes)")
            #expect(indexed == checked, "the indexing check, bytes \(bytes)")
            if !decoded { rejected += 1 }
        }
        #expect(rejected > 500, "the damage must produce invalid items to compare")
    }

    @Test("the UTF-8 check agrees with the standard library on random and edge-case bytes")
    func utf8CheckMatchesStandardLibrary() {
        var random = SplitMix64(state: 14)
        let edges: [[UInt8]] = [
            [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF],
            [0xEF, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF], [0xE4, 0xB8], Array("王秀英".utf8), Array("plain ascii text".utf8),
        ]
        var samples = edges
        for _ in 0..<20_000 {
            let base = Array(Self.texts.randomElement(using: &random)!.utf8)
            var bytes = base + (0..<Int.random(in: 0...6, using: &random)).map { _ in UInt8.random(in: 0x7F...0xF5, using: &random) }
            if !bytes.isEmpty, Bool.random(using: &random) { bytes.swapAt(0, Int.random(in: 0..<bytes.count, using: &random)) }
            samples.append(bytes)
        }
        for bytes in samples {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBytes { UTF8Validation.isValid($0) } == expected, "bytes \(bytes)")
        }
    }
}

extension Result {
    /// Whether it is a success.
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
