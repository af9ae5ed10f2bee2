import LinliStore

/// The interchange form of a stored event (`linli export`): one JSON object per event.
public enum EventExport {
    /// The event as JSON: position, stream, version, type, schema version, command id, actor, both times,
    /// the payload (decoded from CBOR), the previous hash, the hash, and `record`: the stored record's
    /// bytes in hex, which is what `linli audit verify --export` checks (the other fields are for people,
    /// and are checked against it). With `requestDigest` (the digest stored with the command id, which
    /// no record carries), also `requestDigest`: what an import needs to refuse a reused command id as the
    /// source store does.
    public static func json(_ event: RecordedEvent, requestDigest: Hash? = nil) -> JSONValue {
        let payload = (try? CBOR.decode(event.payload)) ?? .string(hexString(event.payload))
        var json: JSONValue = [
            "position": .int(Int64(event.position)), "stream": .string(event.stream), "version": .int(Int64(event.streamVersion)),
            "type": .string(event.type), "schemaVersion": .int(Int64(event.schemaVersion)), "commandId": .string(event.commandId),
            "actor": .string(event.actor), "occurredAt": .string(event.occurredAt.iso8601), "recordedAt": .string(event.recordedAt.iso8601),
            "payload": payload, "prevHash": .string(event.previousHash.hex), "hash": .string(event.hash.hex),
            "record": .string(hexString(event.storedBytes)),
        ]
        if let requestDigest, case .object(let pairs) = json { json = .object(pairs + [("requestDigest", .string(requestDigest.hex))]) }
        return json
    }

    /// The fields a line's reader sees, each checked against its record.
    static let readableFields = ["stream", "version", "type", "actor", "commandId", "occurredAt", "recordedAt", "payload", "prevHash", "hash"]
}

extension Engine {
    /// Calls `body` with each exported line (``EventExport/json(_:requestDigest:)`` with the command's digest)
    /// from position `from` to `to` (the head when nil), in one read snapshot.
    public func export(from: UInt64 = 1, to: UInt64? = nil, _ body: (JSONValue) throws -> Void) throws {
        var command: (id: String, digest: Hash)?
        try log.read { reader in
            // An export reads the whole log in order, and its command records at random: the map's pages
            // are kept within the replays' budget (an export of the pilots' store reached 1.2 GB resident).
            var pages = MappedPagesBudget(checkEvery: MappedPagesBudget.walkCheckEvery, releasingFirst: log.environment)
            try reader.forEachEvent(from: from) { event in
                if let to, event.position > to { return false }
                pages.step(log.environment)
                // A command's events are consecutive: its digest is looked up once.
                if command?.id != event.commandId {
                    guard let record = try reader.commandRecord(event.commandId) else {
                        throw LogError.corrupt(
                            position: event.position, reason: "the store has no command record for \(event.commandId); run linli audit verify")
                    }
                    command = (event.commandId, record.digest)
                }
                try body(EventExport.json(event, requestDigest: command?.digest))
                return true
            }
        }
    }
}

/// One line of an export, read and checked: its record, the event the record holds, and the request digest
/// when the line carries one.
public struct ExportedLine: Sendable {
    /// The line's number in its file, from 1.
    public var lineNumber: Int
    /// The stored record.
    public var record: StoredRecord
    /// The event the record holds.
    public var event: RecordedEvent
    /// The digest stored with the event's command id (`requestDigest`), if the line has it.
    public var requestDigest: Hash?

    /// The longest line an export can hold: a record of the largest payload (1 MiB) in hex, with the payload
    /// decoded beside it, fits well under it.
    public static let lineBytesMax = 8 << 20
    /// An export line wraps an event's payload, which is as deep as its command's fields, in one object more.
    public static let jsonDepthMax = JSONParser.depthMax + 1

    /// Reads line `lineNumber`: nil for a blank line. Its readable fields must be what its record holds, so
    /// that what people read in an export is what a store imports; the record's hash and chain are for the
    /// log to check.
    public static func parse(_ line: [UInt8], lineNumber: Int) throws(ExportLineError) -> ExportedLine? {
        guard line.count <= lineBytesMax else {
            throw ExportLineError(lineNumber: lineNumber, field: nil, reason: "is longer than \(lineBytesMax >> 20) MiB: not an exported event")
        }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { return nil }
        guard let json = try? JSONParser.parse(line, lineBytesMax: lineBytesMax, depthMax: jsonDepthMax) else {
            throw ExportLineError(lineNumber: lineNumber, field: nil, reason: "is not JSON")
        }
        guard let position = json["position"]?.intValue, position > 0 else {
            throw ExportLineError(lineNumber: lineNumber, field: "position", reason: "is missing or not a position (1 or more)")
        }
        guard let hex = json["record"]?.stringValue, let bytes = bytes(fromHex: hex) else {
            throw ExportLineError(lineNumber: lineNumber, position: UInt64(position), field: "record", reason: "is missing or not hexadecimal")
        }
        let event: RecordedEvent
        do { event = try RecordedEvent.decode(stored: bytes, position: UInt64(position)) } catch {
            throw ExportLineError(lineNumber: lineNumber, position: UInt64(position), field: "record", reason: error.reason)
        }
        let readable = EventExport.json(event)
        if let field = EventExport.readableFields.first(where: { json[$0] != readable[$0] }) {
            throw ExportLineError(lineNumber: lineNumber, position: UInt64(position), field: field, reason: "is not what the record holds")
        }
        var digest: Hash?
        if let text = json["requestDigest"] {
            guard let parsed = text.stringValue.flatMap(Hash.init(hex:)) else {
                throw ExportLineError(lineNumber: lineNumber, position: UInt64(position), field: "requestDigest", reason: "is not 64 hexadecimal digits")
            }
            digest = parsed
        }
        return ExportedLine(lineNumber: lineNumber, record: StoredRecord(position: UInt64(position), bytes: bytes), event: event, requestDigest: digest)
    }
}

/// A line of an export that cannot be read: its number, the field, and what is wrong.
public struct ExportLineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line's number, from 1.
    public var lineNumber: Int
    /// The position the line says it holds, when it says one.
    public var position: UInt64? = nil
    /// The field at fault (nil when the line as a whole is).
    public var field: String?
    /// What is wrong.
    public var reason: String

    public var description: String { "line \(lineNumber)\(field.map { ": \($0)" } ?? ""): \(reason)" }
}
