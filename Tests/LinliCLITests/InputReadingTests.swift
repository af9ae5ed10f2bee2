import Foundation
import LinliTestSupport
import Testing

/// Found in review: the line reader behind `apply`, `import` and `audit verify --export` took any failed
/// `read` for the end of its input, so a non-blocking descriptor with nothing in it yet, or a connection
/// reset, committed a prefix of a batch or verified a prefix of an export as if whole. And an atomic
/// `apply` read standard input inside its write transaction, so a slow producer held every other writer.
@Suite("Reading commands and exports from a descriptor", .serialized)
struct InputReadingTests {
    /// A socket that hands over `bytes` and then fails with ECONNRESET: its peer is closed with data it
    /// never read, which is how Linux reports a connection reset on a local socket.
    func resettingSocket(after bytes: String) throws -> FileHandle {
        var pair: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        let reader = FileHandle(fileDescriptor: pair[0], closeOnDealloc: true)
        let peer = FileHandle(fileDescriptor: pair[1], closeOnDealloc: false)
        try peer.write(contentsOf: Data(bytes.utf8))
        try reader.write(contentsOf: Data("unread".utf8))
        close(pair[1])
        return reader
    }

    func head(_ store: String) throws -> Int? {
        let status = try CLI.run(["status", "--json", "--store", store])
        let document = try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any]
        return (document?["head"] as? [String: Any])?["position"] as? Int
    }

    @Test("a non-blocking standard input that is empty for a while is waited for, not taken for its end")
    func nonBlockingInput() throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("s")
        #expect(try CLI.run(["init", "--admin", "admin", "--store", store]).status == 0)
        let pipe = Pipe()
        let readEnd = pipe.fileHandleForReading.fileDescriptor
        #expect(fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK) == 0)
        let child = try RunningCLI(["apply", "-", "--store", store], input: pipe.fileHandleForReading)
        let lines = setup.split(separator: "\n")
        usleep(300_000)
        try pipe.fileHandleForWriting.write(contentsOf: Data((lines.prefix(3).joined(separator: "\n") + "\n").utf8))
        usleep(300_000)
        try pipe.fileHandleForWriting.write(contentsOf: Data(lines.dropFirst(3).joined(separator: "\n").utf8))
        try pipe.fileHandleForWriting.close()
        let applied = child.wait()
        #expect(applied.status == 0, "\(applied.err)")
        #expect(applied.out == "applied 7, rejected 0, events appended 7, head position 8\n", "\(applied.out)")
    }

    @Test("apply, import and verify --export whose input fails midway say so, exit 1, and write nothing")
    func failedRead() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        let before = try head(store)
        let commands = """
            {"command":"resident.register","id":"x-1","actor":"gw-1","at":"2024-03-03T09:00:00+08:00","resident":"r-7","community":"jiangshan","household":"h-7","name":"周阿姨","birthYear":1950}

            """
        let applied = try RunningCLI(["apply", "-", "--store", store], input: resettingSocket(after: commands)).wait()
        #expect(applied.status == 1 && applied.err.contains("cannot read standard input"), "\(applied.status) \(applied.out) \(applied.err)")
        #expect(try head(store) == before, "nothing of a batch whose input failed is written")

        let export = try CLI.run(["export", "--store", store]).out
        let half = export.split(separator: "\n").prefix(4).joined(separator: "\n") + "\n"
        let verified = try RunningCLI(["audit", "verify", "--export", "-"], input: resettingSocket(after: half)).wait()
        #expect(verified.status == 1 && verified.err.contains("cannot read standard input"), "\(verified.status) \(verified.out) \(verified.err)")

        let imported = try RunningCLI(["import", "-", "--store", dir.sub("copy")], input: resettingSocket(after: half)).wait()
        #expect(imported.status == 1 && imported.err.contains("cannot read standard input"), "\(imported.status) \(imported.out) \(imported.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("copy")))
    }

    @Test("an atomic apply waiting for the rest of its input holds no other writer back")
    func slowProducer() throws {
        let (dir, store) = try AuditToolsCLITests.verifiedHours()
        defer { withExtendedLifetime(dir) {} }
        let pipe = Pipe()
        let first = try RunningCLI(["apply", "-", "--store", store], input: pipe.fileHandleForReading)
        let line = """
            {"command":"resident.register","id":"x-1","actor":"gw-1","at":"2024-03-03T09:00:00+08:00","resident":"r-7","community":"jiangshan","household":"h-7","name":"周阿姨","birthYear":1950}

            """
        try pipe.fileHandleForWriting.write(contentsOf: Data(line.utf8))
        usleep(500_000)
        let second = try RunningCLI([
            "hours", "log", "--log", "l-2", "--volunteer", "r-1", "--minutes", "30", "--activity", "巡逻", "--category", "patrol",
            "--store", store, "--as", "gw-1", "--at", "2024-03-03T10:00:00+08:00",
        ])
        let deadline = Date().addingTimeInterval(10)
        while second.isRunning && Date() < deadline { usleep(20_000) }
        let secondFinishedFirst = !second.isRunning
        try pipe.fileHandleForWriting.close()
        let firstResult = first.wait()
        let secondResult = second.wait()
        #expect(secondFinishedFirst, "the second writer waited for the first one's input")
        #expect(firstResult.status == 0 && secondResult.status == 0, "\(firstResult.err) \(secondResult.err)")
        #expect(try head(store) == 12)
    }
}
