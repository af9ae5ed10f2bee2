import LinliStore

/// Why a command was refused: a stable reason code, the field it is about, and a message for a person.
/// A rejected command writes nothing.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable reason code. A struct, not an enum, so that new codes never break a caller's `switch`.
    public struct Reason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The actor holds no role that allows the command, or is unknown.
        public static let unauthorized = Reason(rawValue: "unauthorized")
        /// A resident's points would go below zero.
        public static let insufficientBalance = Reason(rawValue: "insufficientBalance")
        /// A fund would go below zero.
        public static let insufficientFunds = Reason(rawValue: "insufficientFunds")
        /// A gift's stock would go below zero.
        public static let outOfStock = Reason(rawValue: "outOfStock")
        /// The command id was used before for a different command.
        public static let duplicateCommandId = Reason(rawValue: "duplicateCommandId")
        /// An entity with this id exists already.
        public static let duplicateId = Reason(rawValue: "duplicateId")
        /// A field is missing, of the wrong type, out of range, unknown or too long.
        public static let invalidField = Reason(rawValue: "invalidField")
        /// The line is not valid JSON (or not UTF-8, or too long).
        public static let invalidJSON = Reason(rawValue: "invalidJSON")
        /// The command name is not one of DOMAIN.md's.
        public static let unknownCommand = Reason(rawValue: "unknownCommand")
        /// The entity is not in a state that allows the command.
        public static let illegalTransition = Reason(rawValue: "illegalTransition")
        /// The participant may not vote in this meeting.
        public static let notEligible = Reason(rawValue: "notEligible")
        /// Unknown references, one code per kind of entity.
        public static let unknownResident = Reason(rawValue: "unknownResident")
        public static let unknownCommunity = Reason(rawValue: "unknownCommunity")
        public static let unknownOrganization = Reason(rawValue: "unknownOrganization")
        public static let unknownTeam = Reason(rawValue: "unknownTeam")
        public static let unknownUnit = Reason(rawValue: "unknownUnit")
        public static let unknownAccount = Reason(rawValue: "unknownAccount")
        public static let unknownLog = Reason(rawValue: "unknownLog")
        public static let unknownItem = Reason(rawValue: "unknownItem")
        public static let unknownRedemption = Reason(rawValue: "unknownRedemption")
        public static let unknownWish = Reason(rawValue: "unknownWish")
        public static let unknownFund = Reason(rawValue: "unknownFund")
        public static let unknownClaimant = Reason(rawValue: "unknownClaimant")
        public static let unknownSubject = Reason(rawValue: "unknownSubject")
        public static let unknownIssue = Reason(rawValue: "unknownIssue")
        public static let unknownMeeting = Reason(rawValue: "unknownMeeting")
        public static let unknownParticipant = Reason(rawValue: "unknownParticipant")
        public static let unknownDispute = Reason(rawValue: "unknownDispute")
        public static let unknownElder = Reason(rawValue: "unknownElder")
        public static let unknownStation = Reason(rawValue: "unknownStation")
        public static let unknownVisit = Reason(rawValue: "unknownVisit")
    }

    /// The reason code.
    public let reason: Reason
    /// The field the rejection is about, when there is one.
    public let field: String?
    /// A message for a person; it names the field and the offending value.
    public let message: String

    /// A rejection.
    public init(_ reason: Reason, field: String? = nil, _ message: String) {
        self.reason = reason
        self.field = field
        self.message = message
    }

    public var description: String { "\(reason.rawValue): \(message)" }

    static func invalid(_ field: String, _ message: String) -> Rejection {
        Rejection(.invalidField, field: field, "\(field): \(message)")
    }
}

/// The limits on a command's fields.
public enum FieldLimits {
    /// Identifiers: 1 to 128 ASCII characters (DOMAIN.md section 2).
    public static let idBytesMax = 128
    /// Names and short texts.
    public static let nameBytesMax = 200
    /// Free texts (descriptions, notes, agreements).
    public static let textBytesMax = 4_000
    /// List fields (members, tags, parties, services…).
    public static let listCountMax = 1_000
    /// Units of an item stocked or redeemed in one command.
    public static let quantity: ClosedRange<Int64> = 1...1_000_000
    /// Kinds of work an elder would take up (the survey's section 5).
    public static let workKindsCountMax = 20
}

/// The type a field must have, with its limits.
public indirect enum FieldType: Sendable {
    /// An identifier: a non-empty string of at most ``FieldLimits/idBytesMax`` bytes, no control characters.
    case id
    /// A text of at most this many bytes; `nonEmpty` when it may not be "". No control characters (a
    /// terminal would act on them: clear the screen, retitle the window) and no bidirectional overrides
    /// (they make text read other than it is stored); `lines` texts may hold line breaks and tabs.
    case text(maxBytes: Int, nonEmpty: Bool, lines: Bool)
    /// A whole number in a range.
    case int(ClosedRange<Int64>)
    /// One of these strings.
    case oneOf([String])
    /// true or false.
    case bool
    /// An array of values of one type, with a count in range.
    case list(FieldType, ClosedRange<Int>)
    /// An object with these fields, and no others.
    case object([FieldSpec])
    /// Any JSON object (free-form sections such as a survey's), nested at most as the parser allows.
    case anyObject
    /// A time: ISO 8601 with an offset and a possible date, as `at` is.
    case time
}

/// One field of a command.
public struct FieldSpec: Sendable {
    /// Its name in the NDJSON.
    public let name: String
    /// Its type.
    public let type: FieldType
    /// Whether it must be present.
    public let required: Bool

    /// A required field.
    public static func required(_ name: String, _ type: FieldType) -> FieldSpec { FieldSpec(name: name, type: type, required: true) }
    /// An optional field.
    public static func optional(_ name: String, _ type: FieldType) -> FieldSpec { FieldSpec(name: name, type: type, required: false) }
}

/// A command's name and fields: the public contract of DOMAIN.md section 2, one value per command.
public struct CommandSpec: Sendable {
    /// The command name, such as `hours.log`.
    public let name: String
    /// Its fields, besides the envelope (`command`, `id`, `actor`, `at`).
    public let fields: [FieldSpec]
}

/// A validated command: the envelope and fields that passed their spec.
public struct Command: Sendable, Equatable {
    /// The command name.
    public let name: String
    /// The command's unique id.
    public let id: String
    /// Who did it.
    public let actor: String
    /// When it happened.
    public let at: Timestamp
    /// The fields, validated against the command's spec, in the spec's order.
    public let fields: CommandFields
    /// SHA-256 of the whole command as canonical JSON (keys sorted): it makes the id idempotent.
    public let digest: Hash
    /// The fields' CBOR pairs in the spec's order (keys and values, no map head), and how many: most
    /// events carry the command's fields, and encoding them here, where lines are parsed (on a thread of
    /// their own for a batch), takes that work off the write transaction (``Decision/emitFields``).
    let fieldsEncoded: [UInt8]
    let fieldsCount: Int

    /// The command as one NDJSON line of `linli apply`: the envelope, then the fields in name order.
    public var json: JSONValue {
        .object(
            [("command", .string(name)), ("id", .string(id)), ("actor", .string(actor)), ("at", .string(at.iso8601))]
                + fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// Builds and validates a command from typed values, as an embedder does:
    /// `try Command("hours.log", id: "c-1", actor: "w-01", at: t, ["log": "l-1", "volunteer": "r-12", "minutes": 90, …])`.
    public init(_ name: String, id: String, actor: String, at: Timestamp, _ fields: [String: JSONValue]) throws(Rejection) {
        var pairs: [(String, JSONValue)] = [("command", .string(name)), ("id", .string(id)), ("actor", .string(actor)), ("at", .string(at.iso8601))]
        pairs += fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self = try Command(json: .object(pairs))
    }

    /// Validates a parsed NDJSON object against the spec of its `command`.
    public init(json: JSONValue) throws(Rejection) {
        guard case .object(let pairs) = json else { throw Rejection(.invalidJSON, "a command is a JSON object, not \(json.typeName)") }
        guard case .string(let name)? = json["command"] else { throw Rejection.invalid("command", "required, a string") }
        guard let spec = CommandCatalog.specs[name] else {
            throw Rejection(.unknownCommand, field: "command", "command: unknown command \"\(name)\"")
        }
        let id = try Validation.id(json["id"], "id")
        let actor = try Validation.id(json["actor"], "actor")
        guard case .string(let atText)? = json["at"] else { throw Rejection.invalid("at", "required, an ISO 8601 time with offset") }
        guard let at = Timestamp(iso8601: atText) else {
            throw Rejection.invalid("at", "\"\(atText)\" is not an ISO 8601 time with an offset and a possible date")
        }
        for (key, _) in pairs where !Command.envelope.contains(key) && !spec.fields.contains(where: { $0.name == key }) {
            throw Rejection.invalid(key, "unknown field for \(name)")
        }
        var fields: [(key: String, value: JSONValue)] = []
        fields.reserveCapacity(spec.fields.count)
        for field in spec.fields {
            guard let value = json[field.name], value != .null || field.required else { continue }
            try Validation.check(value, field.type, field.name)
            fields.append((field.name, value))
        }
        // Every present field is checked before a missing one is named, so that a line with both kinds
        // of fault gets the same message whatever the spec's order.
        for field in spec.fields where field.required && !fields.contains(where: { $0.key == field.name }) {
            throw Rejection.invalid(field.name, "required for \(name)")
        }
        self.name = name
        self.id = id
        self.actor = actor
        self.at = at
        self.fields = CommandFields(fields)
        self.digest = json.canonicalBytes.withUnsafeBytes { Hash.sha256($0) }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(160)
        for (key, value) in fields {
            CBOR.encode(.string(key), into: &encoded)
            CBOR.encode(value, into: &encoded)
        }
        self.fieldsEncoded = encoded
        self.fieldsCount = fields.count
    }

    /// A string field (an id, a text or an enumeration value); "" when absent.
    public func string(_ name: String) -> String { fields[name]?.stringValue ?? "" }
    /// An optional string field.
    public func optionalString(_ name: String) -> String? { fields[name]?.stringValue }
    /// A whole-number field; 0 when absent.
    public func int(_ name: String) -> Int64 { fields[name]?.intValue ?? 0 }
    /// A list of strings.
    public func strings(_ name: String) -> [String] { fields[name]?.stringsValue ?? [] }

    public static func == (lhs: Command, rhs: Command) -> Bool { lhs.digest == rhs.digest }

    static let envelope = ["command", "id", "actor", "at"]
}

/// A command's validated fields in its spec's order. A command has a handful, so a field is found by
/// comparing names (short names compare in a word or two) rather than by hashing the name, as a
/// dictionary would: a command's fields are read several times while it is parsed and decided.
public struct CommandFields: Sendable, Equatable, Sequence {
    /// The fields, in the spec's order; no name twice.
    private let pairs: [(key: String, value: JSONValue)]

    init(_ pairs: [(key: String, value: JSONValue)]) {
        self.pairs = pairs
    }

    /// The value of the field `name`, or nil when the command does not carry it.
    public subscript(_ name: String) -> JSONValue? {
        for pair in pairs where pair.key == name { return pair.value }
        return nil
    }

    /// How many fields the command carries.
    public var count: Int { pairs.count }

    /// The fields, in the spec's order.
    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { pairs.makeIterator() }

    public static func == (lhs: CommandFields, rhs: CommandFields) -> Bool {
        lhs.pairs.count == rhs.pairs.count && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// Field checks, each throwing an `invalidField` rejection that names the field and the value.
enum Validation {
    /// A letter or digit: what an identifier starts with.
    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    /// A letter, a digit, `.`, `_`, `:` or `-`: what an identifier is made of.
    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || byte == 0x2E || byte == 0x5F || byte == 0x3A || byte == 0x2D
    }

    static func id(_ value: JSONValue?, _ field: String) throws(Rejection) -> String {
        guard let value else { throw Rejection.invalid(field, "required, a non-empty string") }
        try check(value, .id, field)
        guard case .string(let text) = value else { throw Rejection.invalid(field, "must be a string") }
        return text
    }

    static func check(_ value: JSONValue, _ type: FieldType, _ field: String) throws(Rejection) {
        switch type {
        case .id:
            guard case .string(let text) = value else { throw Rejection.invalid(field, "must be a string, not \(value.typeName)") }
            guard !text.isEmpty else { throw Rejection.invalid(field, "must not be empty") }
            guard text.utf8.count <= FieldLimits.idBytesMax else {
                throw Rejection.invalid(field, "is \(text.utf8.count) bytes; identifiers are at most \(FieldLimits.idBytesMax)")
            }
            // DOMAIN.md section 2: ASCII letters, digits and . _ : -, the first a letter or digit, compared
            // byte for byte — so that no two ids look alike or compare equal as Unicode strings (a KELVIN SIGN
            // for a K) while their LMDB keys differ.
            var bytes = text
            let isIdentifier = bytes.withUTF8 { $0.first.map(Validation.isIdentifierStart) == true && $0.allSatisfy(Validation.isIdentifierByte) }
            guard isIdentifier else {
                throw Rejection.invalid(field, "\"\(text)\" is not an identifier: 1–128 ASCII letters, digits and . _ : -, starting with a letter or digit")
            }
        case let .text(maxBytes, nonEmpty, lines):
            guard case .string(let text) = value else { throw Rejection.invalid(field, "must be a string, not \(value.typeName)") }
            if nonEmpty && text.isBlank { throw Rejection.invalid(field, "must not be empty") }
            guard text.utf8.count <= maxBytes else { throw Rejection.invalid(field, "is \(text.utf8.count) bytes; the limit is \(maxBytes)") }
            try checkPrintable(text, lines: lines, field)
        case .int(let range):
            guard case .int(let number) = value else { throw Rejection.invalid(field, "must be a whole number, not \(value.typeName)") }
            guard range.contains(number) else {
                throw Rejection.invalid(field, "\(number) is out of range \(range.lowerBound)…\(range.upperBound)")
            }
        case .oneOf(let options):
            guard case .string(let text) = value else { throw Rejection.invalid(field, "must be a string, not \(value.typeName)") }
            guard options.contains(text) else { throw Rejection.invalid(field, "\"\(text)\" is not one of \(options.joined(separator: ", "))") }
        case .bool:
            guard case .bool = value else { throw Rejection.invalid(field, "must be true or false, not \(value.typeName)") }
        case let .list(element, counts):
            guard case .array(let items) = value else { throw Rejection.invalid(field, "must be an array, not \(value.typeName)") }
            guard counts.contains(items.count) else {
                throw Rejection.invalid(field, "has \(items.count) items; it takes \(counts.lowerBound)…\(counts.upperBound)")
            }
            for (index, item) in items.enumerated() { try check(item, element, "\(field)[\(index)]") }
        case .object(let specs):
            guard case .object(let pairs) = value else { throw Rejection.invalid(field, "must be an object, not \(value.typeName)") }
            let known = Set(specs.map(\.name))
            for (key, _) in pairs where !known.contains(key) { throw Rejection.invalid("\(field).\(key)", "unknown field") }
            for spec in specs {
                if let inner = value[spec.name], inner != .null {
                    try check(inner, spec.type, "\(field).\(spec.name)")
                } else if spec.required {
                    throw Rejection.invalid("\(field).\(spec.name)", "required")
                }
            }
        case .time:
            guard case .string(let text) = value else { throw Rejection.invalid(field, "must be an ISO 8601 time, not \(value.typeName)") }
            guard Timestamp(iso8601: text) != nil else {
                throw Rejection.invalid(field, "\"\(text)\" is not an ISO 8601 time with an offset and a possible date")
            }
        case .anyObject:
            guard case .object = value else { throw Rejection.invalid(field, "must be an object, not \(value.typeName)") }
            guard value.text.utf8.count <= FieldLimits.textBytesMax * 4 else { throw Rejection.invalid(field, "is too large") }
            try checkPrintableStrings(value, field)
        }
    }

    /// Every key and string inside a free-form object is a one-line text.
    static func checkPrintableStrings(_ value: JSONValue, _ field: String) throws(Rejection) {
        switch value {
        case .string(let text): try checkPrintable(text, lines: false, field)
        case .array(let items): for (index, item) in items.enumerated() { try checkPrintableStrings(item, "\(field)[\(index)]") }
        case .object(let pairs):
            for (key, item) in pairs {
                try checkPrintable(key, lines: false, field)
                try checkPrintableStrings(item, "\(field).\(key)")
            }
        default: break
        }
    }

    /// Refuses the characters a terminal or a reader would be fooled by (issue 18 item 6): C0 controls and
    /// DEL (ESC starts the sequences that clear a screen or set a window's title), C1 controls (U+0080–
    /// U+009F, encoded C2 80–C2 9F) and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
    /// U+2066–U+2069). With `lines`, LF and TAB may stay. Scans bytes: no other UTF-8 sequence contains them.
    static func checkPrintable(_ text: String, lines: Bool, _ field: String) throws(Rejection) {
        var previous: UInt8 = 0, beforePrevious: UInt8 = 0
        for byte in text.utf8 {
            defer { beforePrevious = previous; previous = byte }
            if byte < 0x20 || byte == 0x7F {
                if lines && (byte == 0x0A || byte == 0x09) { continue }
                throw Rejection.invalid(
                    field,
                    "contains the control character U+\(hex4(UInt32(byte)))"
                        + (lines ? "; line breaks (LF) and tabs may stay" : "; a name is one line of printable text"))
            }
            if previous == 0xC2 && (0x80...0x9F).contains(byte) {
                throw Rejection.invalid(field, "contains the control character U+\(hex4(UInt32(byte)))")
            }
            if beforePrevious == 0xE2 && ((previous == 0x80 && (0xAA...0xAE).contains(byte)) || (previous == 0x81 && (0xA6...0xA9).contains(byte))) {
                let scalar = (UInt32(previous & 0x3F) << 6 | UInt32(byte & 0x3F)) | 0x2000
                throw Rejection.invalid(field, "contains the bidirectional control U+\(hex4(scalar)), which makes text read other than it is stored")
            }
        }
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension String {
    /// Whether the text is empty or only white space (ASCII or Unicode, the ideographic space included).
    var isBlank: Bool {
        // Fast path: any ASCII byte that is not white space settles it.
        if utf8.contains(where: { $0 < 0x80 && $0 != 0x20 && ($0 < 0x09 || $0 > 0x0D) }) { return false }
        return unicodeScalars.allSatisfy { $0.properties.isWhitespace }
    }
}

/// Common field types.
extension FieldType {
    static let name = FieldType.text(maxBytes: FieldLimits.nameBytesMax, nonEmpty: true, lines: false)
    static let note = FieldType.text(maxBytes: FieldLimits.textBytesMax, nonEmpty: false, lines: true)
    static let description = FieldType.text(maxBytes: FieldLimits.textBytesMax, nonEmpty: true, lines: true)
    static let points = FieldType.int(1...1_000_000_000)
    static let amountFen = FieldType.int(1...1_000_000_000_000)
    static let quantity = FieldType.int(FieldLimits.quantity)
    static func ids(_ counts: ClosedRange<Int>) -> FieldType { .list(.id, counts) }
}
