import LinliStore

/// The interchange form of a stored event (`linli export`): one JSON object per event.
public enum EventExport {
    /// The event as JSON: position, stream, version, type, schema version, command id, actor, both times,
    /// the payload (decoded from CBOR), the previous hash, the hash, and `record`: the stored record's
    /// bytes in hex, which is what `linli audit verify --export` checks (the other fields are for people,
    /// and are checked against it).
    public static func json(_ event: RecordedEvent) -> JSONValue {
        let payload = (try? CBOR.decode(event.payload)) ?? .string(hexString(event.payload))
        return [
            "position": .int(Int64(event.position)), "stream": .string(event.stream), "version": .int(Int64(event.streamVersion)),
            "type": .string(event.type), "schemaVersion": .int(Int64(event.schemaVersion)), "commandId": .string(event.commandId),
            "actor": .string(event.actor), "occurredAt": .string(event.occurredAt.iso8601), "recordedAt": .string(event.recordedAt.iso8601),
            "payload": payload, "prevHash": .string(event.previousHash.hex), "hash": .string(event.hash.hex),
            "record": .string(hexString(event.storedBytes)),
        ]
    }
}
