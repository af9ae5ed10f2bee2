import Foundation
import LinliStore

/// Linli's event payloads and projection values are CBOR (RFC 8949) encodings of ``JSONValue``s: maps
/// with text keys, whole numbers, text, arrays, booleans and null, definite lengths only. Any CBOR library
/// reads them (docs/FORMAT.md); decoding is bounded and never reads past the input.
public enum CBOR {
    /// The deepest nesting decoded.
    package static let depthMax = 32

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
        case .string(var text):
            text.withUTF8 { utf8 in
                head(3, UInt64(utf8.count), &out)
                out.append(contentsOf: utf8)
            }
        case .array(let items):
            head(4, UInt64(items.count), &out)
            for item in items { encode(item, into: &out) }
        case .object(let pairs):
            head(5, UInt64(pairs.count), &out)
            for (key, item) in pairs {
                encode(.string(key), into: &out)
                encode(item, into: &out)
            }
        }
    }

    package static func head(_ major: UInt8, _ argument: UInt64, _ out: inout [UInt8]) {
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

        package init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }
    }

    /// Decodes exactly one item filling `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> JSONValue {
        try decode(bytes, repairingText: false)
    }

    /// Decodes exactly one item filling `bytes`; with `repairingText`, invalid UTF-8 in a text becomes
    /// U+FFFD instead of an error (for bytes whose structure ``validate(_:checkingText:)`` checked already).
    package static func decode(_ bytes: UnsafeRawBufferPointer, repairingText: Bool) throws(DecodeError) -> JSONValue {
        var offset = 0
        let value = try decodeItem(bytes, &offset, depth: 0, repairing: repairingText)
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

    package static func decodeItem(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, depth: Int, repairing: Bool = false) throws(DecodeError) -> JSONValue {
        guard depth <= depthMax else { throw DecodeError(offset: offset, reason: "nested deeper than \(depthMax)") }
        let (major, info, argument) = try readHead(bytes, &offset)
        if major == 7 {
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            default: throw DecodeError(offset: offset - 1, reason: "unsupported simple value \(info)")
            }
        }
        switch major {
        case 0:
            guard argument <= UInt64(Int64.max) else { throw DecodeError(offset: offset, reason: "integer beyond Int64") }
            return .int(Int64(argument))
        case 1:
            guard argument <= UInt64(Int64.max) else { throw DecodeError(offset: offset, reason: "integer beyond Int64") }
            return .int(-1 - Int64(argument))
        case 3:
            return .string(try text(bytes, &offset, argument, repairing: repairing))
        case 4:
            guard argument <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "array longer than the input") }
            var items: [JSONValue] = []
            items.reserveCapacity(Int(argument))
            for _ in 0..<argument { items.append(try decodeItem(bytes, &offset, depth: depth + 1, repairing: repairing)) }
            return .array(items)
        case 5:
            guard argument <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "map longer than the input") }
            var pairs: [(String, JSONValue)] = []
            pairs.reserveCapacity(Int(argument))
            for _ in 0..<argument {
                guard offset < bytes.count, bytes[offset] >> 5 == 3 else { throw DecodeError(offset: offset, reason: "map key is not text") }
                let keyInfo = try decodeItem(bytes, &offset, depth: depth + 1, repairing: repairing)
                guard case .string(let key) = keyInfo else { throw DecodeError(offset: offset, reason: "map key is not text") }
                pairs.append((key, try decodeItem(bytes, &offset, depth: depth + 1, repairing: repairing)))
            }
            return .object(pairs)
        default:
            throw DecodeError(offset: offset - 1, reason: "unsupported major type \(major)")
        }
    }

    // MARK: Reading fields without decoding the whole item

    /// Checks that `bytes` hold exactly one item that ``decode(_:)-([UInt8])`` would accept (structure,
    /// lengths, depth, integer range, UTF-8), allocating nothing. Rows and payloads are checked this way
    /// when read, and their fields are then decoded one at a time, on demand (``field(_:in:)``).
    ///
    /// Without `checkingText`, texts are not checked for UTF-8 (their fields then decode repairing): rows
    /// and payloads the engine wrote itself are read that way, as their bytes are whole or are caught by
    /// `audit verify`, which compares every row's bytes with a rebuild and every event with the chain.
    public static func validate(_ bytes: UnsafeRawBufferPointer, checkingText: Bool = true) throws(DecodeError) {
        var offset = 0
        try skipItem(bytes, &offset, depth: 0, checkingText: checkingText)
        guard offset == bytes.count else { throw DecodeError(offset: offset, reason: "\(bytes.count - offset) bytes after the item") }
    }

    /// Reads an item's head: its major type and argument (0 for simple values, whose info is returned).
    @inline(__always)
    package static func readHead(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) throws(DecodeError) -> (major: UInt8, info: UInt8, argument: UInt64) {
        guard offset < bytes.count else { throw DecodeError(offset: offset, reason: "unexpected end") }
        let initial = bytes[offset]
        let major = initial >> 5, info = initial & 0x1F
        offset += 1
        if major == 7 { return (major, info, 0) }
        switch info {
        case 0..<24: return (major, info, UInt64(info))
        case 24, 25, 26, 27:
            let count = 1 << Int(info - 24)
            guard bytes.count - offset >= count else { throw DecodeError(offset: offset, reason: "short argument") }
            var value: UInt64 = 0
            for index in 0..<count { value = value << 8 | UInt64(bytes[offset + index]) }
            offset += count
            return (major, info, value)
        default: throw DecodeError(offset: offset - 1, reason: "indefinite or reserved length")
        }
    }

    /// Moves `offset` past one item, checking it as ``decodeItem(_:_:depth:)`` would.
    package static func skipItem(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, depth: Int, checkingText: Bool = false) throws(DecodeError) {
        guard depth <= depthMax else { throw DecodeError(offset: offset, reason: "nested deeper than \(depthMax)") }
        let (major, info, argument) = try readHead(bytes, &offset)
        switch major {
        case 4:
            guard argument <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "array longer than the input") }
            for _ in 0..<argument { try skipItem(bytes, &offset, depth: depth + 1, checkingText: checkingText) }
        case 5:
            guard argument <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "map longer than the input") }
            for _ in 0..<argument {
                guard offset < bytes.count, bytes[offset] >> 5 == 3 else { throw DecodeError(offset: offset, reason: "map key is not text") }
                try skipItem(bytes, &offset, depth: depth + 1, checkingText: checkingText)
                try skipItem(bytes, &offset, depth: depth + 1, checkingText: checkingText)
            }
        default:
            try skipScalar(bytes, &offset, major, info, argument, checkingText: checkingText)
        }
    }

    /// Checks an item that is not an array or a map, whose head (`major`, `info`, `argument`) was just
    /// read, and moves `offset` past it: ``skipItem`` for the items most fields hold, without a call.
    @inline(__always)
    private static func skipScalar(
        _ bytes: UnsafeRawBufferPointer, _ offset: inout Int, _ major: UInt8, _ info: UInt8, _ argument: UInt64, checkingText: Bool
    ) throws(DecodeError) {
        switch major {
        case 7:
            guard info == 20 || info == 21 || info == 22 else { throw DecodeError(offset: offset - 1, reason: "unsupported simple value \(info)") }
        case 0, 1:
            guard argument <= UInt64(Int64.max) else { throw DecodeError(offset: offset, reason: "integer beyond Int64") }
        case 3:
            guard argument <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "text longer than the input") }
            guard !checkingText || UTF8Validation.isValid(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(argument))])) else {
                throw DecodeError(offset: offset, reason: "invalid UTF-8 in text")
            }
            offset += Int(argument)
        default:
            throw DecodeError(offset: offset - 1, reason: "unsupported major type \(major)")
        }
    }

    /// The bytes of the value under `key` in a map already checked by ``validate(_:)``, or nil when the
    /// item is not a map or has no such key. Keys are compared byte for byte; nothing is allocated.
    package static func field(_ key: String, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var key = key
        return key.withUTF8 { key -> UnsafeRawBufferPointer? in
            var offset = 0
            guard let (major, _, count) = try? readHead(bytes, &offset), major == 5 else { return nil }
            for _ in 0..<count {
                guard let (_, _, length) = try? readHead(bytes, &offset) else { return nil }
                let keyStart = offset
                offset += Int(length)
                let valueStart = offset
                guard skipChecked(bytes, &offset) else { return nil }
                if Int(length) == key.count, memcmp(bytes.baseAddress! + keyStart, key.baseAddress!, key.count) == 0 {
                    return UnsafeRawBufferPointer(rebasing: bytes[valueStart..<offset])
                }
            }
            return nil
        }
    }

    /// Where each field of a map lies, found in the walk that checks it (``validateIndexing(_:checkingText:)``):
    /// a field is then found by comparing the keys' lengths and bytes, without stepping over the values
    /// before it again (an elder's delivery reads eight fields of its payload; each walk cost ~400
    /// instructions, callgrind).
    package struct MapIndex: Sendable {
        /// Per pair, four offsets into the map's bytes: the key's text (after its head), the key's end, the
        /// value's start and its end.
        private var offsets: [UInt32] = []
        /// The byte count of the map it was made from, checked at each look-up.
        private let mapCount: Int

        /// The bytes of the value under `key` in `bytes` (the map this index was made from), or nil.
        @inline(__always)
        package func field(_ key: UnsafeRawBufferPointer, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
            precondition(bytes.count == mapCount, "a map's index is used with the bytes it was made from")
            // Over the offsets' buffer, lengths and first bytes compared before any `memcmp`: a delivery's
            // keys are mostly of seven or eight bytes (150 instructions a field with the array's checks).
            return offsets.withUnsafeBufferPointer { offsets in
                var pair = 0
                while pair + 3 < offsets.count {
                    let keyStart = Int(offsets[pair]), keyEnd = Int(offsets[pair + 1])
                    if keyEnd - keyStart == key.count,
                        key.isEmpty || (bytes[keyStart] == key[0] && memcmp(bytes.baseAddress! + keyStart, key.baseAddress!, key.count) == 0)
                    {
                        return UnsafeRawBufferPointer(rebasing: bytes[Int(offsets[pair + 2])..<Int(offsets[pair + 3])])
                    }
                    pair += 4
                }
                return nil
            }
        }

        fileprivate init(pairs: Int, mapCount: Int) {
            self.mapCount = mapCount
            offsets.reserveCapacity(4 * pairs)
        }

        fileprivate mutating func append(keyStart: Int, keyEnd: Int, valueStart: Int, valueEnd: Int) {
            offsets.append(UInt32(keyStart))
            offsets.append(UInt32(keyEnd))
            offsets.append(UInt32(valueStart))
            offsets.append(UInt32(valueEnd))
        }
    }

    /// ``validate(_:checkingText:)`` for an item expected to be a map, returning where its fields lie; nil
    /// (after the same checks) when the item is valid but not a map, or a map of more than 4 GiB (whose
    /// fields are then found by walking it).
    package static func validateIndexing(_ bytes: UnsafeRawBufferPointer, checkingText: Bool = true) throws(DecodeError) -> MapIndex? {
        guard bytes.count <= Int(UInt32.max), !bytes.isEmpty, bytes[0] >> 5 == 5 else {
            try validate(bytes, checkingText: checkingText)
            return nil
        }
        var offset = 0
        let (_, _, count) = try readHead(bytes, &offset)
        guard count <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "map longer than the input") }
        // A pair takes two bytes at least: a forged count cannot reserve more than the bytes could hold.
        var index = MapIndex(pairs: min(Int(count), (bytes.count - offset) / 2), mapCount: bytes.count)
        for _ in 0..<count {
            guard offset < bytes.count, bytes[offset] >> 5 == 3 else { throw DecodeError(offset: offset, reason: "map key is not text") }
            // The checks ``skipItem`` makes, with the key's and a scalar value's heads read once here.
            let (keyMajor, keyInfo, keyLength) = try readHead(bytes, &offset)
            let keyStart = offset
            try skipScalar(bytes, &offset, keyMajor, keyInfo, keyLength, checkingText: checkingText)
            let keyEnd = offset, valueStart = offset
            let (major, info, argument) = try readHead(bytes, &offset)
            if major == 4 || major == 5 {
                offset = valueStart
                try skipItem(bytes, &offset, depth: 1, checkingText: checkingText)
            } else {
                try skipScalar(bytes, &offset, major, info, argument, checkingText: checkingText)
            }
            index.append(keyStart: keyStart, keyEnd: keyEnd, valueStart: valueStart, valueEnd: offset)
        }
        guard offset == bytes.count else { throw DecodeError(offset: offset, reason: "\(bytes.count - offset) bytes after the item") }
        return index
    }

    /// Moves `offset` past one item of bytes that ``validate(_:checkingText:)`` accepted: a number, a
    /// simple value or a text is stepped over from its head alone, without the call ``skipItem`` makes
    /// to check it again (a row's fields are mostly these; finding one field steps over the others).
    @inline(__always)
    private static func skipChecked(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> Bool {
        let start = offset
        guard let (major, _, argument) = try? readHead(bytes, &offset) else { return false }
        switch major {
        case 0, 1, 7: return true
        case 3:
            guard argument <= UInt64(bytes.count - offset) else { return false }
            offset += Int(argument)
            return true
        default:
            offset = start
            return (try? skipItem(bytes, &offset, depth: 1)) != nil
        }
    }

    /// A text item's string, or nil for any other item.
    package static func string(_ item: UnsafeRawBufferPointer) -> String? {
        var offset = 0
        guard let (major, _, count) = try? readHead(item, &offset), major == 3, Int(count) == item.count - offset else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: item[offset...]), as: UTF8.self)
    }

    /// An integer item's value, or nil for any other item.
    package static func int(_ item: UnsafeRawBufferPointer) -> Int64? {
        var offset = 0
        guard let (major, _, argument) = try? readHead(item, &offset), argument <= UInt64(Int64.max) else { return nil }
        switch major {
        case 0: return Int64(argument)
        case 1: return -1 - Int64(argument)
        default: return nil
        }
    }

    package static func text(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, _ count: UInt64, repairing: Bool = false) throws(DecodeError) -> String {
        guard count <= UInt64(bytes.count - offset) else { throw DecodeError(offset: offset, reason: "text longer than the input") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(count))])
        guard repairing || UTF8Validation.isValid(slice) else { throw DecodeError(offset: offset, reason: "invalid UTF-8 in text") }
        offset += Int(count)
        return String(decoding: slice, as: UTF8.self)
    }
}

/// Writes a CBOR map straight into bytes, for the rows projections write most: no tree of values is
/// built and freed for each. The bytes equal `CBOR.encode(.object(pairs))` of the same pairs in the same
/// order (a test holds them to it).
///
/// The bytes grow in memory the writer owns, appended with plain stores after one check of the room
/// left: an array's appends (a uniqueness check and a generic copy for each key, head and text) were most
/// of a row's cost, 400 instructions a text field (callgrind; an array made at full size and cut at the
/// end cost more, for zeroing it). Not copyable, so that the memory has one owner; ``finish()`` hands
/// the bytes over as an array and frees it.
package struct CBORMapWriter: ~Copyable {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var count = 0
    private let countMax: Int
    private var written = 0

    /// A map of exactly `count` pairs, after a row's position when `position` is given.
    package init(count: Int, position: UInt64? = nil, capacity: Int = 160) {
        precondition(count >= 0 && capacity >= 0)
        self.capacity = max(capacity, 32)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
        countMax = count
        if let position { store(position.bigEndian) }
        head(5, UInt64(count))
    }

    deinit { base.deallocate() }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if capacity - count < extra { grow(count + extra) }
    }

    private mutating func grow(_ needed: Int) {
        let grown = max(needed, capacity * 2)
        let moved = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 8)
        moved.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = moved
        capacity = grown
    }

    /// Appends an integer's bytes as they lie in memory (the caller gives it big-endian).
    @inline(__always)
    private mutating func store<T: FixedWidthInteger>(_ value: T) {
        reserve(MemoryLayout<T>.size)
        base.storeBytes(of: value, toByteOffset: count, as: T.self)
        count += MemoryLayout<T>.size
    }

    @inline(__always)
    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        reserve(bytes.count)
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    /// An item's head, as ``CBOR/head(_:_:_:)`` writes it.
    @inline(__always)
    private mutating func head(_ major: UInt8, _ argument: UInt64) {
        let type = major << 5
        switch argument {
        case 0..<24: store(type | UInt8(argument))
        case 24..<256: store((UInt16(type | 24) << 8 | UInt16(argument)).bigEndian)
        case 256..<65_536: store(type | 25); store(UInt16(argument).bigEndian)
        case 65_536..<4_294_967_296: store(type | 26); store(UInt32(argument).bigEndian)
        default: store(type | 27); store(argument.bigEndian)
        }
    }

    private mutating func text(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            head(3, UInt64(utf8.count))
            append(UnsafeRawBufferPointer(utf8))
        }
    }

    private mutating func key(_ key: String) {
        written += 1
        precondition(written <= countMax, "more pairs than the map's count")
        text(key)
    }

    /// A literal key: its bytes are where the program's text lies, appended with no copy of a string.
    private mutating func key(_ key: StaticString) {
        written += 1
        precondition(written <= countMax, "more pairs than the map's count")
        key.withUTF8Buffer { utf8 in
            head(3, UInt64(utf8.count))
            append(UnsafeRawBufferPointer(utf8))
        }
    }

    private mutating func int(_ value: Int64) {
        if value >= 0 { head(0, UInt64(value)) } else { head(1, UInt64(-(value + 1))) }
    }

    /// A text value. Keys are literals (the rows' field names): a key made at run time goes through
    /// ``value(_:_:)``.
    package mutating func string(_ key: StaticString, _ value: String) { self.key(key); text(value) }

    /// A whole-number value, under a literal key.
    package mutating func int(_ key: StaticString, _ value: Int64) { self.key(key); int(value) }

    /// Any value.
    package mutating func value(_ key: String, _ value: JSONValue) {
        self.key(key)
        item(value)
    }

    private mutating func item(_ value: JSONValue) {
        switch value {
        case .string(let text): self.text(text)
        case .int(let number): int(number)
        case .bool(let flag): store(flag ? UInt8(0xF5) : 0xF4)
        default:
            // Nested and rarer values through the tree encoder.
            let encoded = CBOR.encode(value)
            encoded.withUnsafeBytes { append($0) }
        }
    }

    /// A pair already encoded, its key and its value, as it lies in another map.
    package mutating func pair(_ encoded: UnsafeRawBufferPointer) {
        written += 1
        precondition(written <= countMax, "more pairs than the map's count")
        append(encoded)
    }

    /// A key already encoded (its head and text, as it lies in another map) with a new value.
    package mutating func value(encodedKey: UnsafeRawBufferPointer, _ value: JSONValue) {
        written += 1
        precondition(written <= countMax, "more pairs than the map's count")
        append(encodedKey)
        item(value)
    }

    /// A value already encoded as one CBOR item.
    package mutating func encoded(_ key: String, _ item: UnsafeRawBufferPointer) { self.key(key); append(item) }

    /// The finished bytes; every announced pair must have been written.
    package consuming func finish() -> [UInt8] {
        precondition(written == countMax, "a map announced \(countMax) pairs and got \(written)")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: base, byteCount: count) }
            initialized = count
        }
    }
}

extension CBOR {
    /// What ``increment(_:mapAt:_:_:position:)`` did, or what stopped it.
    package enum Increment {
        /// The row now holds every counter increased.
        case updated
        /// The bytes are not one well-formed CBOR item (as ``validate(_:checkingText:)`` would throw).
        case malformed(DecodeError)
        /// The field is absent, there twice, or not a whole number (or the row is not a map).
        case notAWholeNumber(key: String)
        /// The field's value plus its delta leaves Int64.
        case overflows(key: String, value: Int64, delta: Int64)
    }

    /// A counter to increase: a field's name and its delta. The name is a literal: compared by one
    /// `memcmp`, and two counters are passed with no array to allocate and free for each row.
    package typealias Counter = (key: StaticString, delta: Int64)

    /// Increases the whole-number fields `first` and `second` name in `row` — a stored row, `u64be
    /// position ‖ CBOR map`, the map from `mapStart` — by their deltas, and makes `position` the row's
    /// position: the bytes ``updating(_:_:position:)`` gives for the new values, for a row of counters (a
    /// week's adherence, a station's deliveries and minutes). One walk finds both and checks the whole map
    /// as ``validate(_:checkingText:)`` does (text unchecked); the new values are written over the old in
    /// place when they take as many bytes, as they almost always do, else the row is made again. Reading
    /// each field, checking the row and writing a new one cost three walks and an allocation (5,000
    /// instructions a delivery, callgrind). Both fields must be there once, whole, and stay within Int64;
    /// damaged bytes are `.malformed` whatever else is wrong. When it fails, the row is unchanged.
    package static func increment(_ row: inout [UInt8], mapAt mapStart: Int, _ first: Counter, _ second: Counter, position: UInt64) -> Increment {
        precondition(!equal(first.key, second.key), "two different counters")
        precondition(mapStart >= 8 && mapStart <= row.count, "a stored row starts with its position, and its map lies in it")
        let located = row.withUnsafeBytes { bytes in
            // The error comes out of the closure as a value: its type is lost across `withUnsafeBytes`.
            do {
                return try locate(UnsafeRawBufferPointer(rebasing: bytes[mapStart...]), (first, second))
            } catch let error as DecodeError {
                return .failed(.malformed(error))
            } catch {
                return .failed(.malformed(DecodeError(offset: 0, reason: "\(error)")))
            }
        }
        guard case .found(var a, var b) = located else {
            guard case .failed(let failure) = located else { preconditionFailure("a look-up finds or fails") }
            return failure
        }
        (a.range, b.range) = (a.range.shifted(by: mapStart), b.range.shifted(by: mapStart))
        if a.range.lowerBound > b.range.lowerBound { swap(&a, &b) }
        if intCount(a.sum) == a.range.count && intCount(b.sum) == b.range.count {
            row.withUnsafeMutableBytes { bytes in
                writeInt(a.sum, into: bytes, at: a.range.lowerBound)
                writeInt(b.sum, into: bytes, at: b.range.lowerBound)
            }
        } else {
            var out: [UInt8] = []
            out.reserveCapacity(row.count + 16)
            out.append(contentsOf: row[..<a.range.lowerBound])
            encode(.int(a.sum), into: &out)
            out.append(contentsOf: row[a.range.upperBound..<b.range.lowerBound])
            encode(.int(b.sum), into: &out)
            out.append(contentsOf: row[b.range.upperBound...])
            row = out
        }
        row.withUnsafeMutableBytes { $0.storeBytes(of: position.bigEndian, toByteOffset: mapStart - 8, as: UInt64.self) }
        return .updated
    }

    /// Where a counter's value lies in the map, and its new value.
    private typealias Found = (range: Range<Int>, sum: Int64)

    /// Both counters of a map, or the first thing that stops an increase.
    private enum Located {
        case found(Found, Found)
        case failed(Increment)
    }

    /// Walks `map`, checking it, to the values of both counters. A failing counter is kept until the whole
    /// map is checked: damage anywhere is reported as such first.
    private static func locate(_ map: UnsafeRawBufferPointer, _ counters: (Counter, Counter)) throws(DecodeError) -> Located {
        var offset = 0
        let (major, _, count) = try readHead(map, &offset)
        guard major == 5 else {
            // A well-formed item that is not a map holds no counter, as a decoded row would say.
            try validate(map, checkingText: false)
            return .failed(.notAWholeNumber(key: "\(counters.0.key)"))
        }
        guard count <= UInt64(map.count - offset) else { throw DecodeError(offset: offset, reason: "map longer than the input") }
        var found: (Found?, Found?) = (nil, nil)
        var repeated: StaticString?
        var failure: Increment?
        for _ in 0..<count {
            let keyStart = offset
            let (keyMajor, _, length) = try readHead(map, &offset)
            guard keyMajor == 3 else { throw DecodeError(offset: keyStart, reason: "map key is not text") }
            guard length <= UInt64(map.count - offset) else { throw DecodeError(offset: offset, reason: "text longer than the input") }
            let keyBytes = UnsafeRawBufferPointer(rebasing: map[offset..<(offset + Int(length))])
            offset += Int(length)
            let valueStart = offset
            try skipItem(map, &offset, depth: 1)
            let isFirst = equal(counters.0.key, keyBytes)
            guard isFirst || equal(counters.1.key, keyBytes) else { continue }
            let counter = isFirst ? counters.0 : counters.1
            if (isFirst ? found.0 : found.1) != nil { repeated = repeated ?? counter.key }
            guard failure == nil else { continue }
            guard let value = int(UnsafeRawBufferPointer(rebasing: map[valueStart..<offset])) else {
                failure = .notAWholeNumber(key: "\(counter.key)")
                continue
            }
            let (sum, overflow) = value.addingReportingOverflow(counter.delta)
            guard !overflow else {
                failure = .overflows(key: "\(counter.key)", value: value, delta: counter.delta)
                continue
            }
            if isFirst { found.0 = (valueStart..<offset, sum) } else { found.1 = (valueStart..<offset, sum) }
        }
        guard offset == map.count else { throw DecodeError(offset: offset, reason: "\(map.count - offset) bytes after the item") }
        if let failure { return .failed(failure) }
        // A counter absent, or there twice (a row Linli did not write), is not one whole number.
        if let repeated { return .failed(.notAWholeNumber(key: "\(repeated)")) }
        guard let a = found.0 else { return .failed(.notAWholeNumber(key: "\(counters.0.key)")) }
        guard let b = found.1 else { return .failed(.notAWholeNumber(key: "\(counters.1.key)")) }
        return .found(a, b)
    }

    /// How many bytes `value` takes as a CBOR integer (``encode(_:into:)``'s shortest form).
    @inline(__always)
    private static func intCount(_ value: Int64) -> Int {
        let argument = value >= 0 ? UInt64(value) : UInt64(-(value + 1))
        switch argument {
        case 0..<24: return 1
        case 24..<256: return 2
        case 256..<65_536: return 3
        case 65_536..<4_294_967_296: return 5
        default: return 9
        }
    }

    /// Writes `value` as a CBOR integer (``encode(_:into:)``'s shortest form) over the bytes at `offset`,
    /// which hold one of the same length.
    @inline(__always)
    private static func writeInt(_ value: Int64, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        let major: UInt8 = value >= 0 ? 0 : 1
        let argument = value >= 0 ? UInt64(value) : UInt64(-(value + 1))
        let extra = intCount(value) - 1
        precondition(offset + 1 + extra <= bytes.count, "the old value took as many bytes")
        guard extra > 0 else { return bytes[offset] = major << 5 | UInt8(argument) }
        // 1, 2, 4 or 8 bytes of argument follow an additional information of 24, 25, 26 or 27.
        bytes[offset] = major << 5 | UInt8(24 + extra.trailingZeroBitCount)
        for index in 0..<extra { bytes[offset + 1 + index] = UInt8(truncatingIfNeeded: argument >> UInt64(8 * (extra - 1 - index))) }
    }

    /// Whether the literal `key`'s UTF-8 is `bytes`: lengths, then one `memcmp` (a generic `elementsEqual`
    /// cost a third of ``increment(_:mapAt:_:_:position:)``).
    @inline(__always)
    private static func equal(_ key: StaticString, _ bytes: UnsafeRawBufferPointer) -> Bool {
        key.utf8CodeUnitCount == bytes.count && (bytes.isEmpty || memcmp(key.utf8Start, bytes.baseAddress!, bytes.count) == 0)
    }

    @inline(__always)
    private static func equal(_ a: StaticString, _ b: StaticString) -> Bool {
        equal(a, UnsafeRawBufferPointer(start: b.utf8Start, count: b.utf8CodeUnitCount))
    }

    /// A map's encoding with `changes` applied, as `JSONValue.setting` would: a key present keeps its place
    /// and takes the new value, a new key is appended, in the order given. `map` must have passed
    /// ``validate(_:)``. One walk finds where each pair lies and which change replaces it (kept on the
    /// stack); the pairs are then copied through a ``CBORMapWriter``: the pairs' array, the flags' array and
    /// the output array growing had been a third of an hours log's update (callgrind).
    package static func updating(_ map: UnsafeRawBufferPointer, _ changes: [(String, JSONValue)], position: UInt64? = nil) -> [UInt8] {
        assert(Set(changes.map(\.0)).count == changes.count, "a key changed twice")
        precondition(changes.count <= 64, "at most 64 changes to a row at once")
        var offset = 0
        guard let (major, _, count) = try? readHead(map, &offset), major == 5, count <= UInt64(map.count) else {
            preconditionFailure("updating a CBOR item that is not a map")
        }
        /// The change that replaces the value under `key`, or -1.
        func change(for key: UnsafeRawBufferPointer, among replaced: UInt64) -> Int {
            for index in changes.indices where replaced & (1 << index) == 0 {
                var name = changes[index].0
                if name.withUTF8({ $0.count == key.count && memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }) { return index }
            }
            return -1
        }
        // Each pair's start, value and end, and the change that replaces its value (or -1), on the stack.
        return withUnsafeTemporaryAllocation(of: (start: Int, value: Int, end: Int, change: Int).self, capacity: max(Int(count), 1)) { pairs in
            var replaced: UInt64 = 0
            for pair in 0..<Int(count) {
                let start = offset
                guard let (_, _, length) = try? readHead(map, &offset) else { preconditionFailure("a validated map did not walk") }
                let index = change(for: UnsafeRawBufferPointer(rebasing: map[offset..<(offset + Int(length))]), among: replaced)
                offset += Int(length)
                let value = offset
                guard (try? skipItem(map, &offset, depth: 1)) != nil else { preconditionFailure("a validated map did not walk") }
                pairs[pair] = (start, value, offset, index)
                if index >= 0 { replaced |= 1 << index }
            }
            // A change is a key and a value of a few dozen bytes (an ISO time is 29): room for all at once.
            var writer = CBORMapWriter(
                count: Int(count) + changes.count - replaced.nonzeroBitCount, position: position, capacity: map.count + 48 * changes.count + 16)
            for pair in pairs.prefix(Int(count)) {
                if pair.change < 0 {
                    writer.pair(UnsafeRawBufferPointer(rebasing: map[pair.start..<pair.end]))
                } else {
                    writer.value(encodedKey: UnsafeRawBufferPointer(rebasing: map[pair.start..<pair.value]), changes[pair.change].1)
                }
            }
            for (index, change) in changes.enumerated() where replaced & (1 << index) == 0 { writer.value(change.0, change.1) }
            return writer.finish()
        }
    }
}

extension Range where Bound == Int {
    /// The range moved by `offset`.
    fileprivate func shifted(by offset: Int) -> Range<Int> { (lowerBound + offset)..<(upperBound + offset) }
}
