import Foundation
@testable import LinliStore
import Testing

@Suite("Timestamps")
struct TimestampTests {
    @Test("ISO 8601 round trips in every shape: offsets east and west, Z, milliseconds, far dates")
    func roundTrip() throws {
        for text in [
            "2024-03-01T09:30:00+08:00", "2024-03-01T09:30:00.123+08:00", "1999-12-31T23:59:59.001-05:30", "2024-02-29T00:00:00Z",
            "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999+14:00", "1970-01-01T00:00:00.5Z",
        ] {
            let parsed = try #require(Timestamp(iso8601: text))
            let expected = text == "1970-01-01T00:00:00.5Z" ? "1970-01-01T00:00:00.500Z" : text
            #expect(parsed.iso8601 == expected)
        }
        #expect(Timestamp(epochMilliseconds: 1_709_256_600_000, offsetMinutes: 480).iso8601 == "2024-03-01T09:30:00+08:00")
        #expect(Timestamp(epochMilliseconds: -1, offsetMinutes: 0).iso8601 == "1969-12-31T23:59:59.999Z")
        // A random sample agrees with the straightforward formatting of its civil fields.
        var state: UInt64 = 7
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let ms = Int64(bitPattern: state >> 22) % 200_000_000_000_000
            let offset = Int16(Int(state % 1_681) - 840)
            let t = Timestamp(epochMilliseconds: ms, offsetMinutes: offset)
            let l = t.local
            func pad(_ v: Int, _ w: Int) -> String { String(repeating: "0", count: max(0, w - String(v).count)) + String(v) }
            var text = "\(pad(l.year, 4))-\(pad(l.month, 2))-\(pad(l.day, 2))T\(pad(l.hour, 2)):\(pad(l.minute, 2)):\(pad(l.second, 2))"
            if l.millisecond != 0 { text += "." + pad(l.millisecond, 3) }
            text += offset == 0 ? "Z" : "\(offset < 0 ? "-" : "+")\(pad(abs(Int(offset)) / 60, 2)):\(pad(abs(Int(offset)) % 60, 2))"
            #expect(t.iso8601 == text)
            #expect(Timestamp(iso8601: t.iso8601)?.epochMilliseconds == ms || l.year > 9999 || l.year < 1)
        }
    }
}
