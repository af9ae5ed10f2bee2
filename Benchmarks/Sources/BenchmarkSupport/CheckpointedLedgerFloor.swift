// The floor of the checkpointed layout (docs/DECISIONS.md, "Derived state"): the same ledger mix as
// LedgerFloor, but with the projection rows kept in memory and written, sorted and coalesced, every
// 65,536 events (a checkpoint), as Linli now does. Per command the transaction only checks and writes the
// command id and appends the hashed event; the rows' reads and writes go to a dictionary first.
import CLMDB
import Foundation
import LinliStore

/// The ledger's tables with rows checkpointed: each command the minimum of LMDB calls and hashing.
public final class CheckpointedLedgerFloor: @unchecked Sendable {
    let base: LedgerFloor
    /// Rows changed since the last checkpoint, by table: key → value size.
    var dirty: [MDB_dbi: [[UInt8]: Int]] = [:]
    var eventsSinceCheckpoint = 0
    public static let checkpointEvents = 65_536

    /// An environment at `path` with `residentsCount` residents, the staff roles and the gift.
    public init(path: String, residentsCount: Int) {
        base = LedgerFloor(path: path, residentsCount: residentsCount)
    }

    /// Applies one batch in one durable transaction; every 65,536 events the changed rows are put in key
    /// order in the same transaction.
    public func apply(_ batch: [FloorCommand], records: [[UInt8]]) {
        precondition(batch.count == records.count, "one event per command in this mix")
        var txn: OpaquePointer?
        precondition(mdb_txn_begin(base.env, nil, 0, &txn) == 0)
        let txn1 = txn!
        var chained: [UInt8] = []
        chained.reserveCapacity(512)
        for (command, record) in zip(batch, records) {
            let position = base.nextPosition
            precondition(!LedgerFloor.has(txn1, base.commands, command.id))
            switch command {
            case let .log(_, log, resident):
                precondition(has(txn1, base.residents, resident) && has(txn1, base.roles, base.roleKeys[0]) && !has(txn1, base.hours, log))
                write(base.hours, log, LedgerFloor.hoursBytes)
            case let .verify(_, log, resident):
                precondition(has(txn1, base.roles, base.roleKeys[1]) && has(txn1, base.hours, log))
                post(txn1, from: base.issuance, to: Array("resident:".utf8) + resident, position: position)
                write(base.hours, log, LedgerFloor.hoursBytes)
            case let .redeem(_, redemption, resident):
                precondition(has(txn1, base.residents, resident) && has(txn1, base.roles, base.roleKeys[2]))
                precondition(has(txn1, base.items, base.item) && !has(txn1, base.redemptions, redemption))
                write(base.items, base.item, LedgerFloor.itemBytes)
                write(base.redemptions, redemption, LedgerFloor.redemptionBytes)
                post(txn1, from: Array("resident:".utf8) + resident, to: base.store, position: position)
            }
            chained.removeAll(keepingCapacity: true)
            chained.append(contentsOf: base.previousHash)
            chained.append(contentsOf: record)
            base.previousHash = chained.withUnsafeBytes { Hash.sha256($0) }.bytes
            var key = position.bigEndian
            withUnsafeBytes(of: &key) { key in LedgerFloor.put(txn1, base.events, Array(key), value: record, flags: UInt32(MDB_APPEND)) }
            LedgerFloor.put(txn1, base.commands, command.id, count: LedgerFloor.commandBytes)
            base.nextPosition += 1
            eventsSinceCheckpoint += 1
        }
        if eventsSinceCheckpoint >= Self.checkpointEvents { checkpoint(txn1) }
        precondition(mdb_txn_commit(txn) == 0)
    }

    private func has(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ key: [UInt8]) -> Bool {
        dirty[dbi]?[key] != nil || LedgerFloor.has(txn, dbi, key)
    }

    private func write(_ dbi: MDB_dbi, _ key: [UInt8], _ bytes: Int) { dirty[dbi, default: [:]][key] = bytes }

    private func post(_ txn: OpaquePointer, from: [UInt8], to: [UInt8], position: UInt64) {
        for account in [from, to] {
            _ = has(txn, base.accounts, account)
            write(base.accounts, account, LedgerFloor.accountBytes)
            write(base.postings, account + [0] + withUnsafeBytes(of: position.bigEndian) { Array($0) }, LedgerFloor.postingBytes)
        }
    }

    /// The changed rows, sorted, put once each.
    private func checkpoint(_ txn: OpaquePointer) {
        for (dbi, rows) in dirty {
            for key in rows.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) { LedgerFloor.put(txn, dbi, key, count: rows[key]!) }
        }
        dirty = [:]
        eventsSinceCheckpoint = 0
    }
}
