/// Appends big-endian integers and length-prefixed strings to a byte array. Big-endian so that keys
/// sort by number under LMDB's byte-wise comparison.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends raw bytes.
    @inlinable public mutating func write<C: Collection>(_ raw: C) where C.Element == UInt8 { bytes.append(contentsOf: raw) }
    /// Appends raw bytes.
    @inlinable public mutating func write(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }
    /// Appends one byte.
    @inlinable public mutating func write(_ value: UInt8) { bytes.append(value) }
    /// Appends a big-endian `UInt16`.
    @inlinable public mutating func write(_ value: UInt16) { writeBigEndian(UInt64(value), count: 2) }
    /// Appends a big-endian `UInt32`.
    @inlinable public mutating func write(_ value: UInt32) { writeBigEndian(UInt64(value), count: 4) }
    /// Appends a big-endian `UInt64`.
    @inlinable public mutating func write(_ value: UInt64) { writeBigEndian(value, count: 8) }
    /// Appends a big-endian two's-complement `Int64`.
    @inlinable public mutating func write(_ value: Int64) { writeBigEndian(UInt64(bitPattern: value), count: 8) }
    /// Appends a big-endian two's-complement `Int16`.
    @inlinable public mutating func write(_ value: Int16) { writeBigEndian(UInt64(UInt16(bitPattern: value)), count: 2) }

    @inlinable mutating func writeBigEndian(_ value: UInt64, count: Int) {
        // Rebased, so that the append is one memcpy rather than an element-by-element slice copy.
        Swift.withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[(8 - count)...])) }
    }

    /// Appends the text's UTF-8 bytes, in one copy.
    @inlinable public mutating func writeText(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends a `u16be` length and the text's UTF-8 bytes (the caller has checked the length fits).
    @inlinable public mutating func writeShortText(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            write(UInt16(truncatingIfNeeded: utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
}

/// Reads what ``ByteWriter`` wrote, checking every bound: a short or malformed input is an error, never a
/// read past the end.
public struct ByteReader: ~Copyable {
    /// The bytes; valid only while the reader is.
    public let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    public private(set) var offset: Int = 0

    /// A reader over `bytes`, which must outlive it.
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Bytes left.
    public var remaining: Int { bytes.count - offset }

    /// Thrown when the input ends early or holds a value out of range.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        /// The offset where reading failed.
        public let offset: Int
        /// What was wrong.
        public let reason: String
        public var description: String { "malformed at byte \(offset): \(reason)" }
    }

    @inline(__always) mutating func need(_ count: Int) throws(Malformed) {
        guard count >= 0, remaining >= count else {
            throw Malformed(offset: offset, reason: "needs \(count) bytes, \(remaining) left")
        }
    }

    /// Reads one byte.
    public mutating func readByte() throws(Malformed) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a big-endian unsigned integer of `count` bytes.
    public mutating func readBigEndian(_ count: Int) throws(Malformed) -> UInt64 {
        try need(count)
        defer { offset += count }
        // The fixed widths as one load each: a record's header is a dozen of them, read for every event
        // the chain pass checks.
        switch count {
        case 8: return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        case 4: return UInt64(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        case 2: return UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        default:
            precondition(count <= 8, "a big-endian integer of at most 8 bytes")
            var value: UInt64 = 0
            for index in offset..<(offset + count) { value = value << 8 | UInt64(bytes[index]) }
            return value
        }
    }

    /// Reads a big-endian `UInt16`.
    public mutating func readUInt16() throws(Malformed) -> UInt16 { UInt16(try readBigEndian(2)) }
    /// Reads a big-endian `UInt32`.
    public mutating func readUInt32() throws(Malformed) -> UInt32 { UInt32(try readBigEndian(4)) }
    /// Reads a big-endian `UInt64`.
    public mutating func readUInt64() throws(Malformed) -> UInt64 { try readBigEndian(8) }
    /// Reads a big-endian `Int64`.
    public mutating func readInt64() throws(Malformed) -> Int64 { Int64(bitPattern: try readBigEndian(8)) }
    /// Reads a big-endian `Int16`.
    public mutating func readInt16() throws(Malformed) -> Int16 { Int16(bitPattern: UInt16(try readBigEndian(2))) }

    /// Reads `count` raw bytes, copied.
    public mutating func readBytes(_ count: Int) throws(Malformed) -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
    }

    /// Passes the next `count` bytes to `body` without copying.
    public mutating func withBytes<R>(_ count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try need(count)
        defer { offset += count }
        return try body(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
    }

    /// Reads `count` bytes as UTF-8 text, rejecting invalid UTF-8.
    public mutating func readString(_ count: Int) throws(Malformed) -> String {
        try need(count)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        guard UTF8Validation.isValid(slice) else { throw Malformed(offset: offset, reason: "invalid UTF-8") }
        offset += count
        return String(decoding: slice, as: UTF8.self)
    }
}

/// The 8-byte big-endian key of a position or version.
@inline(__always)
public func bigEndianKey(_ value: UInt64) -> [UInt8] {
    var writer = ByteWriter(capacity: 8)
    writer.write(value)
    return writer.bytes
}

/// Reads an 8-byte big-endian number, or nil when the buffer is not 8 bytes.
@inline(__always)
public func bigEndianValue(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
    guard bytes.count >= 8 else { return nil }
    var value: UInt64 = 0
    for index in 0..<8 { value = value << 8 | UInt64(bytes[index]) }
    return value
}

/// Lower-case hexadecimal of some bytes.
public func hexString<C: Sequence>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Parses lower- or upper-case hexadecimal; nil on an odd length or a non-hex character.
public func bytes(fromHex text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count / 2)
    var index = 0
    while index < utf8.count {
        guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
        out.append(high << 4 | low)
        index += 2
    }
    return out
}

/// UTF-8 validity without allocating: well-formed sequences only (no overlongs, no surrogates, nothing
/// above U+10FFFF), as `String(validating:)` accepts them, at a fraction of its cost (records, rows and
/// payloads are checked on every read).
public enum UTF8Validation {
    /// Whether `bytes` are well-formed UTF-8.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            // Eight ASCII bytes at a time.
            if index + 8 <= count, bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            let lead = bytes[index]
            if lead < 0x80 { index += 1; continue }
            let length: Int, low: UInt8, high: UInt8
            switch lead {
            case 0xC2...0xDF: length = 2; low = 0x80; high = 0xBF
            case 0xE0: length = 3; low = 0xA0; high = 0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3; low = 0x80; high = 0xBF
            case 0xED: length = 3; low = 0x80; high = 0x9F
            case 0xF0: length = 4; low = 0x90; high = 0xBF
            case 0xF1...0xF3: length = 4; low = 0x80; high = 0xBF
            case 0xF4: length = 4; low = 0x80; high = 0x8F
            default: return false
            }
            guard index + length <= count else { return false }
            let second = bytes[index + 1]
            guard second >= low && second <= high else { return false }
            for next in (index + 2)..<(index + length) where bytes[next] & 0xC0 != 0x80 { return false }
            index += length
        }
        return true
    }
}
