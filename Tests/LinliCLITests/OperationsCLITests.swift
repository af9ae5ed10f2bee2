import Foundation
import LinliTestSupport
import Testing

/// `linli status`, `linli backup`, `linli import` and replicas (issue 20), as an operator runs them.
@Suite("Operations from the command line, run as child processes", .serialized)
struct OperationsCLITests {
    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    /// The figures an operator compares between two stores: the audit's state digest and head, and a balance.
    func figures(_ store: String, atPosition position: UInt64? = nil) throws -> [String] {
        let at = position.map { ["--at-position", String($0)] } ?? []
        let audit = try CLI.run(["audit", "verify", "--json", "--store", store])
        #expect(audit.status == 0, "\(audit.out)\(audit.err)")
        let report = try json(audit.out)
        let balance = try CLI.run(["balance", "resident:r-1", "--json", "--store", store] + at)
        #expect(balance.status == 0, "\(balance.err)")
        return [report["stateDigest"] as? String ?? "", String(describing: report["headPosition"] ?? ""), balance.out]
    }

    @Test("status names the identity, the head, events per domain that add up to it, the checkpoint and the replica mark")
    func status() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        defer { withExtendedLifetime(dir) {} }
        let table = try CLI.run(["status", "--store", store])
        #expect(table.status == 0, "\(table.err)")
        #expect(table.out.contains("replica     no") && table.out.contains("checkpoint  position 10 (the head)"), "\(table.out)")
        let document = try json(try CLI.run(["status", "--json", "--store", store]).out)
        let first = try json(String(try CLI.run(["export", "--to", "1", "--store", store]).out.dropLast()))
        #expect(document["identity"] as? String == first["hash"] as? String)
        #expect((document["head"] as? [String: Any])?["position"] as? Int == 10)
        let domains = try #require(document["eventsByDomain"] as? [String: Int])
        #expect(domains.values.reduce(0, +) == 10 && domains["ledger"] == 3)
        #expect(document["replicaOf"] is NSNull)
    }

    @Test("under umask 022 a backup is 700 and 600; it refuses a folder that exists; restored in place it opens, verifies and shows the source's figures")
    func backupAndRestore() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        let backup = dir.sub("backup")
        let made = try runProcess(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "umask 022 && exec \"$0\" backup \"$1\" --json --store \"$2\"", CLI.binary.path, backup, store])
        #expect(made.status == 0, "\(made.err)")
        #expect(try json(made.out)["position"] as? Int == 10)
        #expect(try mode(backup) == 0o700 && mode(backup + "/data.mdb") == 0o600)
        #expect(!FileManager.default.fileExists(atPath: backup + ".partial"))
        let again = try CLI.run(["backup", backup, "--store", store])
        #expect(again.status == 3 && again.err.contains("exists already"), "\(again.err)")
        let before = try figures(store)
        // The source goes on; then it is lost, and the backup is put in its place.
        #expect(
            try CLI.run([
                "hours", "log", "--log", "l-2", "--volunteer", "r-1", "--minutes", "30", "--activity", "巡逻", "--category", "patrol",
                "--store", store, "--as", "gw-1", "--at", "2024-03-03T09:00:00+08:00",
            ]).status == 0)
        try FileManager.default.moveItem(atPath: store, toPath: dir.sub("lost"))
        try FileManager.default.moveItem(atPath: backup, toPath: store)
        #expect(try figures(store) == before)
        for file in try FileManager.default.contentsOfDirectory(atPath: store) { #expect(try mode(store + "/" + file) == 0o600, "\(file)") }
    }

    @Test("under umask 022 export --output is 600, holds what standard output holds, and never overwrites a file")
    func privateExport() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        let file = dir.sub("events.ndjson")
        let made = try runProcess(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "umask 022 && exec \"$0\" export --output \"$1\" --store \"$2\"", CLI.binary.path, file, store])
        #expect(made.status == 0 && made.out.isEmpty, "\(made.err)")
        #expect(try mode(file) == 0o600)
        let printed = try CLI.run(["export", "--store", store])
        #expect(try String(contentsOfFile: file, encoding: .utf8) == printed.out && printed.out.split(separator: "\n").count == 10)
        let again = try CLI.run(["export", "--output", file, "--store", store])
        #expect(again.status == 1 && again.err.contains("never overwrites"), "\(again.err)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == printed.out)
    }

    @Test("a replica made through a pipe refuses commands naming its source, follows in steps, and shows the source's figures at each")
    func replicaThroughPipes() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        let replica = dir.sub("replica")
        let shell = URL(fileURLWithPath: "/bin/sh")
        let made = try runProcess(
            shell, ["-c", "\"$0\" export --store \"$1\" | \"$0\" import - --replica-of jiangshan-office --store \"$2\"", CLI.binary.path, store, replica])
        #expect(made.status == 0, "\(made.err)")
        #expect(try figures(replica) == figures(store))
        let refused = try CLI.run([
            "hours", "log", "--log", "l-9", "--volunteer", "r-1", "--minutes", "30", "--activity", "巡逻", "--category", "patrol",
            "--store", replica, "--as", "gw-1",
        ])
        #expect(refused.status == 3 && refused.err.contains("replica of jiangshan-office"), "\(refused.err)")
        let applied = try CLI.run(["apply", "-", "--store", replica], stdin: setup)
        #expect(applied.status == 3 && applied.err.contains("replica of jiangshan-office"), "\(applied.err)")
        for step in 0..<2 {
            #expect(
                try CLI.run([
                    "hours", "log", "--log", "f-\(step)", "--volunteer", "r-1", "--minutes", "60", "--activity", "巡逻", "--category", "patrol",
                    "--store", store, "--as", "gw-1", "--at", "2024-03-04T09:00:00+08:00",
                ]).status == 0)
            #expect(try CLI.run(["hours", "verify", "--log", "f-\(step)", "--store", store, "--as", "sw-1", "--at", "2024-03-05T09:00:00+08:00"]).status == 0)
            let head = try #require((try json(try CLI.run(["status", "--json", "--store", replica]).out)["head"] as? [String: Any])?["position"] as? Int)
            let followed = try runProcess(
                shell,
                ["-c", "\"$0\" export --from \"$3\" --store \"$1\" | \"$0\" import --follow - --store \"$2\"", CLI.binary.path, store, replica, String(head)])
            #expect(followed.status == 0, "\(followed.err)")
            #expect(try figures(replica) == figures(store), "step \(step)")
        }
        let status = try json(try CLI.run(["status", "--json", "--store", replica]).out)
        #expect(status["replicaOf"] as? String == "jiangshan-office")
        // It holds the source's personal data: as private as the source.
        #expect(try mode(replica) == 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: replica) { #expect(try mode(replica + "/" + file) == 0o600, "\(file)") }
    }

    @Test("an import killed at random moments leaves no store that opens, or a whole one", arguments: [20_261_203 as UInt64])
    func killedImport(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let source = dir.sub("demo")
        #expect(try CLI.run(["demo", "--store", source]).status == 0)
        let export = try CLI.run(["export", "--store", source])
        let file = dir.sub("events.ndjson")
        try Data(export.out.utf8).write(to: URL(fileURLWithPath: file))
        var random = SplitMix64(state: seed)
        var killedMidway = 0
        for round in 0..<3 {
            let target = dir.sub("r\(round)")
            let process = try CLI.start(["import", file, "--store", target])
            usleep(UInt32(100_000 + random.below(400_000)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let status = try CLI.run(["status", "--store", target])
            if process.terminationReason == .uncaughtSignal, status.status != 0 {
                killedMidway += 1
                #expect(status.status == 3 && (status.err.contains("did not finish") || status.err.contains("no store")), "\(status.err)")
            } else {
                #expect(try figures(target) == figures(source))
            }
        }
        #expect(killedMidway > 0, "no kill landed during an import; the test proved nothing")
    }

    /// Found in review: `export --output` wrote under the file's own name, so a killed export left a file cut
    /// short that looked like a whole one.
    @Test("an export to a file killed at random moments leaves the whole export under its name, or nothing", arguments: [20_261_204 as UInt64])
    func killedExport(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let source = dir.sub("demo")
        #expect(try CLI.run(["demo", "--store", source]).status == 0)
        let whole = Data(try CLI.run(["export", "--store", source]).out.utf8)
        var random = SplitMix64(state: seed)
        var killedMidway = 0
        for round in 0..<4 {
            let file = dir.sub("e\(round).ndjson")
            let process = try CLI.start(["export", "--output", file, "--store", source])
            // Killed once something is written, so that the kill lands while the file grows.
            func written() -> Bool {
                [file, file + ".partial"].contains { ((try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0) > 0 }
            }
            while process.isRunning && !written() { usleep(500) }
            usleep(UInt32(random.below(20_000)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: file) {
                #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == whole, "round \(round): a file under the export's name is the whole export")
            } else {
                killedMidway += 1
                let again = try CLI.run(["export", "--output", file, "--store", source])
                #expect(again.status == 1 && again.err.contains(file + ".partial"), "round \(round): \(again.err)")
                #expect(!FileManager.default.fileExists(atPath: file))
            }
        }
        #expect(killedMidway > 0, "no kill landed during an export; the test proved nothing")
    }

    @Test("an init killed at random moments is finished by the next init, or the store was whole already", arguments: [20_261_202 as UInt64])
    func killedInit(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        var random = SplitMix64(state: seed)
        var interrupted = 0
        for round in 0..<12 {
            let store = dir.sub("s\(round)")
            let process = try CLI.start(["init", "--admin", "admin", "--store", store])
            usleep(UInt32(5_000 + random.below(60_000)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let status = try CLI.run(["status", "--json", "--store", store])
            if status.status != 0 {
                interrupted += 1
                #expect(status.status == 3 && (status.err.contains("init") || status.err.contains("no store")), "\(status.err)")
            }
            // Whatever the kill left, init again gives a store with its first admin, or says it has one.
            let again = try CLI.run(["init", "--admin", "admin", "--store", store])
            #expect(again.status == 0 || (status.status == 0 && again.err.contains("exists")), "round \(round): \(again.err)")
            let verified = try CLI.run(["audit", "verify", "--store", store])
            #expect(verified.status == 0, "round \(round): \(verified.out) \(verified.err)")
            #expect(try CLI.run(["status", "--json", "--store", store]).out.contains(#""position":1"#))
        }
        #expect(interrupted > 0, "no kill landed during an init; the test proved nothing")
    }

    @Test("an export with a line changed is refused naming its line, exit 1, and leaves nothing")
    func refusedImport() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        var lines = try CLI.run(["export", "--store", store]).out.split(separator: "\n").map(String.init)
        let index = try #require(lines.firstIndex { $0.contains("\"type\":\"hours.verified\"") })
        lines[index] = lines[index].replacingOccurrences(of: "\"actor\":\"sw-1\"", with: "\"actor\":\"sw-2\"")
        let refused = try CLI.run(["import", "-", "--store", dir.sub("r")], stdin: lines.joined(separator: "\n"))
        #expect(refused.status == 1 && refused.err.contains("line \(index + 1), position \(index + 1): actor is not what the record holds"), "\(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("r")))
        // A line past the limit (9 MiB, no line break) is refused for its length, naming it.
        let long = try CLI.run(["import", "-", "--store", dir.sub("long")], stdin: String(repeating: "a", count: 9 << 20))
        #expect(long.status == 1 && long.err.contains("line 1: is longer than 8 MiB"), "\(long.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("long")))
    }
}
