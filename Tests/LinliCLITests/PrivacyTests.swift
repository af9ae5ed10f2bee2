import Foundation
import LinliTestSupport
import Testing

/// Residents' data stays in the store: its folder and files are its owner's only, and audits and
/// time-travel queries read the store without writing anything, in it or anywhere else.
@Suite("Residents' data stays in the store, run as a child process", .serialized)
struct PrivacyTests {
    private func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    private func digest(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test("under umask 022 a new store is 700 and its files 600, and stay so after writes")
    func fileModes() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("s")
        let shell = URL(fileURLWithPath: "/bin/sh")
        let created = try runProcess(shell, ["-c", "umask 022 && exec \"$0\" init --admin admin --store \"$1\"", CLI.binary.path, store])
        #expect(created.status == 0, "\(created.err)")
        let applied = try runProcess(shell, ["-c", "umask 022 && exec \"$0\" apply - --store \"$1\" < \"$2\"", CLI.binary.path, store, try setupFile(dir)])
        #expect(applied.status == 0, "\(applied.err)")
        #expect(try mode(store) == 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: store) {
            #expect(try mode(store + "/" + file) == 0o600, "\(file)")
        }
    }

    private func setupFile(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.sub("setup.ndjson")
        try Data(setup.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("audit verify, time-travel queries and an export's verification write nothing: not to the temporary folder, not to the store")
    func auditsWriteNothing() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        // The temporary folder is a regular file: a command that tried to write there (as the scratch
        // copies of earlier versions did, deleted only when the process ended well) fails. A directory
        // left empty would not show a copy deleted before the command exits.
        let temporary = dir.sub("tmp")
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: temporary))
        let environment = ["TMPDIR": temporary + "/"]
        let before = try digest(store + "/data.mdb")
        let export = try CLI.run(["export", "--store", store])
        try Data(export.out.utf8).write(to: URL(fileURLWithPath: dir.sub("events.ndjson")))

        let runs: [[String]] = [
            ["audit", "verify", "--json", "--store", store],
            ["balance", "resident:r-1", "--json", "--as-of", "2024-03-01T12:00:00+08:00", "--store", store],
            ["balance", "resident:r-1", "--json", "--at-position", "10", "--store", store],
            ["audit", "explain", "resident:r-1", "--at-position", "10", "--store", store],
            ["audit", "verify", "--export", dir.sub("events.ndjson"), "--json"],
        ]
        for arguments in runs {
            let result = try CLI.run(arguments, environment: environment)
            #expect(result.status == 0, "\(arguments) wrote to the temporary folder, or failed: \(result.err)")
        }
        // Before the verification at 12:00 the hours were logged, not verified: nothing credited yet.
        let asOf = try CLI.run(["balance", "resident:r-1", "--json", "--as-of", "2024-03-01T12:00:00+08:00", "--store", store])
        let then = try #require(try JSONSerialization.jsonObject(with: Data(asOf.out.utf8)) as? [String: Any])
        #expect(then["balance"] as? Int == 0, "\(asOf.out)")
        let now = try CLI.run(["balance", "resident:r-1", "--json", "--at-position", "10", "--store", store])
        #expect((try JSONSerialization.jsonObject(with: Data(now.out.utf8)) as? [String: Any])?["balance"] as? Int == 15, "\(now.out)")
        #expect(try digest(store + "/data.mdb") == before, "an audit or a time-travel query changed the store's data file")
    }

    /// Issue 17: replays live in the process's memory only, so a replay killed at any moment leaves nothing
    /// to clean up (earlier versions left scratch copies of the store in the temporary folder).
    @Test("an audit or a time-travel query killed with SIGKILL at random moments leaves nothing behind", arguments: [20_261_206 as UInt64])
    func killedReplays(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("demo")
        #expect(try CLI.run(["demo", "--store", store]).status == 0)
        let temporary = dir.sub("tmp")
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let files = try FileManager.default.contentsOfDirectory(atPath: store).sorted()
        let before = try digest(store + "/data.mdb")
        let replays = [
            ["audit", "verify", "--store", store], ["balance", "resident:js-r-001", "--as-of", "2024-06-01T00:00:00+08:00", "--store", store],
            ["stock", "--at-position", "4000", "--store", store],
        ]
        var random = SplitMix64(state: seed)
        var killed = 0
        for round in 0..<6 {
            let process = try CLI.start(replays[round % replays.count], environment: ["TMPDIR": temporary + "/"])
            usleep(UInt32(50_000 + random.below(300_000)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killed += 1 }
            #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty, "round \(round): left in the temporary folder")
            #expect(try FileManager.default.contentsOfDirectory(atPath: store).sorted() == files, "round \(round): left in the store's folder")
        }
        #expect(killed > 0, "no kill landed during a replay; the test proved nothing")
        #expect(try digest(store + "/data.mdb") == before, "a killed replay changed the store's data file")
        #expect(try CLI.run(["audit", "verify", "--store", store]).status == 0)
    }
}
