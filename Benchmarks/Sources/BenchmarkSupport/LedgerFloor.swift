// The floor of the ledger's layout: for each command of the benchmark's mix, the LMDB reads and writes
// and the SHA-256 that the rows issue 3 requires imply, done with LMDB's C API on prepared bytes — no
// parsing, no encoding, no checks, no stream heads, no trial-balance row. What Linli adds to this is its
// own cost; what this costs, no implementation of that layout on this machine can avoid.
import CLMDB
import Foundation
import LinliStore

/// One ledger command as the floor sees it: the keys it reads and writes (row sizes are the engine's).
public enum FloorCommand: Sendable {
    /// hours.log: the volunteer and the actor's role are read; the log must be new; the hours row is written.
    case log(id: [UInt8], log: [UInt8], resident: [UInt8])
    /// hours.verify: the role and the hours row are read; two balances are read and written, two
    /// statement lines and the hours row are written.
    case verify(id: [UInt8], log: [UInt8], resident: [UInt8])
    /// gift.redeem: the resident, the role and the item are read, the redemption must be new; the item, the
    /// redemption, two balances and two statement lines are written.
    case redeem(id: [UInt8], redemption: [UInt8], resident: [UInt8])
}

/// A bare environment with the ledger's tables, each command applied as the minimum of LMDB calls.
public final class LedgerFloor: @unchecked Sendable {
    let env: OpaquePointer
    let commands: MDB_dbi, events: MDB_dbi, hours: MDB_dbi, accounts: MDB_dbi, postings: MDB_dbi
    let items: MDB_dbi, redemptions: MDB_dbi, residents: MDB_dbi, roles: MDB_dbi
    var nextPosition: UInt64 = 1
    var previousHash = [UInt8](repeating: 0, count: 32)
    /// Row sizes of the engine's store after the same mix (mdb_dump): values are this long.
    static let hoursBytes = 185, accountBytes = 51, postingBytes = 203, itemBytes = 53, redemptionBytes = 114, commandBytes = 48
    let issuance = Array("issuance:jiangshan".utf8), store = Array("store:jiangshan".utf8), item = Array("towel".utf8)
    let roleKeys = ["gw-1\0jiangshan\0gridWorker", "sw-1\0jiangshan\0socialWorker", "sk-1\0jiangshan\0storeKeeper"].map { Array($0.utf8) }

    /// An environment at `path` with `residentsCount` residents (`r-0`…), the three staff roles and the gift.
    public init(path: String, residentsCount: Int) {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var env: OpaquePointer?
        precondition(mdb_env_create(&env) == 0)
        mdb_env_set_maxdbs(env, 16)
        mdb_env_set_mapsize(env, 8 << 30)
        precondition(mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o644) == 0)
        self.env = env!
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        func open(_ name: String) -> MDB_dbi {
            var dbi: MDB_dbi = 0
            precondition(mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi) == 0)
            return dbi
        }
        (commands, events, hours, accounts, postings) = (open("commands"), open("events"), open("hours"), open("accounts"), open("postings"))
        (items, redemptions, residents, roles) = (open("items"), open("redemptions"), open("residents"), open("roles"))
        for index in 0..<residentsCount { Self.put(txn!, residents, Array("r-\(index)".utf8), count: 93) }
        for key in roleKeys { Self.put(txn!, roles, key, count: 48) }
        Self.put(txn!, items, item, count: Self.itemBytes)
        precondition(mdb_txn_commit(txn) == 0)
    }

    deinit { mdb_env_close(env) }

    /// Applies one batch in one durable transaction: `records[i]` is the event record command `i` appends
    /// (hashed with the previous hash, as the chain does, and appended).
    public func apply(_ batch: [FloorCommand], records: [[UInt8]]) {
        precondition(batch.count == records.count, "one event per command in this mix")
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(env, nil, 0, &txn) == 0)
        let txn1 = txn!
        var chained: [UInt8] = []
        chained.reserveCapacity(512)
        for (command, record) in zip(batch, records) {
            let position = nextPosition
            switch command {
            case let .log(id, log, resident):
                precondition(
                    !Self.has(txn1, commands, id) && Self.has(txn1, residents, resident) && Self.has(txn1, roles, roleKeys[0]) && !Self.has(txn1, hours, log))
                Self.put(txn1, hours, log, count: Self.hoursBytes)
            case let .verify(id, log, resident):
                precondition(!Self.has(txn1, commands, id) && Self.has(txn1, roles, roleKeys[1]) && Self.has(txn1, hours, log))
                post(txn1, from: issuance, to: Array("resident:".utf8) + resident, position: position)
                Self.put(txn1, hours, log, count: Self.hoursBytes)
            case let .redeem(id, redemption, resident):
                precondition(!Self.has(txn1, commands, id) && Self.has(txn1, residents, resident) && Self.has(txn1, roles, roleKeys[2]))
                precondition(Self.has(txn1, items, item) && !Self.has(txn1, redemptions, redemption))
                Self.put(txn1, items, item, count: Self.itemBytes)
                Self.put(txn1, redemptions, redemption, count: Self.redemptionBytes)
                post(txn1, from: Array("resident:".utf8) + resident, to: store, position: position)
            }
            chained.removeAll(keepingCapacity: true)
            chained.append(contentsOf: previousHash)
            chained.append(contentsOf: record)
            previousHash = chained.withUnsafeBytes { Hash.sha256($0) }.bytes
            var key = position.bigEndian
            withUnsafeBytes(of: &key) { key in Self.put(txn1, events, Array(key), value: record, flags: UInt32(MDB_APPEND)) }
            Self.put(txn1, commands, command.id, count: Self.commandBytes)
            nextPosition += 1
        }
        precondition(mdb_txn_commit(txn) == 0)
    }

    /// A posting: both balances read and written, a statement line each.
    private func post(_ txn: OpaquePointer, from: [UInt8], to: [UInt8], position: UInt64) {
        for account in [from, to] {
            _ = Self.has(txn, accounts, account)
            Self.put(txn, accounts, account, count: Self.accountBytes)
            Self.put(txn, postings, account + [0] + withUnsafeBytes(of: position.bigEndian) { Array($0) }, count: Self.postingBytes)
        }
    }

    static func has(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ key: [UInt8]) -> Bool {
        key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var vv = MDB_val()
            return mdb_get(txn, dbi, &kv, &vv) == 0
        }
    }

    static func put(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ key: [UInt8], count: Int) {
        // MDB_RESERVE: LMDB hands back the value's space; the bytes' content does not change LMDB's work.
        key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var vv = MDB_val(mv_size: count, mv_data: nil)
            let rc = mdb_put(txn, dbi, &kv, &vv, UInt32(MDB_RESERVE))
            precondition(rc == 0, String(cString: mdb_strerror(rc)))
            memset(vv.mv_data, 7, count)
        }
    }

    static func put(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ key: [UInt8], value: [UInt8], flags: UInt32) {
        key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                let rc = mdb_put(txn, dbi, &kv, &vv, flags)
                precondition(rc == 0, String(cString: mdb_strerror(rc)))
            }
        }
    }
}

extension FloorCommand {
    var id: [UInt8] {
        switch self {
        case .log(let id, _, _), .verify(let id, _, _), .redeem(let id, _, _): id
        }
    }
}
