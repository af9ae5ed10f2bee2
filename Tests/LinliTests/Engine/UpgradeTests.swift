import Foundation
@testable import Linli
@testable import LinliStore
import LinliTestSupport
import Testing

@Suite("Stores written by earlier versions")
struct UpgradeTests {
    /// The session-5 code's store (Fixtures/stores/README.md): 16-byte checkpoints without the log's hash,
    /// databases named p/NAME/DB@N, rows written in every command's transaction.
    static func unpackSession5Store(at path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Fixtures/stores/session5-layout.data.mdb.gz").standardized
        let gunzip = try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "gunzip -c '\(fixture.path)' > '\(path)/data.mdb'"])
        try #require(gunzip.status == 0, "\(gunzip.err)")
    }

    /// Found in review: `init` on a store that holds events opened it for writing first (which upgrades
    /// an old layout, a long write) and refused only afterwards.
    @Test("init on a store that holds events is refused before anything in it is touched")
    func initRefusedUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("store")
        try Self.unpackSession5Store(at: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
        #expect(throws: LogError.storeExists(path: path)) { _ = try Engine.create(at: path, admin: "admin-2") }
        #expect(try Environment(path: path).databaseNames().contains("p/ledger/accounts@2"), "not upgraded")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb")) == before)
    }

    @Test("a store of the previous layout opens, is rebuilt once into this one with progress shown, and keeps every figure")
    func previousLayoutUpgrades() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("store")
        try Self.unpackSession5Store(at: path)
        #expect(try Environment(path: path).databaseNames().contains("p/ledger/accounts@2"))

        var readOnly = Engine.Options()
        readOnly.readOnly = true
        #expect(throws: LogError.projectionsNeedUpgrade(path: path), "a read-only open says how to upgrade") {
            _ = try Engine.open(at: path, options: readOnly)
        }

        let lock = NSLock()
        nonisolated(unsafe) var progress: [UInt64] = []
        var options = Engine.Options()
        options.upgradeProgress = { done, _ in lock.withLock { progress.append(done) } }
        let engine = try Engine.open(at: path, options: options)
        #expect(lock.withLock { progress.last } == 1_200, "the upgrade shows its progress to the head")
        let names = try engine.log.environment.databaseNames()
        #expect(!names.contains { $0.hasPrefix("p/") && $0.contains("@") }, "the previous layout's databases are gone")
        // The figures the session-5 code gave for this store (its `linli audit verify --json` and `balance`).
        #expect(try engine.balance(of: "issuance:jiangshan").balance == -1_467)
        let audit = try engine.audit()
        #expect(audit.ok)
        // The session-5 audit's state digest hashed every database's rows in key order (append-only ones
        // are now digested per entity, AppendOnlyDigest): hashed that way, the stored rows give it still.
        let rowDigests = try engine.log.read { reader in
            try reader.withTransaction { txn in
                var out: [String: Hash] = [:]
                for slot in reader.slots {
                    for (name, database) in slot.databases.all { out["\(slot.projection.name)/\(name)"] = try ProjectionDigest.of(database, txn) }
                }
                return out
            }
        }
        #expect(
            AuditReport.stateDigest(rowDigests).hex == "772f9566d8d3e4482732de733e54de7d79af223a9e1d46f560a6f390f9583a9c",
            "the same rows as the previous layout's, byte for byte")
        // Opened again: nothing to upgrade.
        lock.withLock { progress = [] }
        _ = try Engine.open(at: path, options: options)
        #expect(lock.withLock { progress.isEmpty })
    }
}
