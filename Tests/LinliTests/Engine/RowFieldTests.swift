import Foundation
@testable import Linli
@testable import LinliStore
import Testing

/// A projection row that lacks a field its table always carries was not written by Linli: reading it is
/// a `corrupt` finding that names the row's position and the field, never `""` or `0` carried on into a
/// decision or an answer (issue 16, "checked names").
@Suite("Projection rows: a missing required field is a finding")
struct RowFieldTests {
    /// A store with a pending hours log `l-2`, its projections written to LMDB (a checkpoint), so that a
    /// row changed there is what every later read sees.
    func world() throws -> World {
        let w = try World()
        try w.setUpCommunity()
        try w.ok("hours.log", actor: "gw-1", [("log", "l-1"), ("volunteer", "r-1"), ("minutes", 300), ("activity", "敲门入户"), ("category", "visit")])
        try w.ok("hours.verify", actor: "sw-1", [("log", "l-1")])
        try w.ok("hours.log", actor: "gw-1", [("log", "l-2"), ("volunteer", "r-2"), ("minutes", 60), ("activity", "敲门入户"), ("category", "visit")])
        try w.engine.log.checkpoint()
        return w
    }

    /// Rewrites the stored row `key` of `ledger/database` without `field`, keeping its position and its
    /// other fields; returns that position.
    func dropField(_ field: String, from database: String, key: String, in w: World) throws -> UInt64 {
        let table = try w.engine.log.read { $0.databases(of: "ledger")[database] }
        let stored = try #require(try w.engine.log.environment.read { try $0.value(in: table, key: Array(key.utf8)) })
        let row = try stored.withUnsafeBytes { try Rows.decode($0, in: table) }
        var forged = Array(stored[0..<8])
        CBOR.encode(.object(row.value.pairs.filter { $0.0 != field }), into: &forged)
        try w.engine.log.environment.write { try $0.put(table, key: Array(key.utf8), value: forged) }
        return row.position
    }

    func expectCorrupt(at position: UInt64, naming field: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("no error: the missing \(field) was read as a value", sourceLocation: sourceLocation)
        } catch LogError.corrupt(let at, let reason) {
            #expect(at == position, sourceLocation: sourceLocation)
            #expect(reason.contains("\"\(field)\""), "\(reason)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("another error: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a decision reading a log without its state stops with a finding, not 'is , not pending'")
    func decisionStops() throws {
        let w = try world()
        let position = try dropField("state", from: "hours", key: "l-2", in: w)
        let head = try w.engine.log.head
        expectCorrupt(at: position, naming: "state") { try w.run("hours.verify", actor: "sw-1", [("log", "l-2")]) }
        #expect(try w.engine.log.head == head, "nothing was written")
    }

    @Test("a query reading an account without its credits stops with a finding, not a balance of −debits")
    func queryStops() throws {
        let w = try world()
        let position = try dropField("credited", from: "accounts", key: "resident:r-1", in: w)
        expectCorrupt(at: position, naming: "credited") { _ = try w.engine.balances() }
        expectCorrupt(at: position, naming: "credited") { _ = try w.engine.balance(of: "resident:r-1") }
    }

    @Test("an optional field may be absent: a log without a team reads as none")
    func optionalFieldAbsent() throws {
        let w = try world()
        let row = try #require(try w.engine.pendingHours().first)
        #expect(row.optionalString("team") == nil)
        #expect(try row.string("log") == "l-2")
    }
}

/// Keys built in one allocation are the stored layout: the bytes the parts joined with `+` gave before
/// (a store written by an earlier build is read, rebuilt and audited with these keys).
@Suite("Projection keys: built at once, the same bytes as joined parts")
struct EntityKeyTests {
    @Test("entity keys of random ids, times, positions and services equal the parts joined")
    func keysEqualJoinedParts() {
        var random = SplitMix64(state: 31)
        let ids = ["", "r-1", "resident:r-hx-1004", "长者-王秀英", String(repeating: "x", count: 128), "🙂"]
        for _ in 0..<500 {
            let id = ids.randomElement(using: &random)!, service = ids.randomElement(using: &random)!
            let first = random.next(), second = random.next()
            #expect(entityKey(id, first) == Array(id.utf8) + [0] + bigEndianKey(first))
            #expect(entityKey(id, first, second) == Array(id.utf8) + [0] + bigEndianKey(first) + bigEndianKey(second))
            #expect(entityKey(id.utf8, first, then: service.utf8) == Array(id.utf8) + [0] + bigEndianKey(first) + [0] + Array(service.utf8))
        }
        let monday = ISOWeek(mondayDay: 19_597)  // 2023-08-28, a Monday
        #expect(
            EldersDomain.adherenceKey(elder: "r-1", week: monday, service: "meal") == Array("r-1".utf8) + [0] + bigEndianKey(19_597) + [0] + Array("meal".utf8))
        // The same key from the ids' UTF-8 where it lies in a payload (a slice that does not start at 0).
        let payload = Array("xx r-1 meal".utf8)
        #expect(
            EldersDomain.adherenceKey(elder: PayloadText(bytes: payload[3..<6]), week: monday, service: PayloadText(bytes: payload[7...]))
                == EldersDomain.adherenceKey(elder: "r-1", week: monday, service: "meal"))
        // A view's filter reads the week back out of the key: in its week, outside the next; a key out of
        // the layout is not said to be outside.
        let key = EldersDomain.adherenceKey(elder: "r-1", week: monday, service: "meal")
        key.withUnsafeBytes { key in
            #expect(!EldersDomain.adherenceKey(key, isOutside: monday))
            #expect(EldersDomain.adherenceKey(key, isOutside: ISOWeek(mondayDay: 19_604)))
        }
        Array("r-1".utf8).withUnsafeBytes { #expect(!EldersDomain.adherenceKey($0, isOutside: monday)) }
    }
}

/// A row read where its bytes lie (`Rows.read`, for counters) is checked as a decoded one is.
@Suite("Projection rows read in place: the same checks and findings as decoded ones")
struct RowViewTests {
    let database = Database(inMemory: "memory:test/rows", slot: 0)

    @Test("a view reads the decoded row's fields; a missing field, a short row and damaged bytes are findings at their positions")
    func viewsAreChecked() throws {
        let bytes = bigEndianKey(77) + CBOR.encode(["delivered": .int(2), "station": .string("st-1")])
        try bytes.withUnsafeBytes { bytes in
            let view = try Rows.view(bytes, in: database), row = try Rows.decode(bytes, in: database)
            #expect(view.position == 77 && Array(view.encoded) == row.encoded)
            #expect(try view.int("delivered") == row.int("delivered") && view.optionalString("station") == "st-1")
            let missing = "a projection row last written by this event has no field \"minutes\" holding a whole number"
            #expect(throws: LogError.corrupt(position: 77, reason: missing)) { try view.int("minutes") }
        }
        let short: [UInt8] = [0, 0, 1]
        #expect(throws: LogError.self) { try short.withUnsafeBytes { try Rows.view($0, in: database) } }
        var damaged = bytes
        damaged[8] = 0xBF  // an indefinite map, which Linli never writes
        do {
            _ = try damaged.withUnsafeBytes { try Rows.view($0, in: database) }
            Issue.record("damaged bytes were read")
        } catch LogError.corrupt(let position, let reason) {
            #expect(position == 77 && reason.contains("does not decode"), "\(reason)")
        }
    }
}
