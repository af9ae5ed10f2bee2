import CLMDB
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

/// Found in review: finishing an interrupted creation returned before the folder was made private, and
/// the check of a folder let LMDB's own error through when the main database held a value that is not a
/// database (and opened the folder a second time while its probe was open, which LMDB forbids).
@Suite("Interrupted creation: privacy and plain messages")
struct InterruptedCreationEdgeTests {
    @Test("finishing an interrupted creation makes the folder 700 whatever it was")
    func finishedPrivately() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("store")
        try InterruptedCreationTests().interrupted(path)
        #expect(chmod(path, 0o755) == 0)
        _ = try EventLog.create(at: path, options: logOptions())
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
    }

    @Test("a main database holding a plain value under one of Linli's names is another program's, said plainly")
    func plainValueInMain() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("foreign")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let environment = try Environment(path: path)
        try environment.write { txn in
            var main: MDB_dbi = 0
            #expect(mdb_dbi_open(txn.handle, nil, 0, &main) == 0)
            try txn.put(Database(dbi: main, name: "main"), key: Array(StoreLayout.events.utf8), value: [1, 2, 3])
        }
        for attempt in [{ _ = try EventLog.open(at: path) }, { _ = try EventLog.create(at: path) }] {
            #expect { try attempt() } throws: { error in
                guard case LogError.notAStore(_, let reason) = error else { return false }
                return reason.contains("another program")
            }
        }
    }
}
