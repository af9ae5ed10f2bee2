import Foundation
import Linli

// A placeholder until the command line lands: `linli demo` appends and replays a few events.
let arguments = CommandLine.arguments.dropFirst()
guard arguments.first == "demo" else {
    print("usage: linli demo")
    exit(2)
}
let path = FileManager.default.currentDirectoryPath + "/linli-demo.store"
try? FileManager.default.removeItem(atPath: path)
var options = EventLog.Options()
options.projections = [EventCountsProjection()]
let log = try EventLog.create(at: path, options: options)
let at = Timestamp(iso8601: "2024-03-01T09:30:00+08:00")!
for index in 1...1000 {
    let id = "demo-\(index)"
    _ = try log.append(AppendCommand(commandId: id, requestDigest: Hash.sha256(id), actor: "w-01", occurredAt: at,
                                     events: [NewEvent(stream: "resident:r-\(index % 10)", type: "demo.logged", payload: Array("敲门入户 \(index)".utf8))]))
}
let report = try log.verifyChain()
let counts = try log.read { try EventCountsProjection.streamCounts($0) }
print("store \(path): \(report.events) events, head \(report.head.hash.hex), chain \(report.ok ? "verified" : "BROKEN")")
print("streams: \(counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
