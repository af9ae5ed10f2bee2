import Foundation
@testable import LinliStore
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
}
