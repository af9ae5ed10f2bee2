import LinliStore

/// A JSON value as Linli reads and writes it: objects keep their key order, numbers are whole `Int64`s.
///
/// Commands never carry fractions (points, fen, minutes, scores and areas are whole numbers), so the
/// parser refuses fractional, exponent and out-of-range numbers instead of rounding them.
public enum JSONValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
    /// An exact decimal, `units / 10^scale`, for figures that are means (an issue's priority). Only queries
    /// produce it: commands never carry fractions, and stored values keep the whole numbers it came from.
    case decimal(units: Int64, scale: UInt8)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .null }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.decimal(a, x), .decimal(b, y)): return a == b && x == y
        default: return false
        }
    }

    /// The value under `key` of an object, or nil.
    public subscript(_ key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The JSON type's name, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .decimal: return "decimal"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Compact JSON text. Objects keep their order; non-ASCII text is written as UTF-8.
    public var text: String {
        var out: [UInt8] = []
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Compact JSON with object keys sorted by their UTF-8 bytes, at every depth: the canonical form whose
    /// digest makes a command idempotent (the same body with other spacing or key order is the same command).
    public var canonicalText: String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out, sortingKeys: true)
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical form's bytes.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out, sortingKeys: true)
        return out
    }

    package func write(into out: inout [UInt8]) { write(into: &out, sortingKeys: false) }

    package func write(into out: inout [UInt8], sortingKeys: Bool) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): out.append(contentsOf: String(value).utf8)
        case let .decimal(units, scale): out.append(contentsOf: JSONValue.decimalText(units, scale: scale).utf8)
        case .string(let value): JSONValue.writeString(value, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out, sortingKeys: sortingKeys)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            out.append(UInt8(ascii: "{"))
            var order = Array(pairs.indices)
            if sortingKeys { order.sort { JSONValue.utf8Precedes(pairs[$0].0, pairs[$1].0) } }
            for (index, pairIndex) in order.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(pairs[pairIndex].0, into: &out)
                out.append(UInt8(ascii: ":"))
                pairs[pairIndex].1.write(into: &out, sortingKeys: sortingKeys)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Whether `a`'s UTF-8 bytes sort before `b`'s (``compareBytes(_:_:)``, LMDB's key order): the
    /// canonical form's key order. The generic `lexicographicallyPrecedes` over two UTF-8 views cost about
    /// 5,000 instructions a command in the digest's sort (callgrind).
    package static func utf8Precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { a in b.withUTF8 { b in compareBytes(UnsafeRawBufferPointer(a), UnsafeRawBufferPointer(b)) < 0 } }
    }

    /// `units / 10^scale` written exactly, without trailing zeros after the point ("3.5", "4", "-0.25").
    package static func decimalText(_ units: Int64, scale: UInt8) -> String {
        guard scale > 0 else { return String(units) }
        var digits = String(units.magnitude)
        if digits.count <= Int(scale) { digits = String(repeating: "0", count: Int(scale) - digits.count + 1) + digits }
        var fraction = String(digits.suffix(Int(scale)))
        while fraction.last == "0" { fraction.removeLast() }
        let whole = String(digits.dropLast(Int(scale)))
        return (units < 0 ? "-" : "") + whole + (fraction.isEmpty ? "" : "." + fraction)
    }

    /// An exact ratio rounded half away from zero to `scale` decimal places (`denominator` > 0).
    package static func rounded(_ numerator: Int64, over denominator: Int64, scale: UInt8) -> JSONValue {
        precondition(denominator > 0, "a ratio needs a positive denominator")
        var factor: Int64 = 1
        for _ in 0..<scale { factor *= 10 }
        let scaled = numerator.multipliedFullWidth(by: factor)
        let (quotient, remainder) = denominator.dividingFullWidth(scaled)
        let roundAway = remainder.magnitude * 2 >= denominator.magnitude
        return .decimal(units: quotient + (roundAway ? (numerator < 0 ? -1 : 1) : 0), scale: scale)
    }

    package static func writeString(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most texts need no escape: copy them whole.
        var text = value
        let plain = text.withUTF8 { utf8 -> Bool in
            for byte in utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            out.append(contentsOf: utf8)
            return true
        }
        if plain {
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20: out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Why a line is not acceptable JSON, with the byte column where it failed.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The 1-based byte column.
    public let column: Int
    /// What was wrong.
    public let reason: String
    /// The field being read when it failed, when known.
    public let field: String?

    public var description: String {
        "\(reason) at column \(column)" + (field.map { " (field \($0))" } ?? "")
    }
}

/// A strict JSON parser for one NDJSON line: UTF-8 only, no duplicate keys, no lone surrogates, whole
/// numbers within `Int64`, nesting at most ``JSONParser/depthMax`` deep. No recursion on input depth
/// beyond that bound.
public struct JSONParser {
    /// The deepest nesting accepted.
    public static let depthMax = 16
    /// The longest line accepted: 1 MiB.
    public static let lineBytesMax = 1 << 20

    package let bytes: [UInt8]
    package var index = 0
    package var fieldPath: [String] = []
    /// This parse's nesting limit: ``depthMax`` for a command, more for a line that wraps one (an export).
    package var depthLimit = JSONParser.depthMax

    /// Parses one complete JSON value from `bytes`; anything but white space after it is an error. A line
    /// that wraps a command's fields (an exported event) takes larger limits.
    public static func parse(_ bytes: [UInt8], lineBytesMax: Int = JSONParser.lineBytesMax, depthMax: Int = JSONParser.depthMax) throws(JSONSyntaxError)
        -> JSONValue
    {
        guard bytes.count <= lineBytesMax else {
            throw JSONSyntaxError(column: lineBytesMax, reason: "the line is longer than \(lineBytesMax) bytes, the limit", field: nil)
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            let column = firstInvalidUTF8(bytes)
            throw JSONSyntaxError(column: column + 1, reason: "invalid UTF-8", field: nil)
        }
        var parser = JSONParser(bytes: bytes)
        parser.depthLimit = depthMax
        parser.skipSpace()
        let value = try parser.parseValue(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    /// The byte offset of the first invalid UTF-8 sequence.
    package static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput, .error: return offset
            }
        }
    }

    package func error(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(column: index + 1, reason: reason, field: fieldPath.isEmpty ? nil : fieldPath.joined(separator: "."))
    }

    package mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 }
    }

    package mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of line") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try parseNumber())
        default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[index])))'")
        }
    }

    package mutating func literal(_ word: String) throws(JSONSyntaxError) {
        let utf8 = Array(word.utf8)
        guard bytes.count - index >= utf8.count, Array(bytes[index..<(index + utf8.count)]) == utf8 else { throw error("invalid literal") }
        index += utf8.count
    }

    package mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= depthLimit else { throw error("nested deeper than \(depthLimit)") }
        index += 1
        var pairs: [(String, JSONValue)] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(pairs) }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key in quotes") }
            let key = try parseString()
            // Commands have a dozen keys at most: a linear scan beats hashing them.
            guard !pairs.contains(where: { $0.0 == key }) else { throw error("duplicate key \"\(key)\"") }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
            index += 1
            skipSpace()
            fieldPath.append(key)
            let value = try parseValue(depth: depth)
            fieldPath.removeLast()
            pairs.append((key, value))
            skipSpace()
            // Errors right after a value name its key: that is where a person looks.
            fieldPath.append(key)
            guard index < bytes.count else { throw error("unexpected end of line in an object") }
            fieldPath.removeLast()
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(pairs) }
            fieldPath.append(key)
            throw error("expected ',' or '}' after the value")
        }
    }

    package mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= depthLimit else { throw error("nested deeper than \(depthLimit)") }
        index += 1
        var items: [JSONValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try parseValue(depth: depth))
            skipSpace()
            guard index < bytes.count else { throw error("unexpected end of line in an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    package mutating func parseNumber() throws(JSONSyntaxError) -> Int64 {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        guard index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 else { throw error("invalid number") }
        if bytes[index] == 48, index + 1 < bytes.count, bytes[index + 1] >= 48, bytes[index + 1] <= 57 {
            throw error("leading zeros are not allowed")
        }
        var magnitude: UInt64 = 0
        var overflow = false
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(UInt64(bytes[index] - 48))
            overflow = overflow || o1 || o2
            magnitude = plus
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index = start
            throw error("fractional or exponent numbers are not allowed; use whole numbers")
        }
        let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        guard !overflow, magnitude <= limit else {
            index = start
            throw error("number outside the 64-bit integer range")
        }
        return negative ? (magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)) : Int64(magnitude)
    }

    package mutating func parseString() throws(JSONSyntaxError) -> String {
        index += 1
        // Fast path: no escape before the closing quote; the line was validated as UTF-8 already.
        var end = index
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            let text = bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[index..<end]), as: UTF8.self) }
            index = end + 1
            return text
        }
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { index += 1; break }
            if byte < 0x20 { throw error("control character in a string; escape it") }
            if byte != UInt8(ascii: "\\") { out.append(byte); index += 1; continue }
            index += 1
            guard index < bytes.count else { throw error("unterminated escape") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): out.append(34)
            case UInt8(ascii: "\\"): out.append(92)
            case UInt8(ascii: "/"): out.append(47)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("lone surrogate \\u\(String(scalar, radix: 16)) in a string")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid code point") }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default: throw error("invalid escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    package mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case 48...57: digit = UInt32(c - 48)
            case 97...102: digit = UInt32(c - 87)
            case 65...70: digit = UInt32(c - 55)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
