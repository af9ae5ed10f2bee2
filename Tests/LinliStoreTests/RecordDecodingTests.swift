import Foundation
@testable import LinliStore
import LinliTestSupport
import Testing

/// What the record decoder refuses, so that nothing that reads a record afterwards (an export's integers,
/// a time's ISO 8601 text) can trap on what a forged store or export holds. Each case was found by the
/// fuzzers (Scripts/fuzz.sh; the input is kept in Fuzz/Corpus/record).
@Suite("Record decoding: impossible fields are refused")
struct RecordDecodingTests {
    func record(position: UInt64 = 1, streamVersion: UInt64 = 1, occurredMs: Int64 = 1_700_000_000_000, recordedMs: Int64 = 1_700_000_000_000) -> [UInt8] {
        var writer = ByteWriter()
        _ = [UInt8(0xA0)].withUnsafeBytes { payload in
            RecordCodec.encode(
                position: position, stream: "s", streamVersion: streamVersion, previousInStream: 0, type: "t", schemaVersion: 1,
                commandId: "c", actor: "a", occurredAt: Timestamp(epochMilliseconds: occurredMs), recordedAt: Timestamp(epochMilliseconds: recordedMs),
                payload: payload, previousHash: .genesis, into: &writer)
        }
        return writer.bytes
    }

    @Test("a well-formed record decodes")
    func wellFormed() throws {
        #expect(try RecordedEvent.decode(stored: record(), position: 1).streamVersion == 1)
    }

    @Test(
        "a stream version of 0 or beyond the position, and times outside the years 0000–9999, are refused naming the field",
        arguments: [
            ("stream version", 1, UInt64.max, Int64(0), Int64(0)), ("stream version", 1, 0, 0, 0), ("stream version", 5, 6, 0, 0), ("position", 0, 1, 0, 0),
            ("occurred time", 1, 1, Int64.max, 0), ("occurred time", 1, 1, Int64.min, 0), ("recorded time", 1, 1, 0, Int64.max),
        ])
    func refused(field: String, position: UInt64, streamVersion: UInt64, occurredMs: Int64, recordedMs: Int64) throws {
        let bytes = record(position: position, streamVersion: streamVersion, occurredMs: occurredMs, recordedMs: recordedMs)
        #expect { try RecordedEvent.decode(stored: bytes, position: position) } throws: { "\($0)".contains(field) }
    }

    /// The chain pass's structural check as it was written before it read the header at fixed offsets: a
    /// reader that checks each field's length as it goes. The reference the fast check must agree with.
    static func referenceValidate(_ record: UnsafeRawBufferPointer, expectedPosition: UInt64) -> String? {
        var reader = ByteReader(record)
        do {
            _ = try reader.withBytes(32) { _ in }
            let version = try reader.readByte()
            guard version == LogLimits.recordFormatVersion else { return "record format version \(version) is not 1" }
            let position = try reader.readUInt64()
            guard position == expectedPosition else { return "stored under key \(expectedPosition) but holds position \(position)" }
            _ = try reader.readUInt64()
            let previousInStream = try reader.readUInt64()
            guard previousInStream < position else { return "its stream's previous position \(previousInStream) is not before it" }
            _ = try reader.readInt64()
            let offset = try reader.readInt16()
            guard abs(Int(offset)) <= 18 * 60 else { return "offset \(offset) minutes is out of range" }
            _ = try reader.readInt64()
            _ = try reader.readUInt16()
            for _ in 0..<4 {
                let count = Int(try reader.readUInt16())
                guard try reader.withBytes(count, { UTF8Validation.isValid($0) }) else { return "cannot decode: invalid UTF-8 in a name" }
            }
            let payloadCount = Int(try reader.readUInt32())
            guard payloadCount <= LogLimits.payloadBytesMax else { return "payload of \(payloadCount) bytes exceeds the limit" }
            _ = try reader.withBytes(payloadCount) { _ in }
            _ = try reader.withBytes(32) { _ in }
            guard reader.remaining == 0 else { return "\(reader.remaining) bytes after the hash" }
            return nil
        } catch {
            return "cannot decode: \(error)"
        }
    }

    /// Seeded: records with names of several lengths (Chinese among them), then damaged — a byte of the
    /// header or of a length set at random, cut short, lengthened, a name's byte made invalid UTF-8 — are
    /// refused by the chain pass's check exactly when the reference refuses them, with the same words (a
    /// record cut inside its fixed header is refused for its length).
    @Test("the chain pass's structural check agrees with a field-by-field reader on damaged records", arguments: [UInt64(17), 2026])
    func validateAgreesWithReader(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        var refused = 0
        for round in 0..<3_000 {
            let names = (0..<4).map { index in String(repeating: index == 0 ? "邻" : "a", count: random.below(40)) }
            let payload = (0..<random.below(300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var writer = ByteWriter()
            let position = UInt64(1 + random.below(1_000))
            _ = payload.withUnsafeBytes { bytes in
                RecordCodec.encode(
                    position: position, stream: names[0], streamVersion: 1, previousInStream: UInt64(random.below(Int(position))), type: names[1],
                    schemaVersion: 1, commandId: names[2], actor: names[3], occurredAt: Timestamp(epochMilliseconds: 1_700_000_000_000),
                    recordedAt: Timestamp(epochMilliseconds: 1_700_000_000_000), payload: bytes, previousHash: .genesis, into: &writer)
            }
            var record = writer.bytes
            switch round % 5 {
            case 0: break
            case 1: record[random.below(RecordCodec.fixedHeaderBytes + 8)] = UInt8(truncatingIfNeeded: random.next())
            case 2: record.removeLast(random.below(record.count + 1))
            case 3: record += (0..<(1 + random.below(40))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            default: record[RecordCodec.fixedHeaderBytes + 2 + random.below(max(1, names[0].utf8.count))] = 0xFF
            }
            let expected = record.withUnsafeBytes { Self.referenceValidate($0, expectedPosition: position) }
            var found: String? = nil
            record.withUnsafeBytes { bytes in
                do throws(RecordError) { try RecordCodec.validate(bytes, expectedPosition: position) } catch { found = error.reason }
            }
            if record.count >= RecordCodec.fixedHeaderBytes {
                #expect(found == expected, "round \(round): \(record.count) bytes")
            } else {
                // A record cut inside its fixed header is refused by its length first, before its fields.
                #expect(found == "cannot decode: malformed at byte 0: needs 77 bytes, \(record.count) left" && expected != nil, "round \(round)")
            }
            if expected != nil { refused += 1 }
        }
        // The damage must be refused often and let through sometimes, or the agreement proves little.
        #expect(refused > 1_000 && refused < 2_900, "\(refused) of 3,000 refused")
    }
}
