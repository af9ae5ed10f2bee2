import LinliStore

/// Linli's event payloads and projection values are CBOR (RFC 8949) encodings of ``JSONValue``s: maps
/// with text keys, whole numbers, text, arrays, booleans and null, definite lengths only. Any CBOR library
/// reads them (docs/FORMAT.md); decoding is bounded and never reads past the input.
public enum CBOR {
    /// The deepest nesting decoded.
    static let depthMax = 32

    /// Encodes a value.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        encode(value, into: &out)
        return out
    }

    /// Appends a value's encoding to `out`.
    public static func encode(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(0xF6)
        case .bool(let flag): out.append(flag ? 0xF5 : 0xF4)
        case .int(let number):
            if number >= 0 { head(0, UInt64(number), &out) } else { head(1, UInt64(-(number + 1)), &out) }
        case let .decimal(units, scale):
            // RFC 8949 §3.4.4 decimal fraction: tag 4 [exponent, mantissa]. Queries make these; nothing stores them.
            head(6, 4, &out)
            head(4, 2, &out)
            encode(.int(-Int64(scale)), into: &out)
            encode(.int(units), into: &out)
        case .string(let text):
            head(3, UInt64(text.utf8.count), &out)
            out.append(contentsOf: text.utf8)
        case .array(let items):
            head(4, UInt64(items.count), &out)
            for item in items { encode(item, into: &out) }
        case .object(let pairs):
            head(5, UInt64(pairs.count), &out)
            for (key, item) in pairs {
                head(3, UInt64(key.utf8.count), &out)
                out.append(contentsOf: key.utf8)
                encode(item, into: &out)
            }
        }
    }

    static func head(_ major: UInt8, _ argument: UInt64, _ out: inout [UInt8]) {
        let type = major << 5
        switch argument {
        case 0..<24: out.append(type | UInt8(argument))
        case 24..<256: out.append(type | 24); out.append(UInt8(argument))
        case 256..<65_536: out.append(type | 25); out.append(UInt8(argument >> 8)); out.append(UInt8(truncatingIfNeeded: argument))
        case 65_536..<4_294_967_296:
            out.append(type | 26)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: argument >> UInt64(shift))) }
        default:
            out.append(type | 27)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: argument >> UInt64(shift))) }
        }
    }

    /// Why bytes are not a CBOR item Linli writes.
    public struct DecodeError: Error, Sendable, CustomStringConvertible {
        /// The byte offset.
        public let offset: Int
        /// What was wrong.
        public let reason: String
        public var description: String { "CBOR at byte \(offset): \(reason)" }
    }

    /// Decodes exactly one item filling `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> JSONValue {
        var offset = 0
        let value = try decodeItem(bytes, &offset, depth: 0)
        guard offset == bytes.count else { throw DecodeError(offset: offset, reason: "\(bytes.count - offset) bytes after the item") }
        return value
    }

    /// Decodes exactly one item filling `bytes`.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> JSONValue {
        do {
            return try bytes.withUnsafeBytes { buffer in try decode(buffer) }
        } catch let error as DecodeError {
            throw error
        } catch {
            throw DecodeError(offset: 0, reason: "\(error)")
        }
    }

    static func decodeItem(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, depth: Int) throws(DecodeError) -> JSONValue {
        guard depth <= depthMax else { throw DecodeError(offset: offset, reason: "nested deeper than \(depthMax)") }
        guard offset < bytes.count else { throw DecodeError(offset: offset, reason: "unexpected end") }
        let initial = bytes[offset]
        let major = initial >> 5
        let info = initial & 0x1F
        offset += 1
        if major == 7 {
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            default: throw DecodeError(offset: offset - 1, reason: "unsupported simple value \(info)")
            }
        }
        let argument: UInt64
        switch info {
        case 0..<24: argument = UInt64(info)
        case 24, 25, 26, 27:
            let count = 1 << Int(info - 24)
            guard bytes.count - offset >= count else { throw DecodeError(offset: offset, reason: "short argument") }
            var value: UInt64 = 0
            for index in 0..<count { value = value << 8 | UInt64(bytes[offset + index]) }
            offset += count
            argument = value
        default: throw DecodeError(offset: offset - 1, reason: "indefinite or reserved length")
        }
        switch major {
        case 0:
            guard argument <= UInt64(Int64.max) else { throw DecodeError(offset: offset, reason: "integer beyond Int64") }
            return .int(Int64(argument))
        case 1:
            guard argument <= UInt64(Int64.max) else { throw DecodeError(offset: offset, reason: "integer beyond Int64") }
            return .int(-1 - Int64(argument))
        case 3:
            return .string(try text(bytes, &offset, argument))
        case 4:
            guard argument <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "array longer than the input") }
            var items: [JSONValue] = []
            items.reserveCapacity(Int(argument))
            for _ in 0..<argument { items.append(try decodeItem(bytes, &offset, depth: depth + 1)) }
            return .array(items)
        case 5:
            guard argument <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "map longer than the input") }
            var pairs: [(String, JSONValue)] = []
            pairs.reserveCapacity(Int(argument))
            for _ in 0..<argument {
                guard offset < bytes.count, bytes[offset] >> 5 == 3 else { throw DecodeError(offset: offset, reason: "map key is not text") }
                let keyInfo = try decodeItem(bytes, &offset, depth: depth + 1)
                guard case .string(let key) = keyInfo else { throw DecodeError(offset: offset, reason: "map key is not text") }
                pairs.append((key, try decodeItem(bytes, &offset, depth: depth + 1)))
            }
            return .object(pairs)
        default:
            throw DecodeError(offset: offset - 1, reason: "unsupported major type \(major)")
        }
    }

    static func text(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, _ count: UInt64) throws(DecodeError) -> String {
        guard count <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "text longer than the input") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(count))])
        let value: String
        if slice.allSatisfy({ $0 < 0x80 }) {
            value = String(decoding: slice, as: UTF8.self)
        } else {
            guard let text = String(validating: slice.bindMemory(to: UInt8.self), as: UTF8.self) else {
                throw DecodeError(offset: offset, reason: "invalid UTF-8 in text")
            }
            value = text
        }
        offset += Int(count)
        return value
    }
}

