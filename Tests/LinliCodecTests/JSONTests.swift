import LinliCodec
import Testing

/// The strict JSON reader of every command line and its writer, tested on their own (issue 19 item 4).
@Suite("JSON: what the reader accepts, refuses and writes back")
struct JSONTests {
    func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func refusal(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("escapes, including a surrogate pair, decode to the characters they name")
    func escapes() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try parse(#""\u738b\u79c0\u82f1""#) == .string("王秀英"))
        #expect(try parse(#""\ud83d\ude42""#) == .string("🙂"))
        for lone in [#""\ud83d""#, #""\ude42""#, #""\ud83dx""#, #""\ud83d\u0041""#] {
            #expect(refusal(lone)?.contains("surrogate") == true, "\(lone)")
        }
        #expect(refusal(#""\x41""#)?.contains("invalid escape") == true)
        #expect(refusal(#""\u12""#) != nil)
        #expect(refusal("\"a\u{01}b\"")?.contains("control character") == true)
    }

    @Test("whole numbers within Int64, without leading zeros, fractions or exponents")
    func numbers() throws {
        #expect(try parse("-9223372036854775808") == .int(.min))
        #expect(try parse("9223372036854775807") == .int(.max))
        #expect(try parse("0") == .int(0) && parse("-0") == .int(0))
        for bad in ["9223372036854775808", "-9223372036854775809", "01", "-01", "1.5", "1e3", "+1", ".5", "-"] {
            #expect(refusal(bad) != nil, "\(bad)")
        }
    }

    @Test("nesting to the limit, and not one level more; the limit can be raised for a line that wraps a command")
    func depth() throws {
        func nested(_ levels: Int) -> String { String(repeating: "[", count: levels) + String(repeating: "]", count: levels) }
        var deepest = 0
        while (try? parse(nested(deepest + 1))) != nil { deepest += 1 }
        #expect(deepest > 1 && deepest <= JSONParser.depthMax + 1)
        #expect(refusal(nested(deepest + 1))?.contains("nested deeper") == true)
        #expect((try? JSONParser.parse(Array(nested(deepest + 1).utf8), depthMax: JSONParser.depthMax + 1)) != nil)
    }

    @Test("one value per line: trailing text, duplicate keys, invalid UTF-8 and an over-long line are refused")
    func strictness() throws {
        #expect(try parse(" {\"a\":1} \r") == ["a": 1])
        #expect(refusal("{\"a\":1} x")?.contains("after the JSON value") == true)
        #expect(refusal("{\"a\":1}{\"b\":2}") != nil)
        #expect(refusal("{\"a\":1,\"a\":2}") != nil)
        #expect(refusal("{\"a\":1,}") != nil)
        #expect(refusal("") != nil)
        #expect((try? JSONParser.parse([0x22, 0xC3, 0x28, 0x22])) == nil)
        let long = Array(repeating: UInt8(0x20), count: JSONParser.lineBytesMax) + [0x31]
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(long) }
    }

    @Test("what is written reads back as the same value, key order kept; text needing escapes is escaped")
    func roundTrip() throws {
        let value: JSONValue = ["z": "王\n\"秀\"\\英\u{01}", "a": [1, -2, .int(.min), true, false, .null], "m": ["k": "🙂"]]
        #expect(try parse(value.text) == value)
        #expect(value.text.hasPrefix(#"{"z":"#), "keys stay in the order written")
        #expect(!value.text.contains("\u{01}") && !value.text.contains("\n"))
    }

    @Test("the canonical form sorts keys by their UTF-8 bytes, not by Swift's Unicode-aware comparison")
    func canonicalKeyOrder() throws {
        // "e" + combining acute and "é" are equal Strings in Swift, but their bytes differ (65 CC 81 and
        // C3 A9); "Z" (5A) sorts before "a" (61); a key sorts after its own prefix; nested objects too.
        // (The reader refuses those two as one key written twice; a value built in code can hold both.)
        let keys = ["é", "z", "e\u{301}", "ab", "a", "Z", "🙂", "王", ""]
        let value = JSONValue.object(keys.enumerated().map { ($1, .int(Int64($0))) } + [("n", ["b": 1, "a": 2])])
        let written = keys.enumerated().map { (key: $1, text: "\($0)") } + [(key: "n", text: #"{"a":2,"b":1}"#)]
        let byBytes = written.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        let expected = "{" + byBytes.map { #""\#($0.key)":\#($0.text)"# }.joined(separator: ",") + "}"
        #expect(Array(value.canonicalText.utf8) == Array(expected.utf8))
        #expect(value.canonicalBytes == Array(expected.utf8))
    }
}
