import Foundation
import LinliStore

/// A projection row: the value and the position of the last event that wrote it, so that every value a
/// user sees can be traced to the event that made it (docs/FORMAT.md: `u64be position ‖ CBOR`).
///
/// The value stays in its CBOR bytes, checked when read: a field asked for by name is found and decoded
/// alone (``subscript(_:)``, ``string(_:)``…), so deciding a command or applying an event does not build
/// every row it touches as a tree of values; ``value`` decodes the whole of it.
public struct Row: Sendable, Equatable, StoredFields {
    /// The position of the last event that wrote the row.
    public var position: UInt64
    /// The value's CBOR encoding.
    public private(set) var encoded: [UInt8]

    /// A row holding `value`.
    public init(position: UInt64, value: JSONValue) {
        self.position = position
        self.encoded = CBOR.encode(value)
    }

    /// A row from CBOR bytes that ``CBOR/validate(_:)`` accepted.
    init(position: UInt64, validated encoded: [UInt8]) {
        self.position = position
        self.encoded = encoded
    }

    /// The whole value.
    public var value: JSONValue {
        get {
            // The structure passed CBOR.validate; texts decode repairing, as the fields do.
            guard let value = encoded.withUnsafeBytes({ try? CBOR.decode($0, repairingText: true) }) else {
                preconditionFailure("a validated row did not decode")
            }
            return value
        }
        set { encoded = CBOR.encode(newValue) }
    }

    /// Runs `body` over the value's CBOR bytes (``encoded``), for ``StoredFields``.
    public func withStoredMap<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { encoded.withUnsafeBytes(body) }

    /// A required field missing from the row: a `corrupt` finding at the position of the event that last
    /// wrote it.
    public func missingField(_ key: String, _ kind: String) -> LogError { Self.missingField(key, kind, at: position) }

    static func missingField(_ key: String, _ kind: String, at position: UInt64) -> LogError {
        LogError.corrupt(position: position, reason: "a projection row last written by this event has no field \"\(key)\" holding \(kind)")
    }

    /// A list of strings in the value.
    public func strings(_ key: String) -> [String] { self[key]?.stringsValue ?? [] }
    /// A boolean field; false when absent.
    public func bool(_ key: String) -> Bool { encoded.withUnsafeBytes { CBOR.field(key, in: $0).map { $0.count == 1 && $0[0] == 0xF5 } } ?? false }
}

/// A composite key: the parts' UTF-8 bytes joined by a 0 byte (identifiers never hold NUL).
public func compositeKey(_ parts: String...) -> [UInt8] {
    // Sized first and filled from each part's contiguous bytes: appending `part.utf8` element by element
    // was 1,700 instructions for a role's key, checked for every command (callgrind).
    var key: [UInt8] = []
    key.reserveCapacity(parts.reduce(parts.count) { $0 + $1.utf8.count })
    for (index, var part) in parts.enumerated() {
        if index > 0 { key.append(0) }
        part.withUTF8 { key.append(contentsOf: $0) }
    }
    return key
}

/// `entity ‖ 0 ‖ u64be(position)`, made in one allocation: the key of a row in an entity's run in log
/// order (statement lines, fund movements).
func entityKey(_ entity: String, _ position: UInt64) -> [UInt8] {
    var key = ByteWriter(capacity: entity.utf8.count + 9)
    key.writeText(entity)
    key.write(UInt8(0))
    key.write(position)
    return key.bytes
}

/// `entity ‖ 0 ‖ u64be(first) ‖ u64be(second)`, made in one allocation: the key of a row kept in an
/// entity's run by time and position (an elder's surveys, plans and history, a community's policies).
/// Joined with `+`, such a key cost an array a part, and the elder projection makes two for every delivery.
func entityKey(_ entity: String, _ first: UInt64, _ second: UInt64) -> [UInt8] {
    var key = ByteWriter(capacity: entity.utf8.count + 17)
    key.writeText(entity)
    key.write(UInt8(0))
    key.write(first)
    key.write(second)
    return key.bytes
}

/// `entity ‖ 0 ‖ u64be(number) ‖ 0 ‖ text` from UTF-8 bytes (a string's, or a payload's where they lie),
/// made in one allocation (a week's adherence to one service).
func entityKey(_ entity: some Collection<UInt8>, _ number: UInt64, then text: some Collection<UInt8>) -> [UInt8] {
    // A writer with its capacity reserved: an array made at a size (`unsafeUninitializedCapacity`) goes
    // through the standard library's unspecialized allocation, 570 instructions (callgrind).
    var key = ByteWriter(capacity: entity.count + 10 + text.count)
    key.write(entity)
    key.write(UInt8(0))
    key.write(number)
    key.write(UInt8(0))
    key.write(text)
    return key.bytes
}

/// A text field's UTF-8 where it lies in its event's payload (``DomainEvent/text(_:)``): an id read only
/// to make a key or to be compared, without making a `String` of it (375 instructions a field, callgrind)
/// and copying its UTF-8 out again for the key. Its bytes are well-formed UTF-8: a damaged text is
/// repaired as a `String` of it would be.
struct PayloadText: Equatable {
    /// The text's UTF-8 bytes, a slice of the payload.
    let bytes: ArraySlice<UInt8>

    /// The text as a `String`, for a message or a row.
    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether the text is `word`.
    func isEqual(to word: StaticString) -> Bool {
        bytes.count == word.utf8CodeUnitCount && bytes.withUnsafeBytes { memcmp($0.baseAddress!, word.utf8Start, bytes.count) == 0 }
    }
}

/// A stored row read where its bytes lie (``Rows/read(_:_:_:_:)``): valid only inside the closure that
/// gets it, whose bytes may move once it returns.
struct RowView: StoredFields {
    /// The position of the last event that wrote the row.
    let position: UInt64
    /// The value's CBOR bytes, checked.
    let encoded: UnsafeRawBufferPointer

    func withStoredMap<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { body(encoded) }

    func missingField(_ key: String, _ kind: String) -> LogError { Row.missingField(key, kind, at: position) }
}

/// Reading and writing rows of projection databases.
enum Rows {
    static func encode(_ value: JSONValue, position: UInt64) -> [UInt8] {
        var out = bigEndianKey(position)
        CBOR.encode(value, into: &out)
        return out
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, in database: Database) throws -> Row {
        let view = try view(bytes, in: database)
        return Row(position: view.position, validated: Array(view.encoded))
    }

    /// A stored row's bytes checked as ``decode(_:in:)`` checks them, read where they lie.
    static func view(_ bytes: UnsafeRawBufferPointer, in database: Database) throws -> RowView {
        guard let position = bigEndianValue(bytes) else {
            throw LogError.corrupt(position: 0, reason: "a row of \(database) is shorter than its position")
        }
        let encoded = UnsafeRawBufferPointer(rebasing: bytes[8...])
        do {
            try CBOR.validate(encoded, checkingText: false)
        } catch {
            throw LogError.corrupt(position: position, reason: "a row of \(database) does not decode: \(error)")
        }
        return RowView(position: position, encoded: encoded)
    }

    /// Increases the row's two whole-number fields `first` and `second` name by their deltas, with one
    /// look-up of the row and one walk that checks it, the new values written where the old lie
    /// (``CBOR/increment(_:mapAt:_:_:position:)``);
    /// `absent` makes the row when there is none (or throws). The row then carries `position`. A damaged
    /// row, a counter missing or not whole, and a sum that leaves Int64 are `corrupt` findings; `what`
    /// names the row's entity in the last ("station st-1": "the minutes of station st-1 overflows").
    static func increment(
        _ database: Database, _ key: [UInt8], _ first: CBOR.Counter, _ second: CBOR.Counter, position: UInt64, _ txn: borrowing WriteTransaction,
        what: @autoclosure () -> String, absent: () throws -> [UInt8]
    ) throws {
        try txn.modify(database, key: key) { row in
            guard row != nil else { return row = try absent() }
            // Changed through `row!`, where it lies: the overlay hands over its only reference to the bytes.
            guard let written = row!.withUnsafeBytes({ bigEndianValue($0) }) else {
                throw LogError.corrupt(position: 0, reason: "a row of \(database) is shorter than its position")
            }
            switch CBOR.increment(&row!, mapAt: 8, first, second, position: position) {
            case .updated: return
            case .malformed(let error): throw LogError.corrupt(position: written, reason: "a row of \(database) does not decode: \(error)")
            case .notAWholeNumber(let key): throw Row.missingField(key, "a whole number", at: written)
            case .overflows(let key, let value, let delta):
                _ = try StoredArithmetic.add(value, delta, "the \(key) of \(what())", at: position)
                preconditionFailure("\(value) + \(delta) overflows, so the checked sum threw")
            }
        }
    }

    static func get(_ database: Database, _ key: [UInt8], _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row? {
        try txn.withValue(in: database, key: key) { try decode($0, in: database) }
    }

    /// Runs `body` over the row under `key` where its bytes lie, checked but not copied into a ``Row``; nil
    /// when there is none. For a row read only to be rewritten (a counter): the copy, its allocation and its
    /// release cost a few hundred instructions a read (callgrind).
    static func read<R>(
        _ database: Database, _ key: [UInt8], _ txn: borrowing some TransactionReading & ~Copyable, _ body: (RowView) throws -> R
    ) throws -> R? {
        try txn.withValue(in: database, key: key) { try body(try view($0, in: database)) }
    }

    static func get(_ database: Database, _ key: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row? {
        try get(database, Array(key.utf8), txn)
    }

    static func put(_ database: Database, _ key: [UInt8], _ value: JSONValue, position: UInt64, _ txn: borrowing WriteTransaction) throws {
        try txn.put(database, key: key, value: encode(value, position: position))
    }

    static func put(_ database: Database, _ key: String, _ value: JSONValue, position: UInt64, _ txn: borrowing WriteTransaction) throws {
        try put(database, Array(key.utf8), value, position: position, txn)
    }

    /// Writes a row whose value is `base` (a CBOR map: an event's payload or a row's value) with
    /// `changes` set, as `base.setting(…)` would, without decoding `base`.
    static func put(
        _ database: Database, _ key: [UInt8], updating base: [UInt8], _ changes: [(String, JSONValue)], position: UInt64,
        _ txn: borrowing WriteTransaction
    ) throws {
        let row = base.withUnsafeBytes { CBOR.updating($0, changes, position: position) }
        try txn.put(database, key: key, value: row)
    }

    static func put(
        _ database: Database, _ key: String, updating base: [UInt8], _ changes: [(String, JSONValue)], position: UInt64,
        _ txn: borrowing WriteTransaction
    ) throws {
        try put(database, Array(key.utf8), updating: base, changes, position: position, txn)
    }

    /// The values of every row keyed `id ‖ 0 ‖ …` (an entity's comments, votes, timeline…), in key order.
    static func values(_ database: Database, under id: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> [JSONValue] {
        var out: [JSONValue] = []
        let prefix = compositeKey(id) + [0]
        // Each value is decoded whole at once (the decoder checks what a Row's walk would).
        try txn.walk(database, from: prefix) { key, bytes in
            guard key.starts(with: prefix) else { return false }
            guard let position = bigEndianValue(bytes) else { throw LogError.corrupt(position: 0, reason: "a row of \(database) is shorter than its position") }
            do {
                out.append(try CBOR.decode(UnsafeRawBufferPointer(rebasing: bytes[8...]), repairingText: true))
            } catch {
                throw LogError.corrupt(position: position, reason: "a row of \(database) does not decode: \(error)")
            }
            return true
        }
        return out
    }

    /// Every row whose key starts with `prefix`, in key order, until `body` returns false.
    static func scan(
        _ database: Database, prefix: [UInt8] = [], _ txn: borrowing some TransactionReading & ~Copyable,
        _ body: ([UInt8], Row) throws -> Bool
    ) throws {
        try txn.walk(database, from: prefix.isEmpty ? nil : prefix) { key, value in
            guard key.starts(with: prefix) else { return false }
            return try body(Array(key), try decode(value, in: database))
        }
    }
}

extension JSONValue {
    /// A copy of an object with `key` set to `value` (appended when new, replaced in place otherwise).
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var pairs) = self else { return self }
        if let index = pairs.firstIndex(where: { $0.0 == key }) { pairs[index].1 = value } else { pairs.append((key, value)) }
        return .object(pairs)
    }

    /// A copy of an object without `key`.
    func removing(_ key: String) -> JSONValue {
        guard case .object(let pairs) = self else { return self }
        return .object(pairs.filter { $0.0 != key })
    }

    /// The object's pairs ([] for any other value).
    public var pairs: [(String, JSONValue)] {
        if case .object(let pairs) = self { return pairs }
        return []
    }

    /// The string, or nil.
    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The integer, or nil.
    var intValue: Int64? {
        if case .int(let number) = self { return number }
        return nil
    }

    /// The strings of an array (other items skipped), or nil for any other value.
    var stringsValue: [String]? {
        guard case .array(let items) = self else { return nil }
        return items.compactMap(\.stringValue)
    }
}

/// A domain event as projections see it: the record, its type from the checked vocabulary, its payload
/// checked as CBOR, and its fields decoded one at a time when asked for (``string(_:)``, ``subscript(_:)``)
/// or all at once (``payload``).
///
/// A field the event's type always carries is read with ``string(_:)`` or ``int(_:)``: when a stored event
/// lacks it, the replay stops with a `corrupt` finding naming the position and the field, rather than going
/// on with `""` or `0`. A field that may be absent is read with ``optionalString(_:)``, ``optionalInt(_:)``
/// or the subscript.
public struct DomainEvent: Sendable, StoredFields {
    /// The stored record.
    public let record: RecordedEvent
    /// The record's type.
    public let type: EventType
    /// Where the payload's fields lie (nil for a payload that is not a map).
    private let fields: CBOR.MapIndex?
    /// Whether every text of the payload was found to be UTF-8 where it was prepared, so that a text read
    /// where it lies need not be checked again (``optionalText(keyBytes:)``).
    private let textIsUTF8: Bool

    /// Checks a record's type and payload, unless they were checked already where it was read
    /// (``Prepared``).
    public init(_ record: RecordedEvent) throws {
        self.record = record
        if let prepared = record.prepared as? Prepared {
            precondition(
                prepared.position == record.position && prepared.payloadCount == record.payload.count, "an event's preparation travels with its record")
            (type, fields, textIsUTF8) = (prepared.type, prepared.fields, prepared.textIsUTF8)
            return
        }
        (type, fields) = try Self.check(record, checkingText: false)
        textIsUTF8 = false
    }

    /// A record's type from the checked vocabulary and its payload's index, or the `corrupt` finding; with
    /// `checkingText`, a text that is not UTF-8 is a finding too.
    private static func check(_ record: RecordedEvent, checkingText: Bool) throws(LogError) -> (EventType, CBOR.MapIndex?) {
        guard let type = EventType(rawValue: record.type) else {
            throw LogError.corrupt(position: record.position, reason: "an event of type \(record.type), which Linli does not write")
        }
        // The error is carried out of the closure as a value: a typed `throws` closure here crashes the
        // Swift 6.3 optimizer (SIL "PerfInliner").
        let checked = record.payload.withUnsafeBytes { bytes -> Result<CBOR.MapIndex?, CBOR.DecodeError> in
            do { return .success(try CBOR.validateIndexing(bytes, checkingText: checkingText)) } catch let error as CBOR.DecodeError {
                return .failure(error)
            } catch {
                return .failure(CBOR.DecodeError(offset: 0, reason: "\(error)"))
            }
        }
        switch checked {
        case .success(let fields): return (type, fields)
        case .failure(let failure): throw LogError.corrupt(position: record.position, reason: "payload of \(record.type) does not decode: \(failure)")
        }
    }

    /// A record's type and payload checked on the thread that read it (a replay's read-ahead,
    /// ``EventLog/Options/prepareEvent``), so that the thread applying the events does not: 1,600
    /// instructions of an elder's delivery (callgrind).
    final class Prepared: Sendable {
        let position: UInt64
        /// The payload's byte count, which the field index is for.
        let payloadCount: Int
        let type: EventType
        let fields: CBOR.MapIndex?
        /// Whether every text in the payload is UTF-8 (checked here, off the applying thread).
        let textIsUTF8: Bool

        /// The checks of a record, or nil when they fail: ``DomainEvent/init(_:)`` then checks it again on
        /// the applying thread and throws the finding there, at the event's turn.
        init?(checking record: RecordedEvent) {
            // One walk checks the texts' UTF-8 with the rest; only a payload whose text is not UTF-8 (or that
            // fails) is walked again, as the applying thread would check it.
            if let (type, fields) = try? DomainEvent.check(record, checkingText: true) {
                (self.type, self.fields, textIsUTF8) = (type, fields, true)
            } else if let (type, fields) = try? DomainEvent.check(record, checkingText: false) {
                (self.type, self.fields, textIsUTF8) = (type, fields, false)
            } else {
                return nil
            }
            (position, payloadCount) = (record.position, record.payload.count)
        }
    }

    /// Runs `body` over the value of field `key`, found through the index made when the payload was checked.
    public func withField<R>(_ key: String, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        var key = key
        return record.payload.withUnsafeBytes { payload in key.withUTF8 { key in body(field(UnsafeRawBufferPointer(key), in: payload)) } }
    }

    /// The value under the key of UTF-8 `key` in `payload` (this event's payload's bytes), found through
    /// the index, or by walking a payload that has none.
    private func field(_ key: UnsafeRawBufferPointer, in payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let fields else { return CBOR.field(String(decoding: key, as: UTF8.self), in: payload) }
        return fields.field(key, in: payload)
    }

    /// A text field the event's type always carries, as its UTF-8 where it lies in the payload; the
    /// ``missingField(_:_:)`` finding when it is absent or not a text.
    func text(_ key: StaticString) throws(LogError) -> PayloadText {
        guard let text = optionalText(key) else { throw missingField("\(key)", "a text") }
        return text
    }

    /// A text field that may be absent, as its UTF-8 where it lies in the payload; nil when it is absent or
    /// not a text. The key is a literal, found without making a string of it.
    func optionalText(_ key: StaticString) -> PayloadText? {
        optionalText(keyBytes: UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
    }

    /// The text field under the key of UTF-8 `keyBytes`, as ``optionalText(_:)`` reads it.
    func optionalText(keyBytes: UnsafeRawBufferPointer) -> PayloadText? {
        let range: Range<Int>? = record.payload.withUnsafeBytes { payload in
            var offset = 0
            guard let item = field(keyBytes, in: payload), let (major, _, count) = try? CBOR.readHead(item, &offset), major == 3,
                Int(count) == item.count - offset
            else {
                return nil
            }
            let start = item.baseAddress! - payload.baseAddress! + offset
            return start..<(start + Int(count))
        }
        guard let range else { return nil }
        let bytes = record.payload[range]
        // Payload text is not checked for UTF-8 when the payload is (docs/DECISIONS.md): a damaged id is
        // repaired, with U+FFFD, as a `String` made of it would be, so that its keys are the ones the
        // other handlers make from strings. The reading thread checked every text already, if it could.
        guard textIsUTF8 || bytes.withUnsafeBytes({ UTF8Validation.isValid($0) }) else {
            return PayloadText(bytes: Array(String(decoding: bytes, as: UTF8.self).utf8)[...])
        }
        return PayloadText(bytes: bytes)
    }

    /// The whole payload, decoded.
    public var payload: JSONValue {
        guard let value = record.payload.withUnsafeBytes({ try? CBOR.decode($0, repairingText: true) }) else {
            preconditionFailure("a validated payload did not decode")
        }
        return value
    }

    /// The event's position.
    public var position: UInt64 { record.position }

    /// Runs `body` over the payload's CBOR bytes, for ``StoredFields``.
    public func withStoredMap<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { record.payload.withUnsafeBytes(body) }

    /// A field the event's type always carries, missing: a `corrupt` finding at the event's position.
    public func missingField(_ key: String, _ kind: String) -> LogError {
        LogError.corrupt(position: record.position, reason: "\(record.type) has no field \"\(key)\" holding \(kind)")
    }
}

/// A CBOR map Linli stored — an event's payload, a projection row — read one field at a time: the field
/// is found by walking the map's keys (a row) or through the index made when the map was checked (an
/// event's payload), and decoded alone.
///
/// ``string(_:)`` and ``int(_:)`` read the fields the map always carries (docs/EVENTS.md): a map without
/// one was not written by Linli, and reading it throws the `corrupt` finding ``missingField(_:_:)`` makes,
/// naming the position, instead of handing on `""` or `0`. ``optionalString(_:)``, ``optionalInt(_:)`` and
/// the subscript read the fields that may be absent.
public protocol StoredFields {
    /// Runs `body` over the map's CBOR bytes, checked (`CBOR.validate`, `CBOR.validateIndexing`) when they
    /// were read. (A closure
    /// rather than a property returning the array: a copy of it for every field read cost 0.25 % of a
    /// ledger command's instructions, callgrind.)
    func withStoredMap<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R
    /// Runs `body` over the bytes of the value under `key`, or nil when the map has none. By default the
    /// map is walked to it (``CBOR/field(_:in:)``).
    func withField<R>(_ key: String, _ body: (UnsafeRawBufferPointer?) -> R) -> R
    /// The finding for a required field `key` that is absent or not of `kind` ("a text", "a whole number").
    func missingField(_ key: String, _ kind: String) -> LogError
}

extension StoredFields {
    public func withField<R>(_ key: String, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        withStoredMap { body(CBOR.field(key, in: $0)) }
    }

    /// One field, decoded alone; nil when absent.
    public subscript(_ key: String) -> JSONValue? {
        withField(key) { $0.flatMap { try? CBOR.decode($0, repairingText: true) } }
    }

    /// A text field the map always carries; the ``missingField(_:_:)`` finding when it is absent or not a text.
    public func string(_ key: String) throws(LogError) -> String {
        guard let text = optionalString(key) else { throw missingField(key, "a text") }
        return text
    }

    /// A text field that may be absent; nil when it is absent or not a text.
    public func optionalString(_ key: String) -> String? { withField(key) { $0.flatMap(CBOR.string) } }

    /// A whole-number field the map always carries; the ``missingField(_:_:)`` finding when it is absent or
    /// not a whole number.
    public func int(_ key: String) throws(LogError) -> Int64 {
        guard let number = optionalInt(key) else { throw missingField(key, "a whole number") }
        return number
    }

    /// A whole-number field that may be absent; nil when it is absent or not a whole number.
    public func optionalInt(_ key: String) -> Int64? { withField(key) { $0.flatMap(CBOR.int) } }
}
