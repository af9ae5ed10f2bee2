import LinliStore

/// The roles of DOMAIN.md section 3.
public enum Role: String, Sendable, CaseIterable {
    case admin, socialWorker, gridWorker, storeKeeper, convener, mediator, auditor, resident
}

/// Deciding one command: the state it reads (the projections' tables, in the write transaction) and
/// the events it emits. A handler either emits all its events or throws a ``Rejection`` having emitted
/// nothing that will be kept.
final class Decision {
    let command: Command
    let tables: Tables
    private(set) var events: [NewEvent] = []
    /// The community the command acts in (section 5: the community of the entity it acts on).
    var community = ""

    init(command: Command, tables: Tables) {
        self.command = command
        self.tables = tables
    }

    /// Emits an event whose payload is `fields` plus the command's community.
    func emit(_ type: EventType, stream: String, expected: ExpectedVersion = .any, _ fields: [(String, JSONValue)]) {
        var pairs = fields
        if !community.isEmpty, !pairs.contains(where: { $0.0 == "community" }) { pairs.append(("community", .string(community))) }
        events.append(NewEvent(stream: stream, expectedVersion: expected, type: type.rawValue, payload: CBOR.encode(.object(pairs))))
    }

    /// Emits an event whose payload is the command's fields (``fieldPairs()``), then `extra`, then the
    /// command's community unless a field is named so: the bytes `emit(type, stream:, fieldPairs() + extra)`
    /// writes, made from the fields encoded when the line was parsed (off the write transaction).
    func emitFields(_ type: EventType, stream: String, expected: ExpectedVersion = .any, adding extra: [(String, JSONValue)] = []) {
        let addsCommunity = !community.isEmpty && command.fields["community"] == nil && !extra.contains(where: { $0.0 == "community" })
        var payload: [UInt8] = []
        payload.reserveCapacity(command.fieldsEncoded.count + 64)
        CBOR.head(5, UInt64(command.fieldsCount + extra.count + (addsCommunity ? 1 : 0)), &payload)
        payload.append(contentsOf: command.fieldsEncoded)
        for (key, value) in extra {
            CBOR.encode(.string(key), into: &payload)
            CBOR.encode(value, into: &payload)
        }
        if addsCommunity {
            CBOR.encode(.string("community"), into: &payload)
            CBOR.encode(.string(community), into: &payload)
        }
        assert(
            payload == CBOR.encode(.object(fieldPairs() + extra + (addsCommunity ? [("community", .string(community))] : []))),
            "emitFields writes what emit writes for the same pairs")
        events.append(NewEvent(stream: stream, expectedVersion: expected, type: type.rawValue, payload: payload))
    }

    /// The command's fields as payload pairs, in the spec's order, optional ones only when present.
    func fieldPairs() -> [(String, JSONValue)] {
        guard let spec = CommandCatalog.specs[command.name] else { return [] }
        return spec.fields.compactMap { field in command.fields[field.name].map { (field.name, $0) } }
    }

    // MARK: Authorization (section 3 and 5)

    /// Whether `subject` is known at all: registered, or holding a role anywhere.
    func isKnownActor(_ subject: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Bool {
        if try exists(tables.registry["residents"], subject, txn) { return true }
        var found = false
        try Rows.scan(tables.registry["roles"], prefix: Array(subject.utf8) + [0], txn) { _, _ in
            found = true; return false
        }
        return found
    }

    /// Refuses the command unless the actor holds one of `staff` in the command's community, or holds
    /// `resident` there and `asResident` is true (the command is the resident's own). Each grant is one
    /// exact look-up: (actor, community, role), or (actor, "*", admin) for the administrator made by `init`.
    func authorize(_ staff: [Role], asResident: Bool = false, _ txn: borrowing some TransactionReading & ~Copyable) throws {
        let actor = command.actor
        for role in staff {
            if try exists(tables.registry["roles"], compositeKey(actor, community, role.rawValue), txn) { return }
        }
        if staff.contains(.admin), try exists(tables.registry["roles"], compositeKey(actor, "*", Role.admin.rawValue), txn) { return }
        if asResident, let resident = try Rows.get(tables.registry["residents"], actor, txn), try resident.string("community") == community { return }
        let known = try isKnownActor(actor, txn)
        let needed = staff.map(\.rawValue).sorted() + (asResident ? ["resident (for themselves)"] : [])
        throw Rejection(
            .unauthorized, field: "actor",
            known
                ? "actor: \(actor) may not run \(command.name) in \(community.isEmpty ? "this community" : community); it needs \(needed.joined(separator: " or "))"
                : "actor: \(actor) is unknown")
    }

    // MARK: Look-ups that reject with the right code

    func require(
        _ database: Database, _ id: String, _ reason: Rejection.Reason, field: String, what: String,
        _ txn: borrowing some TransactionReading & ~Copyable
    ) throws -> Row {
        guard let row = try Rows.get(database, id, txn) else {
            throw Rejection(reason, field: field, "\(field): no \(what) \"\(id)\"")
        }
        return row
    }

    /// Whether a key is present; nothing is decoded.
    func exists(_ database: Database, _ key: [UInt8], _ txn: borrowing some TransactionReading & ~Copyable) throws -> Bool {
        try key.withUnsafeBytes { key in try txn.withValue(in: database, key: key) { _ in true } } ?? false
    }

    func exists(_ database: Database, _ id: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Bool {
        try exists(database, Array(id.utf8), txn)
    }

    /// Refuses unless `field` names a registered resident or organization (donors, claimants, beneficiaries).
    func requireResidentOrOrganization(_ field: String, _ reason: Rejection.Reason, _ txn: borrowing some TransactionReading & ~Copyable) throws {
        let id = command.string(field)
        guard try exists(tables.registry["residents"], id, txn) || exists(tables.registry["organizations"], id, txn) else {
            throw Rejection(reason, field: field, "\(field): no resident or organization \"\(id)\"")
        }
    }

    func requireAbsent(
        _ database: Database, _ id: String, field: String, what: String,
        _ txn: borrowing some TransactionReading & ~Copyable
    ) throws {
        if try exists(database, id, txn) {
            throw Rejection(.duplicateId, field: field, "\(field): \(what) \"\(id)\" exists already")
        }
    }

    func resident(_ field: String, _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row {
        try require(tables.registry["residents"], command.string(field), .unknownResident, field: field, what: "resident", txn)
    }

    func communityRow(_ id: String, field: String = "community", _ txn: borrowing some TransactionReading & ~Copyable) throws -> Row {
        try require(tables.registry["communities"], id, .unknownCommunity, field: field, what: "community", txn)
    }
}

/// A command's handler: its spec and its decision.
struct CommandHandler: Sendable {
    let spec: CommandSpec
    let decide: @Sendable (Decision, borrowing WriteTransaction) throws -> Void
}

/// Every command of DOMAIN.md section 2 that this build handles.
public enum CommandCatalog {
    static let handlers: [String: CommandHandler] = {
        var all: [String: CommandHandler] = [:]
        for handler in RegistryDomain.handlers + LedgerDomain.handlers + DeliberationDomain.handlers
            + MediationDomain.handlers + EldersDomain.handlers
        {
            precondition(all[handler.spec.name] == nil, "two handlers for \(handler.spec.name)")
            all[handler.spec.name] = handler
        }
        return all
    }()

    /// The specs, by command name.
    public static let specs: [String: CommandSpec] = handlers.mapValues(\.spec)

    /// The command names, sorted.
    public static var names: [String] { specs.keys.sorted() }
}
