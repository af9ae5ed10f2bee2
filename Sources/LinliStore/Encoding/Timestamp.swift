/// A moment in time with the UTC offset it was written in: milliseconds since 1970-01-01T00:00:00Z and
/// the offset in minutes. The offset is kept so that `2024-03-01T09:30:00+08:00` reads back as written;
/// two timestamps compare by their moment alone.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch, UTC.
    public var epochMilliseconds: Int64
    /// The offset from UTC in which it was written, in minutes (+480 for China Standard Time).
    public var offsetMinutes: Int16

    /// China Standard Time, the offset of every pilot community: UTC+8, no daylight saving.
    public static let shanghaiOffsetMinutes: Int16 = 480

    /// A timestamp at `epochMilliseconds` written in `offsetMinutes`.
    public init(epochMilliseconds: Int64, offsetMinutes: Int16 = 0) {
        precondition(abs(Int(offsetMinutes)) <= 18 * 60, "offsets lie within ±18 hours")
        self.epochMilliseconds = epochMilliseconds
        self.offsetMinutes = offsetMinutes
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.epochMilliseconds < rhs.epochMilliseconds }
    public static func == (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.epochMilliseconds == rhs.epochMilliseconds }
    public func hash(into hasher: inout Hasher) { hasher.combine(epochMilliseconds) }

    /// The local civil date and time in the timestamp's own offset.
    public var local: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int) {
        let localMs = epochMilliseconds + Int64(offsetMinutes) * 60_000
        let days = Int(localMs.floorDiv(86_400_000))
        let msOfDay = Int(localMs - Int64(days) * 86_400_000)
        let (year, month, day) = civilFromDays(days)
        return (year, month, day, msOfDay / 3_600_000, msOfDay / 60_000 % 60, msOfDay / 1000 % 60, msOfDay % 1000)
    }

    /// Days since 1970-01-01 of the local date in the given offset (China Standard Time by default).
    public func dayNumber(offsetMinutes: Int16 = Timestamp.shanghaiOffsetMinutes) -> Int {
        Int((epochMilliseconds + Int64(offsetMinutes) * 60_000).floorDiv(86_400_000))
    }

    /// ISO 8601 with the offset it was written in: `2024-03-01T09:30:00+08:00`, with `.SSS` when the
    /// milliseconds are not zero.
    public var iso8601: String {
        // Written digit by digit into one fixed buffer: projections format a time for most events they
        // apply, and string interpolation cost more than the rest of the row.
        let t = local
        guard (0...9999).contains(t.year) else {
            var text = "\(pad(t.year, 4))-\(pad(t.month, 2))-\(pad(t.day, 2))T\(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2))"
            if t.millisecond != 0 { text += ".\(pad(t.millisecond, 3))" }
            if offsetMinutes == 0 { return text + "Z" }
            let magnitude = abs(Int(offsetMinutes))
            return text + "\(offsetMinutes < 0 ? "-" : "+")\(pad(magnitude / 60, 2)):\(pad(magnitude % 60, 2))"
        }
        return String(unsafeUninitializedCapacity: 29) { buffer in
            var at = 0
            func digits(_ value: Int, _ width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                while divisor > 0 {
                    buffer[at] = UInt8(ascii: "0") + UInt8(value / divisor % 10)
                    at += 1
                    divisor /= 10
                }
            }
            func char(_ c: Unicode.Scalar) {
                buffer[at] = UInt8(ascii: c)
                at += 1
            }
            digits(t.year, 4); char("-"); digits(t.month, 2); char("-"); digits(t.day, 2); char("T")
            digits(t.hour, 2); char(":"); digits(t.minute, 2); char(":"); digits(t.second, 2)
            if t.millisecond != 0 { char("."); digits(t.millisecond, 3) }
            if offsetMinutes == 0 {
                char("Z")
            } else {
                let magnitude = abs(Int(offsetMinutes))
                char(offsetMinutes < 0 ? "-" : "+"); digits(magnitude / 60, 2); char(":"); digits(magnitude % 60, 2)
            }
            return at
        }
    }

    public var description: String { iso8601 }

    /// The same moment written in another offset.
    public func inOffset(_ offsetMinutes: Int16) -> Timestamp {
        Timestamp(epochMilliseconds: epochMilliseconds, offsetMinutes: offsetMinutes)
    }

    /// Parses ISO 8601 strictly: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of up to 9 digits (kept to the
    /// millisecond), and an offset that must be there (`Z` or `±HH:MM`). Returns nil for anything else,
    /// an impossible date (`2023-02-29`) included.
    public init?(iso8601 text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Timestamp.parse($0) }) else { return nil }
        self = parsed
    }

    private static func parse(_ c: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        guard c.count >= 20, c.count <= 40 else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= c.count else { return nil }
            var value = 0
            for index in start..<(start + count) {
                guard c[index] >= 48, c[index] <= 57 else { return nil }
                value = value * 10 + Int(c[index] - 48)
            }
            return value
        }
        guard let year = digits(0, 4), c[4] == UInt8(ascii: "-"), let month = digits(5, 2), c[7] == UInt8(ascii: "-"),
            let day = digits(8, 2), c[10] == UInt8(ascii: "T") || c[10] == UInt8(ascii: "t"),
            let hour = digits(11, 2), c[13] == UInt8(ascii: ":"), let minute = digits(14, 2),
            c[16] == UInt8(ascii: ":"), let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour <= 23, minute <= 59, second <= 59 else { return nil }
        var index = 19
        var millisecond = 0
        if c[index] == UInt8(ascii: ".") {
            index += 1
            var fractionDigits = 0
            while index < c.count, c[index] >= 48, c[index] <= 57 {
                if fractionDigits < 3 { millisecond = millisecond * 10 + Int(c[index] - 48) }
                fractionDigits += 1
                index += 1
            }
            guard fractionDigits >= 1, fractionDigits <= 9 else { return nil }
            if fractionDigits < 3 { for _ in fractionDigits..<3 { millisecond *= 10 } }
        }
        guard index < c.count else { return nil }
        var offset = 0
        if c[index] == UInt8(ascii: "Z") || c[index] == UInt8(ascii: "z") {
            guard index + 1 == c.count else { return nil }
        } else {
            guard c[index] == UInt8(ascii: "+") || c[index] == UInt8(ascii: "-"), index + 6 == c.count,
                let offsetHours = digits(index + 1, 2), c[index + 3] == UInt8(ascii: ":"),
                let offsetMinutes = digits(index + 4, 2), offsetHours <= 18, offsetMinutes <= 59
            else { return nil }
            offset = (offsetHours * 60 + offsetMinutes) * (c[index] == UInt8(ascii: "-") ? -1 : 1)
            guard abs(offset) <= 18 * 60 else { return nil }
        }
        let days = daysFromCivil(year, month, day)
        let localMs = Int64(days) * 86_400_000 + Int64(hour * 3_600_000 + minute * 60_000 + second * 1000 + millisecond)
        return Timestamp(epochMilliseconds: localMs - Int64(offset) * 60_000, offsetMinutes: Int16(offset))
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

extension Int64 {
    /// Division rounding toward negative infinity, so that moments before 1970 fall on the right day.
    @inlinable func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// Whether `year` is a leap year in the proleptic Gregorian calendar.
public func isLeapYear(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

/// The number of days in a month.
public func daysInMonth(_ year: Int, _ month: Int) -> Int {
    switch month {
    case 2: return isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
public func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}

/// The civil date of a day number (days since 1970-01-01).
public func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}
