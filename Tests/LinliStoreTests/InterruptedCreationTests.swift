import Foundation
@testable import LinliStore
import Testing

/// Issue 16: a creation killed before it marked the store (the magic is written last, after Linli's
/// databases) is finished by the next create, and any other open says how to recover; a folder with
/// anyone else's data is never taken over.
@Suite("Interrupted creation of a store")
struct InterruptedCreationTests {
    /// What a creation killed just before its last write leaves: Linli's databases, empty, and no magic.
    func interrupted(_ path: String, extra: String? = nil) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let environment = try Environment(path: path)
        for name in [StoreLayout.events, StoreLayout.streamHeads, StoreLayout.commands, StoreLayout.meta] + (extra.map { [$0] } ?? []) {
            _ = try environment.database(named: name, create: true)
        }
    }

    @Test("open says the creation was interrupted and to run init again; create finishes it")
    func finished() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("store")
        try interrupted(path)
        #expect { try EventLog.open(at: path) } throws: { "\($0)".contains("creation was interrupted") && "\($0)".contains("init") }
        let log = try EventLog.create(at: path, options: logOptions())
        _ = try log.append(command("c-1"))
        #expect(try EventLog.open(at: path, options: logOptions()).head.position == 1)
    }

    @Test("a folder with another program's database, or with events, is not taken for an interrupted creation")
    func notTakenOver() throws {
        let dir = TemporaryDirectory()
        try interrupted(dir.sub("foreign"), extra: "accounts")
        #expect { try EventLog.create(at: dir.sub("foreign")) } throws: { "\($0)".contains("another program") }
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        _ = try log.append(command("c-1"))
        #expect(throws: LogError.storeExists(path: dir.sub("store"))) { try EventLog.create(at: dir.sub("store")) }
    }
}
