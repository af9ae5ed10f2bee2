// The large stores several suites share: the three pilots at the seed's sizes (≈ 1.6M events), built
// once from linli-fixtures' generator and kept between benchmark processes (package-benchmark runs each
// benchmark in a process of its own).
import Foundation
import Linli
import LinliStore

/// The pilots' commands at full scale, per pilot, as NDJSON lines.
public func pilotLines(_ scale: PilotFixtures.Scale = .full) -> [String: [[UInt8]]] {
    var lines: [String: [[UInt8]]] = [:]
    _ = PilotFixtures(scale: scale).generate { pilot, line in lines[pilot, default: []].append(Array(line.utf8)) }
    return lines
}

/// Applies lines to an engine in transactions of `Engine.continueChunkLines`, as `linli apply --continue`
/// does; returns the lines rejected (the fixtures' marked mistakes).
@discardableResult
public func applyAll(_ engine: Engine, _ lines: [[UInt8]]) -> Int {
    let report = try! engine.apply(lines: lines, mode: .continueOnRejection)
    return report.rejected
}

/// The path of the shared store of the three pilots at full scale, built on first use.
public func pilotStorePath() -> String {
    let path = NSTemporaryDirectory() + "linli-bench-pilots-full.store"
    let done = path + ".complete"
    if FileManager.default.fileExists(atPath: done) { return path }
    try? FileManager.default.removeItem(atPath: path)
    let engine = try! Engine.create(at: path, admin: PilotFixtures.admin, at: Timestamp(iso8601: "2023-07-01T08:00:00+08:00"))
    let lines = pilotLines()
    for pilot in PilotFixtures.pilots { applyAll(engine, lines[pilot]!) }
    FileManager.default.createFile(atPath: done, contents: Data("\(try! engine.log.head.position)\n".utf8))
    return path
}

/// Every stored event record of a store, in position order.
public func allRecords(_ log: EventLog) throws -> [[UInt8]] {
    var records: [[UInt8]] = []
    try log.read { reader in
        try reader.forEachEvent(from: 1) { event in
            records.append(event.storedBytes); return true
        }
    }
    return records
}
