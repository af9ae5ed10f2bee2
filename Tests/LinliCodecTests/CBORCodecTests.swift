import LinliCodec
import Testing

/// The payloads' CBOR, tested on its own (issue 19 item 4): shortest heads and definite lengths written,
/// the limits of what is read. The projections' byte-level paths are tested against it in LinliTests.
@Suite("CBOR: what is written, and what is read")
struct CBORCodecTests {
    @Test("integers at every head width and at Int64's ends, in their shortest form, read back")
    func integers() throws {
        for (value, bytes) in [
            (Int64(0), [0x00]), (23, [0x17]), (24, [0x18, 0x18]), (255, [0x18, 0xFF]), (256, [0x19, 0x01, 0x00]),
            (65_536, [0x1A, 0x00, 0x01, 0x00, 0x00]), (-1, [0x20]), (-25, [0x38, 0x18]),
        ] as [(Int64, [UInt8])] {
            #expect(CBOR.encode(.int(value)) == bytes, "\(value)")
        }
        for value in [Int64.min, .max, .min + 1, 1 << 32, -(1 << 32)] {
            #expect(try CBOR.decode(CBOR.encode(.int(value))) == .int(value), "\(value)")
        }
        #expect(CBOR.encode(.int(.min)) == [0x3B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        // Beyond Int64 either way is refused.
        #expect(throws: CBOR.DecodeError.self) { try CBOR.decode([0x1B, 0x80, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: CBOR.DecodeError.self) { try CBOR.decode([0x3B, 0x80, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test("maps keep their keys in the order written; text is UTF-8")
    func maps() throws {
        let value: JSONValue = ["zeta": "王秀英", "alpha": [true, false, .null]]
        let bytes = CBOR.encode(value)
        #expect(bytes.prefix(6) == [0xA2, 0x64, 0x7A, 0x65, 0x74, 0x61], "a map of 2, then the key written first")
        #expect(try CBOR.decode(bytes) == value)
    }

    @Test("indefinite lengths, tags, floats, byte strings, non-text keys, trailing bytes and deep nesting are refused")
    func refused() throws {
        for bytes: [UInt8] in [
            [0x9F, 0xFF], [0xBF, 0xFF], [0x7F, 0xFF], [0xC1, 0x00], [0xF9, 0x3C, 0x00], [0xFB, 0, 0, 0, 0, 0, 0, 0, 0],
            [0x41, 0x00], [0xA1, 0x01, 0x02], [0x00, 0x00], [0x62, 0xC3, 0x28], [0x65, 0x61],
        ] {
            #expect(throws: CBOR.DecodeError.self, "\(bytes)") { try CBOR.decode(bytes) }
        }
        let deep = [UInt8](repeating: 0x81, count: 100) + [0x00]
        #expect { try CBOR.decode(deep) } throws: { "\($0)".contains("nested deeper") }
    }

    @Test("one field is found by its key's bytes, stepping over values of every kind and width")
    func fieldLookUp() throws {
        let long = String(repeating: "长", count: 100)  // a text whose head takes two bytes
        let pairs: [(String, JSONValue)] = [
            ("n", .int(.min)), ("big", .int(70_000)), ("t", .string(long)), ("yes", true), ("none", .null),
            ("list", [1, "a", ["k": [2, 3]]]), ("map", ["inner": "v", "deep": [["x": 1]]]), ("last", "end"),
        ]
        let bytes = CBOR.encode(.object(pairs))
        try bytes.withUnsafeBytes { map in
            try CBOR.validate(map)
            for (key, value) in pairs {
                let item = try #require(CBOR.field(key, in: map), "\(key)")
                #expect(try CBOR.decode(item) == value, "\(key)")
            }
            #expect(CBOR.field("las", in: map) == nil && CBOR.field("lastt", in: map) == nil && CBOR.field("inner", in: map) == nil)
            #expect(CBOR.field("last", in: UnsafeRawBufferPointer(rebasing: map[0..<(map.count - 1)])) == nil, "cut short")
        }
        CBOR.encode(.array(["n"])).withUnsafeBytes { #expect(CBOR.field("n", in: $0) == nil, "not a map") }
    }
}
