import Foundation
import LinliTestSupport
import Testing

/// Runs the built `linli` binary as a child process.
struct CLI {
    static let binary = productsDirectory().appendingPathComponent("linli")

    @discardableResult
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        var env = ProcessInfo.processInfo.environment
        env["LINLI_STORE"] = nil
        env["LINLI_ACTOR"] = nil
        for (key, value) in environment { env[key] = value }
        return try runProcess(binary, arguments, stdin: stdin.map { Data($0.utf8) }, environment: env)
    }

    /// Starts `linli arguments` with its output discarded, for a test that kills it at some moment.
    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LINLI_STORE"] = nil
        env["LINLI_ACTOR"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// Commands that set up a small community, as an administrator would type them.
let setup = """
    {"command":"community.register","id":"s-1","actor":"admin","at":"2024-01-01T09:00:00+08:00","community":"jiangshan","name":"市中心社区","district":"虎山街道"}
    {"command":"role.grant","id":"s-2","actor":"admin","at":"2024-01-01T09:00:00+08:00","subject":"gw-1","role":"gridWorker","community":"jiangshan"}
    {"command":"role.grant","id":"s-3","actor":"admin","at":"2024-01-01T09:00:00+08:00","subject":"sw-1","role":"socialWorker","community":"jiangshan"}
    {"command":"role.grant","id":"s-4","actor":"admin","at":"2024-01-01T09:00:00+08:00","subject":"sk-1","role":"storeKeeper","community":"jiangshan"}
    {"command":"points.rate.set","id":"s-5","actor":"admin","at":"2024-01-01T00:00:00+08:00","community":"jiangshan","pointsPerHour":10}
    {"command":"resident.register","id":"s-6","actor":"gw-1","at":"2024-01-02T09:00:00+08:00","resident":"r-1","community":"jiangshan","household":"h-1","name":"王秀英","birthYear":1948}
    {"command":"resident.register","id":"s-7","actor":"gw-1","at":"2024-01-02T09:00:00+08:00","resident":"r-2","community":"jiangshan","household":"h-2","name":"Li Jianguo","birthYear":1975}
    """

@Suite("The linli command line, run as a child process", .serialized)
struct CLITests {
    func initialised() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let created = try CLI.run(["init", "--admin", "admin", "--store", dir.sub("s")])
        #expect(created.status == 0, "\(created.err)")
        let applied = try CLI.run(["apply", "-", "--store", dir.sub("s")], stdin: setup)
        #expect(applied.status == 0, "\(applied.err)")
        #expect(applied.out == "applied 7, rejected 0, events appended 7, head position 8\n")
        return dir
    }

    @Test("a store is chosen by --store, else LINLI_STORE; a missing store says how to create one (exit 3)")
    func storeSelection() throws {
        let dir = try initialised()
        let viaEnv = try CLI.run(["balance", "resident:r-1", "--json"], environment: ["LINLI_STORE": dir.sub("s")])
        #expect(viaEnv.status == 0)
        let missing = try CLI.run(["balance", "resident:r-1", "--store", dir.sub("nothing")])
        #expect(missing.status == 3)
        #expect(missing.err.contains("linli init --admin ID --store \(dir.sub("nothing"))"))
        let file = dir.sub("file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let notStore = try CLI.run(["balance", "resident:r-1", "--store", file])
        #expect(notStore.status == 3 && notStore.err.contains("regular file"))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
    }

    @Test("an unreadable store is a store error (exit 3) that says why, and is left as it was")
    func unreadableStore() throws {
        let dir = try initialised()
        let store = dir.sub("s")
        let before = try FileManager.default.contentsOfDirectory(atPath: store).sorted()
        let data = try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb"))
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: store)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        // Run as the unprivileged user `nobody` (root reads everything), through util-linux's setpriv.
        let setpriv = URL(fileURLWithPath: "/usr/bin/setpriv")
        try #require(FileManager.default.isExecutableFile(atPath: setpriv.path), "setpriv (util-linux) is needed for this test")
        // A copy of the binary in the test's own folder, so that `nobody` can reach it wherever CI cloned.
        let binary = dir.sub("linli")
        try FileManager.default.copyItem(atPath: CLI.binary.path, toPath: binary)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary)
        let process = Process()
        process.executableURL = setpriv
        process.arguments = ["--reuid", "65534", "--regid", "65534", "--clear-groups", binary, "balance", "resident:r-1", "--store", store]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 3)
        #expect(message.contains("Permission denied"), "\(message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store).sorted() == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb")) == data)
    }

    @Test("apply is atomic: every rejected line on stderr as LINE: reason: message, nothing written, exit 1; --continue commits the rest")
    func applyModes() throws {
        let dir = try initialised()
        let store = dir.sub("s")
        let batch = """
            {"command":"hours.log","id":"h-1","actor":"gw-1","at":"2024-03-01T09:30:00+08:00","log":"l-1","volunteer":"r-1","minutes":90,"activity":"敲门入户","category":"visit"}\r
            \r
            {"command":"hours.verify","id":"h-2","actor":"sw-1","at":"2024-03-01T18:00:00+08:00","log":"l-1"}
            {"command":"hours.log","id":"h-3","actor":"gw-1","at":"2024-03-01T09:30:00+08:00","log":"l-2","volunteer":"r-404","minutes":90,"activity":"巡逻","category":"visit"}
            {"command":"hours.log","id":"h-4","actor":"gw-1","at":"2024-03-01T09:30:00","log":"l-3","volunteer":"r-1","minutes":90,"activity":"巡逻","category":"visit"}

            """
        let path = dir.sub("batch.ndjson")
        try batch.write(toFile: path, atomically: true, encoding: .utf8)
        let atomic = try CLI.run(["apply", path, "--store", store])
        #expect(atomic.status == 1)
        let errors = atomic.err.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(
            errors == [
                "4: unknownResident: volunteer: no resident \"r-404\"",
                "5: invalidField: at: \"2024-03-01T09:30:00\" is not an ISO 8601 time with an offset and a possible date",
            ])
        #expect(!atomic.err.contains("1: ") && !atomic.err.contains("3: "), "valid lines are never named")
        #expect(try CLI.run(["balance", "resident:r-1", "--store", store, "--json"]).out.contains("\"balance\":0"))
        let continued = try CLI.run(["apply", path, "--continue", "--store", store])
        #expect(continued.status == 1)
        #expect(continued.out == "applied 2, rejected 2, events appended 2, head position 10\n")
        #expect(try CLI.run(["balance", "resident:r-1", "--store", store, "--json"]).out.contains("\"balance\":15"))
    }

    @Test("balance --json has the contract's fields; statement lines trace to positions")
    func jsonShapes() throws {
        let dir = try initialised()
        let store = dir.sub("s")
        #expect(
            try CLI.run([
                "hours", "log", "--log", "l-1", "--volunteer", "r-1", "--minutes", "120", "--activity", "敲门入户", "--category", "visit",
                "--as", "gw-1", "--at", "2024-03-01T09:30:00+08:00", "--id", "c-1", "--store", store,
            ]).status == 0)
        let verify = try CLI.run(["hours", "verify", "--log", "l-1", "--store", store, "--id", "c-2"], environment: ["LINLI_ACTOR": "sw-1"])
        #expect(verify.status == 0 && verify.out == "hours.verify c-2: recorded at position 10\n", "\(verify.out)\(verify.err)")
        let balance = try CLI.run(["balance", "resident:r-1", "--json", "--store", store])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(balance.out.utf8)) as? [String: Any])
        #expect(json["account"] as? String == "resident:r-1")
        #expect(json["balance"] as? Int == 20 && json["credited"] as? Int == 20 && json["debited"] as? Int == 0)
        #expect(json["position"] as? Int == 10)
        let issuance = try #require(
            try JSONSerialization.jsonObject(with: Data(try CLI.run(["balance", "issuance:jiangshan", "--json", "--store", store]).out.utf8)) as? [String: Any])
        #expect(issuance["balance"] as? Int == -20)
        let statement = try #require(
            try JSONSerialization.jsonObject(with: Data(try CLI.run(["statement", "resident:r-1", "--json", "--store", store]).out.utf8)) as? [String: Any])
        let postings = try #require(statement["postings"] as? [[String: Any]])
        #expect(
            postings.count == 1 && postings[0]["position"] as? Int == 10 && postings[0]["balance"] as? Int == 20 && postings[0]["pointsPerHour"] as? Int == 10)
        // Rejections: exit 1 and the reason.
        let short = try CLI.run(["points", "transfer", "--from", "r-1", "--to", "r-2", "--points", "21", "--reason", "转赠", "--as", "r-1", "--store", store])
        #expect(short.status == 1 && short.err.contains("insufficientBalance"))
    }

    @Test("tables line up Chinese names (two cells each); CSV quotes")
    func goldenTable() throws {
        let dir = try initialised()
        let store = dir.sub("s")
        for (item, name, price) in [("rice", "大米5斤", "20"), ("towel", "towel, white", "5")] {
            #expect(
                try CLI.run([
                    "gift", "stock", "--item", item, "--community", "jiangshan", "--name", name, "--price", price, "--quantity", "3",
                    "--as", "sk-1", "--store", store,
                ]).status == 0)
        }
        let table = try CLI.run(["stock", "--store", store])
        #expect(
            table.out == """
                item   name          price  quantity
                ─────  ────────────  ─────  ────────
                rice   大米5斤          20         3
                towel  towel, white      5         3

                """)
        let csv = try CLI.run(["stock", "--csv", "--store", store])
        #expect(csv.out == "item,name,price,quantity\nrice,大米5斤,20,3\ntowel,\"towel, white\",5,3\n")
    }

    @Test("exit codes: 0, 1, 2, 3")
    func exitCodes() throws {
        let dir = try initialised()
        #expect(try CLI.run(["stock", "--store", dir.sub("s")]).status == 0)
        #expect(try CLI.run(["apply", "-", "--store", dir.sub("s")], stdin: "{not json}\n").status == 1)
        let usage = try CLI.run(["balance", "--store", dir.sub("s")])
        #expect(usage.status == 2 && usage.err.contains("Usage"))
        #expect(try CLI.run(["frobnicate"]).status == 2)
        #expect(try CLI.run(["stock", "--json", "--csv", "--store", dir.sub("s")]).status == 2)
        #expect(try CLI.run(["stock", "--store", dir.sub("none")]).status == 3)
        let help = try CLI.run(["--help"])
        #expect(help.status == 0 && help.out.contains("Exit codes: 0 success; 1"))
    }
}

@Suite("linli audit verify, run as a child process", .serialized)
struct AuditCLITests {
    @Test("exit 0 and ok on a clean store; exit 1 naming the position when a copy's payload byte is flipped")
    func auditVerify() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("s")
        #expect(try CLI.run(["init", "--admin", "admin", "--store", store]).status == 0)
        #expect(try CLI.run(["apply", "-", "--store", store], stdin: setup).status == 0)
        let clean = try CLI.run(["audit", "verify", "--json", "--store", store])
        #expect(clean.status == 0, "\(clean.out)\(clean.err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(clean.out.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == true && json["events"] as? Int == 8 && (json["mismatches"] as? [Any])?.isEmpty == true)
        #expect((json["head"] as? String)?.count == 64)
        // A copy of the store with the name 王秀英 altered in place: the chain breaks at that event.
        let copy = dir.sub("copy")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store + "/data.mdb")))
        let needle = Array("王秀英".utf8)
        let places = data.indices.filter { data[$0] == needle[0] && data[$0...].starts(with: needle) }
        #expect(!places.isEmpty)
        for at in places { data[at + 3] ^= 0x01 }
        try Data(data).write(to: URL(fileURLWithPath: copy + "/data.mdb"))
        let tampered = try CLI.run(["audit", "verify", "--json", "--store", copy])
        #expect(tampered.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(tampered.out.utf8)) as? [String: Any])
        #expect(report["ok"] as? Bool == false)
        let failures = try #require(report["mismatches"] as? [[String: Any]])
        #expect(failures.contains { $0["kind"] as? String == "chain" && $0["position"] as? Int == 7 }, "\(failures)")
    }
}

@Suite("linli audit explain, checkpoint and export verification, run as a child process", .serialized)
struct AuditToolsCLITests {
    /// A store with the small community and 90 minutes of r-1's hours verified (positions 9 and 10).
    static func verifiedHours() throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory()
        let store = dir.sub("s")
        #expect(try CLI.run(["init", "--admin", "admin", "--store", store]).status == 0)
        #expect(try CLI.run(["apply", "-", "--store", store], stdin: setup).status == 0)
        #expect(
            try CLI.run([
                "hours", "log", "--log", "l-1", "--volunteer", "r-1", "--minutes", "90", "--activity", "敲门入户", "--category", "visit",
                "--store", store, "--as", "gw-1", "--at", "2024-03-01T09:00:00+08:00",
            ]).status == 0)
        #expect(try CLI.run(["hours", "verify", "--log", "l-1", "--store", store, "--as", "sw-1", "--at", "2024-03-02T09:00:00+08:00"]).status == 0)
        return (dir, store)
    }

    @Test("export, then verify the file without the store: the same state digest; a checkpoint published and checked; explain adds up")
    func auditTools() throws {
        let (dir, store) = try Self.verifiedHours()

        let checkpoint = try CLI.run(["audit", "checkpoint", "--store", store])
        #expect(checkpoint.status == 0)
        let statement = try #require(try JSONSerialization.jsonObject(with: Data(checkpoint.out.utf8)) as? [String: Any])
        #expect(statement["position"] as? Int == 10)
        #expect(((statement["communities"] as? [String: Any])?["jiangshan"] as? [String: Any])?["pointsIssued"] as? Int == 15)
        try Data(checkpoint.out.utf8).write(to: URL(fileURLWithPath: dir.sub("published.ndjson")))

        let online = try CLI.run(["audit", "verify", "--json", "--checkpoint", dir.sub("published.ndjson"), "--store", store])
        #expect(online.status == 0, "\(online.out)\(online.err)")
        let onlineReport = try #require(try JSONSerialization.jsonObject(with: Data(online.out.utf8)) as? [String: Any])

        let export = try CLI.run(["export", "--store", store])
        #expect(export.out.split(separator: "\n").count == 10)
        try Data(export.out.utf8).write(to: URL(fileURLWithPath: dir.sub("events.ndjson")))
        // The store goes away: the file alone is verified.
        try FileManager.default.removeItem(atPath: store)
        let offline = try CLI.run(["audit", "verify", "--export", dir.sub("events.ndjson"), "--json"])
        #expect(offline.status == 0, "\(offline.out)\(offline.err)")
        let offlineReport = try #require(try JSONSerialization.jsonObject(with: Data(offline.out.utf8)) as? [String: Any])
        #expect(offlineReport["stateDigest"] as? String == onlineReport["stateDigest"] as? String)
        #expect(offlineReport["head"] as? String == onlineReport["head"] as? String)
        #expect(offlineReport["events"] as? Int == 10)
        // One byte of one record changed in the file: exit 1, the position named.
        var lines = export.out.split(separator: "\n").map(String.init)
        let record = lines[8].range(of: #""record":""#)!.upperBound
        let index = lines[8].index(record, offsetBy: 200)
        lines[8].replaceSubrange(index...index, with: lines[8][index] == "0" ? "1" : "0")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir.sub("edited.ndjson")))
        let edited = try CLI.run(["audit", "verify", "--export", dir.sub("edited.ndjson"), "--json"])
        #expect(edited.status == 1, "\(edited.err)")
        #expect(edited.out.contains(#""position":9"#))
    }

    @Test("explain an account: a table of postings with actor, both times and the rate")
    func explain() throws {
        let (dir, store) = try Self.verifiedHours()
        let table = try CLI.run(["audit", "explain", "resident:r-1", "--store", store])
        #expect(table.status == 0)
        #expect(table.out.contains("postings add up  yes"))
        let row = try #require(table.out.split(separator: "\n").last.map(String.init))
        #expect(row.hasPrefix("      10  2024-03-02T09:00:00+08:00"))
        #expect(row.contains("sw-1") && row.contains("hours.verified") && row.contains("issuance:jiangshan") && row.hasSuffix("15    10       15"))
        let json = try CLI.run(["audit", "explain", "resident:r-1", "--json", "--store", store])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        #expect(document["sumEqualsBalance"] as? Bool == true)
        #expect((document["postings"] as? [[String: Any]])?.first?["eventAgrees"] as? Bool == true)
        withExtendedLifetime(dir) {}
    }
}

extension AuditToolsCLITests {
    @Test("audit verify --export with --checkpoint: a genuine checkpoint passes; a forged hash or a position past the file's end fails, exit 1, naming it")
    func exportAgainstCheckpoints() throws {
        let (dir, store) = try Self.verifiedHours()
        let statement = try CLI.run(["audit", "checkpoint", "--store", store]).out
        let export = dir.sub("events.ndjson")
        try Data(try CLI.run(["export", "--store", store]).out.utf8).write(to: URL(fileURLWithPath: export))
        let short = dir.sub("short.ndjson")
        try Data(try CLI.run(["export", "--to", "9", "--store", store]).out.utf8).write(to: URL(fileURLWithPath: short))
        let hash = try #require(try JSONSerialization.jsonObject(with: Data(statement.utf8)) as? [String: Any])["head"] as? String
        let forged = statement.replacingOccurrences(of: hash ?? "", with: String(repeating: "ab", count: 32))
        for (name, text) in [("genuine", statement), ("forged", forged)] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir.sub(name)))
        }
        let genuine = try CLI.run(["audit", "verify", "--export", export, "--checkpoint", dir.sub("genuine")])
        #expect(genuine.status == 0 && genuine.out.contains("the file extends all 1"), "\(genuine.out)\(genuine.err)")
        let refused = try CLI.run(["audit", "verify", "--export", export, "--checkpoint", dir.sub("forged"), "--json"])
        #expect(refused.status == 1 && refused.out.contains("\"kind\":\"checkpoint\"") && refused.out.contains("not the published"), "\(refused.out)")
        let cut = try CLI.run(["audit", "verify", "--export", short, "--checkpoint", dir.sub("genuine")])
        #expect(cut.status == 1 && cut.out.contains("before the published position 10"), "\(cut.out)")
    }
}
