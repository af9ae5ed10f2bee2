import Foundation
@testable import LinliStore
import Testing

/// Issue 18 item 10: the check that a folder is a Linli store, run by every open, beside a process that
/// commits and grows the map. Opening the meta database's handle began a transaction that did not adopt a
/// map grown by the writer (`MDB_MAP_RESIZED`), and a live store was called "another program's" (exit 3 in
/// `linli status`, about 2 runs in 300 beside `linli apply`; this test failed 4 runs in 4 without the fix).
@Suite("Opening beside a writer, with a real child process", .serialized)
struct OpenProbeTests {
    @Test("the store check never fails while another process commits, one command at a time", arguments: [UInt64(11)])
    func probeBesideWriter(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let store = dir.sub("store")
        _ = try EventLog.create(at: store, options: logOptions([EventCountsProjection()]))
        let process = Process()
        process.executableURL = productsDirectory().appendingPathComponent("linli-crashtest")
        // 1,500 commits of one command of 40 events: the map, from 1 MiB, grows several times under the probes.
        process.arguments = [store, "p", "1500", "1", "40", String(seed)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var probes = 0
        var failures: [String] = []
        while process.isRunning {
            do { try StorePath.checkExisting(store) } catch { failures.append("\(error)") }
            probes += 1
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(probes > 100, "the probes ran beside the writer: \(probes)")
        #expect(failures.isEmpty, "\(failures.count) of \(probes) probes failed: \(failures.prefix(2))")
    }
}
