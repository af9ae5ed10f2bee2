import Crypto
import Glibc

/// The limits of the log. Every input has one; each is tested.
public enum LogLimits {
    /// The largest event payload.
    public static let payloadBytesMax = 1 << 20
    /// The longest stream id, in UTF-8 bytes (LMDB keys are at most 511 bytes; the stream index adds 9).
    public static let streamBytesMax = 200
    /// The longest event type, command id or actor, in UTF-8 bytes.
    public static let nameBytesMax = 128
    /// The most events one command may append.
    public static let commandEventsMax = 4_096
    /// The most events one write may append.
    public static let batchEventsMax = 1_000_000
    /// The version of the record layout this code writes and reads.
    public static let recordFormatVersion: UInt8 = 1
    /// The times a record may hold, in milliseconds since 1970: the years 0000 to 9999 that ISO 8601's
    /// four digits write (what every command's `at` parses to), so that no arithmetic on them overflows.
    public static let timeMillisecondsRange: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999
    /// The highest position: positions, versions and counts are written as JSON integers (Int64).
    public static let positionMax = UInt64(Int64.max)
    /// Bytes of a SHA-256 digest.
    public static let hashBytes = 32
}

/// A SHA-256 digest: a record's hash or its predecessor's. Held inline (four words), so that hashing and
/// chaining a record allocates nothing.
public struct Hash: Sendable, Hashable, CustomStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// The previous hash of the first record: 32 zero bytes.
    public static let genesis = Hash(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// Copies 32 bytes.
    public init(_ raw: UnsafeRawBufferPointer) {
        precondition(raw.count == LogLimits.hashBytes, "a SHA-256 digest is 32 bytes")
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: raw) }
        self.words = words
    }

    /// Copies 32 bytes.
    public init(bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { Hash($0) }
    }

    /// Parses 64 hex digits.
    public init?(hex: String) {
        guard let raw = LinliStore.bytes(fromHex: hex), raw.count == LogLimits.hashBytes else { return nil }
        self.init(bytes: raw)
    }

    /// The 32 bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Passes the 32 bytes to `body` without copying them to the heap.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// Whether these are the 32 bytes in `raw`.
    public func equals(_ raw: UnsafeRawBufferPointer) -> Bool {
        raw.count == 32 && withUnsafeBytes { memcmp($0.baseAddress!, raw.baseAddress!, 32) == 0 }
    }

    public static func == (lhs: Hash, rhs: Hash) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// 64 lower-case hex digits.
    public var hex: String { hexString(bytes) }
    public var description: String { hex }

    /// SHA-256 of some bytes.
    public static func sha256(_ data: UnsafeRawBufferPointer) -> Hash {
        SHA256.hash(data: data).withUnsafeBytes { Hash($0) }
    }
}

/// One stored event, decoded.
public struct RecordedEvent: Sendable, Equatable {
    /// The global position, from 1, without gaps.
    public var position: UInt64
    /// The stream it belongs to (for example `resident:r-12`).
    public var stream: String
    /// Its version within the stream, from 1, without gaps.
    public var streamVersion: UInt64
    /// The position of the stream's previous event (0 for the stream's first): streams are read by
    /// following these links back from the stream's head, so no per-event index is written.
    public var previousPositionInStream: UInt64
    /// The event type (for example `hours.logged`).
    public var type: String
    /// The payload's schema version for this type.
    public var schemaVersion: UInt16
    /// The id of the command that appended it.
    public var commandId: String
    /// Who did it.
    public var actor: String
    /// When it happened, as the actor stated it.
    public var occurredAt: Timestamp
    /// When the store recorded it.
    public var recordedAt: Timestamp
    /// The payload bytes (Linli's events use CBOR; the log does not look inside).
    public var payload: [UInt8]
    /// The previous record's hash (``Hash/genesis`` at position 1).
    public var previousHash: Hash
    /// SHA-256(previous hash ‖ record body).
    public var hash: Hash
    /// What the engine made of the record before applying it, on the thread that read it: a replay's
    /// read-ahead runs ``EventLog/Options/prepareEvent`` there, off the thread that applies the events.
    /// Nil elsewhere; never stored, and not part of the event's equality.
    public var prepared: (any AnyObject & Sendable)? = nil

    /// Whether two records are the same event: every stored field equal (``prepared`` aside).
    public static func == (lhs: RecordedEvent, rhs: RecordedEvent) -> Bool {
        lhs.position == rhs.position && lhs.stream == rhs.stream && lhs.streamVersion == rhs.streamVersion
            && lhs.previousPositionInStream == rhs.previousPositionInStream && lhs.type == rhs.type && lhs.schemaVersion == rhs.schemaVersion
            && lhs.commandId == rhs.commandId && lhs.actor == rhs.actor && lhs.occurredAt == rhs.occurredAt && lhs.recordedAt == rhs.recordedAt
            && lhs.payload == rhs.payload && lhs.previousHash == rhs.previousHash && lhs.hash == rhs.hash
    }
}

/// Errors of the log's record layer.
public struct RecordError: Error, Sendable, CustomStringConvertible {
    /// The position of the record that failed.
    public let position: UInt64
    /// What was wrong.
    public let reason: String
    public var description: String { "event at position \(position): \(reason)" }
}

/// The record layout, version 1 (docs/FORMAT.md gives it byte for byte):
///
///     0   prevHash          32 bytes
///     32  formatVersion     u8 (1)
///     33  position          u64be
///     41  streamVersion     u64be
///     49  previousInStream  u64be   position of the stream's previous event, 0 for its first
///     57  occurredAtMs      i64be   milliseconds since the Unix epoch
///     65  occurredOffset    i16be   minutes east of UTC
///     67  recordedAtMs      i64be
///     75  schemaVersion     u16be
///     77  stream            u16be length, UTF-8
///         type              u16be length, UTF-8
///         commandId         u16be length, UTF-8
///         actor             u16be length, UTF-8
///         payload           u32be length, bytes
///     end-32 hash           32 bytes = SHA-256(bytes[0 ..< end-32])
enum RecordCodec {
    static let fixedHeaderBytes = 77

    /// Writes the record for `event` (whose hash fields are ignored) into `writer`, computes its hash and
    /// returns it; `writer` then holds the whole stored value.
    static func encode(
        position: UInt64, stream: String, streamVersion: UInt64, previousInStream: UInt64, type: String, schemaVersion: UInt16,
        commandId: String, actor: String, occurredAt: Timestamp, recordedAt: Timestamp,
        payload: UnsafeRawBufferPointer, previousHash: Hash, into writer: inout ByteWriter
    ) -> Hash {
        writer.bytes.removeAll(keepingCapacity: true)
        previousHash.withUnsafeBytes { writer.write($0) }
        writer.write(LogLimits.recordFormatVersion)
        writer.write(position)
        writer.write(streamVersion)
        writer.write(previousInStream)
        writer.write(occurredAt.epochMilliseconds)
        writer.write(occurredAt.offsetMinutes)
        writer.write(recordedAt.epochMilliseconds)
        writer.write(schemaVersion)
        assert(writer.bytes.count == fixedHeaderBytes, "the fixed header, previous hash included, is 77 bytes")
        writer.writeShortText(stream)
        writer.writeShortText(type)
        writer.writeShortText(commandId)
        writer.writeShortText(actor)
        writer.write(UInt32(payload.count))
        writer.write(payload)
        let hash = writer.bytes.withUnsafeBytes { Hash.sha256($0) }
        hash.withUnsafeBytes { writer.write($0) }
        return hash
    }

    /// The stored position of a record, read from its fixed header without decoding the rest.
    static func position(of record: UnsafeRawBufferPointer) -> UInt64? {
        guard record.count >= fixedHeaderBytes + 32 else { return nil }
        return bigEndianValue(UnsafeRawBufferPointer(rebasing: record[33..<41]))
    }

    /// A record's stream version and the position of its stream's previous event, read from the fixed header.
    static func streamLink(of record: UnsafeRawBufferPointer) -> (version: UInt64, previous: UInt64)? {
        guard record.count >= fixedHeaderBytes + 12 + 32,
            let version = bigEndianValue(UnsafeRawBufferPointer(rebasing: record[41..<49])),
            let previous = bigEndianValue(UnsafeRawBufferPointer(rebasing: record[49..<57]))
        else { return nil }
        return (version, previous)
    }

    /// Recomputes a record's hash and compares it with the stored one. Returns the stored previous hash and
    /// hash when they agree.
    static func checkHash(_ record: UnsafeRawBufferPointer) -> (previous: UnsafeRawBufferPointer, hash: UnsafeRawBufferPointer, valid: Bool)? {
        guard record.count >= fixedHeaderBytes + 12 + 32 else { return nil }
        let bodyEnd = record.count - 32
        let computed = SHA256.hash(data: UnsafeRawBufferPointer(rebasing: record[0..<bodyEnd]))
        let stored = UnsafeRawBufferPointer(rebasing: record[bodyEnd...])
        let valid = computed.withUnsafeBytes { memcmp($0.baseAddress!, stored.baseAddress!, 32) == 0 }
        return (UnsafeRawBufferPointer(rebasing: record[0..<32]), stored, valid)
    }

    /// Checks a stored record's structure (lengths, version, position, UTF-8 of its names) without copying
    /// its payload: what chain verification needs on every record. The fixed header is read at its offsets
    /// after one length check, and each later field after one check of its own: a reader that threw at
    /// every field was a fifth of the chain pass beside SHA-256 (docs/DECISIONS.md, "Audit").
    static func validate(_ record: UnsafeRawBufferPointer, expectedPosition: UInt64) throws(RecordError) {
        func failure(_ reason: String) -> RecordError { RecordError(position: expectedPosition, reason: reason) }
        /// The same words as a reader that runs out: where, how much it needed, how much was left.
        @inline(__always) func need(_ count: Int, at offset: Int) throws(RecordError) {
            let left = record.count - offset
            guard left >= count else { throw failure("cannot decode: malformed at byte \(offset): needs \(count) bytes, \(left) left") }
        }
        @inline(__always) func integer<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
            T(bigEndian: record.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        try need(fixedHeaderBytes, at: 0)
        let version = record[32]
        guard version == LogLimits.recordFormatVersion else { throw failure("record format version \(version) is not 1") }
        let position = integer(at: 33, as: UInt64.self)
        guard position == expectedPosition else { throw failure("stored under key \(expectedPosition) but holds position \(position)") }
        let previousInStream = integer(at: 49, as: UInt64.self)
        guard previousInStream < position else { throw failure("its stream's previous position \(previousInStream) is not before it") }
        let offsetMinutes = integer(at: 65, as: Int16.self)
        guard abs(Int(offsetMinutes)) <= 18 * 60 else { throw failure("offset \(offsetMinutes) minutes is out of range") }
        var offset = fixedHeaderBytes
        // The stream, the type, the command id and the actor.
        for _ in 0..<4 {
            try need(2, at: offset)
            let count = Int(integer(at: offset, as: UInt16.self))
            offset += 2
            try need(count, at: offset)
            guard UTF8Validation.isValid(UnsafeRawBufferPointer(rebasing: record[offset..<(offset + count)])) else {
                throw failure("cannot decode: invalid UTF-8 in a name")
            }
            offset += count
        }
        try need(4, at: offset)
        let payloadCount = Int(integer(at: offset, as: UInt32.self))
        offset += 4
        guard payloadCount <= LogLimits.payloadBytesMax else { throw failure("payload of \(payloadCount) bytes exceeds the limit") }
        try need(payloadCount, at: offset)
        try need(LogLimits.hashBytes, at: offset + payloadCount)
        let after = record.count - (offset + payloadCount + LogLimits.hashBytes)
        guard after == 0 else { throw failure("\(after) bytes after the hash") }
    }

    /// The event type's bytes in a stored record, read in place, or nil when the record is too short to
    /// hold them (docs/FORMAT.md: the stream id's length at byte 77, then the stream id, then the type's).
    static func type(of record: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let streamAt = 77
        guard record.count >= streamAt + 2 + LogLimits.hashBytes else { return nil }
        let streamCount = Int(record[streamAt]) << 8 | Int(record[streamAt + 1])
        let typeAt = streamAt + 2 + streamCount
        guard record.count >= typeAt + 2 + LogLimits.hashBytes else { return nil }
        let typeCount = Int(record[typeAt]) << 8 | Int(record[typeAt + 1])
        guard record.count >= typeAt + 2 + typeCount + LogLimits.hashBytes else { return nil }
        return UnsafeRawBufferPointer(rebasing: record[(typeAt + 2)..<(typeAt + 2 + typeCount)])
    }

    /// Decodes a stored record. `expectedPosition` is the key it was stored under; a mismatch, a short or
    /// malformed record is a ``RecordError`` naming it, never a crash.
    static func decode(_ record: UnsafeRawBufferPointer, expectedPosition: UInt64) throws(RecordError) -> RecordedEvent {
        var reader = ByteReader(record)
        do {
            let previous = try reader.withBytes(32) { Hash($0) }
            let version = try reader.readByte()
            guard version == LogLimits.recordFormatVersion else {
                throw RecordError(position: expectedPosition, reason: "record format version \(version) is not 1")
            }
            let position = try reader.readUInt64()
            guard position == expectedPosition else {
                throw RecordError(position: expectedPosition, reason: "stored under key \(expectedPosition) but holds position \(position)")
            }
            guard position >= 1 else { throw RecordError(position: expectedPosition, reason: "position 0 is before the first a log holds") }
            guard position <= LogLimits.positionMax else {
                throw RecordError(position: expectedPosition, reason: "position \(position) is beyond the last a log can hold")
            }
            let streamVersion = try reader.readUInt64()
            // An event is at most the position-th of its stream: found by fuzzing, a larger version did not
            // fit an export's integer and stopped `linli export` with a trap.
            guard (1...position).contains(streamVersion) else {
                throw RecordError(position: expectedPosition, reason: "stream version \(streamVersion) is not between 1 and its position")
            }
            let previousInStream = try reader.readUInt64()
            guard previousInStream < position else {
                throw RecordError(position: expectedPosition, reason: "its stream's previous position \(previousInStream) is not before it")
            }
            let occurredMs = try reader.readInt64()
            let offset = try reader.readInt16()
            guard abs(Int(offset)) <= 18 * 60 else { throw RecordError(position: expectedPosition, reason: "offset \(offset) minutes is out of range") }
            let recordedMs = try reader.readInt64()
            for (name, ms) in [("occurred", occurredMs), ("recorded", recordedMs)] where !LogLimits.timeMillisecondsRange.contains(ms) {
                throw RecordError(position: expectedPosition, reason: "its \(name) time (\(ms) ms) is outside the years 0000–9999")
            }
            let schemaVersion = try reader.readUInt16()
            let stream = try reader.readString(Int(try reader.readUInt16()))
            let type = try reader.readString(Int(try reader.readUInt16()))
            let commandId = try reader.readString(Int(try reader.readUInt16()))
            let actor = try reader.readString(Int(try reader.readUInt16()))
            let payloadCount = Int(try reader.readUInt32())
            guard payloadCount <= LogLimits.payloadBytesMax else {
                throw RecordError(position: expectedPosition, reason: "payload of \(payloadCount) bytes exceeds the limit")
            }
            let payload = try reader.readBytes(payloadCount)
            let hash = try reader.withBytes(32) { Hash($0) }
            guard reader.remaining == 0 else {
                throw RecordError(position: expectedPosition, reason: "\(reader.remaining) bytes after the hash")
            }
            return RecordedEvent(
                position: position, stream: stream, streamVersion: streamVersion, previousPositionInStream: previousInStream, type: type,
                schemaVersion: schemaVersion, commandId: commandId, actor: actor,
                occurredAt: Timestamp(epochMilliseconds: occurredMs, offsetMinutes: offset),
                recordedAt: Timestamp(epochMilliseconds: recordedMs, offsetMinutes: 0),
                payload: payload, previousHash: previous, hash: hash)
        } catch let error as ByteReader.Malformed {
            throw RecordError(position: expectedPosition, reason: "cannot decode: \(error)")
        } catch let error as RecordError {
            throw error
        } catch {
            throw RecordError(position: expectedPosition, reason: "cannot decode: \(error)")
        }
    }
}

extension Hash {
    /// SHA-256 of a string's UTF-8 bytes.
    public static func sha256(_ text: String) -> Hash {
        Array(text.utf8).withUnsafeBytes { sha256($0) }
    }
}

extension RecordedEvent {
    /// The record exactly as the store keeps it (docs/FORMAT.md), rebuilt from the fields: the bytes the
    /// hash covers, then the hash. `linli export` writes them so that a file can be verified without the store.
    public var storedBytes: [UInt8] {
        var writer = ByteWriter()
        _ = payload.withUnsafeBytes { payload in
            RecordCodec.encode(
                position: position, stream: stream, streamVersion: streamVersion, previousInStream: previousPositionInStream, type: type,
                schemaVersion: schemaVersion, commandId: commandId, actor: actor, occurredAt: occurredAt, recordedAt: recordedAt,
                payload: payload, previousHash: previousHash, into: &writer)
        }
        // The stored hash, not the recomputed one: for a tampered record they differ, and the bytes must
        // stay what was stored so that the chain check can say so.
        var bytes = writer.bytes
        bytes.replaceSubrange((bytes.count - LogLimits.hashBytes)..., with: hash.withUnsafeBytes { Array($0) })
        return bytes
    }

    /// Decodes a record's stored bytes (from an export, say), checking its structure and that it holds
    /// `position`. The hash is not checked here: ``ChainVerifier`` does that.
    public static func decode(stored bytes: [UInt8], position: UInt64) throws(RecordError) -> RecordedEvent {
        let result: Result<RecordedEvent, RecordError> = bytes.withUnsafeBytes { raw in
            do throws(RecordError) { return .success(try RecordCodec.decode(raw, expectedPosition: position)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
