// One NDJSON line through Engine.apply on a real store in a temporary folder: any bytes are applied or
// rejected with a reason, never a crash; a rejected line writes nothing.
import Foundation
import FuzzDriver
import Linli

/// One store for the whole run, with a community, staff and residents for the lines to act on.
let engine: Engine = {
    let path = NSTemporaryDirectory() + "linli-fuzz-\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
    atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "linli-fuzz-\(getpid())") }
    let engine = try! Engine.create(at: path, admin: "admin")
    let setup = """
        {"command":"community.register","id":"s-1","actor":"admin","at":"2024-01-01T09:00:00+08:00","community":"jiangshan","name":"市中心社区","district":"虎山街道"}
        {"command":"role.grant","id":"s-2","actor":"admin","at":"2024-01-01T09:00:00+08:00","subject":"gw-1","role":"gridWorker","community":"jiangshan"}
        {"command":"role.grant","id":"s-3","actor":"admin","at":"2024-01-01T09:00:00+08:00","subject":"sw-1","role":"socialWorker","community":"jiangshan"}
        {"command":"points.rate.set","id":"s-4","actor":"admin","at":"2024-01-01T00:00:00+08:00","community":"jiangshan","pointsPerHour":10}
        {"command":"resident.register","id":"s-5","actor":"gw-1","at":"2024-01-02T09:00:00+08:00","resident":"r-1","community":"jiangshan","household":"h-1","name":"王秀英","birthYear":1948}
        """
    let report = try! engine.apply(lines: setup.split(separator: "\n").map { Array($0.utf8) })
    precondition(report.rejected == 0, "the fuzz store's set-up applies")
    return engine
}()

func fuzzApply(_ line: [UInt8]) {
    guard !line.contains(0x0A) else { return }  // one line per input
    let before = try! engine.log.head
    let report = try! engine.apply(lines: [line])
    if report.rejected > 0 { precondition(try! engine.log.head == before, "a rejected line writes nothing") }
}

// The store and the engine's tables are made before the first input: libFuzzer counts what an input
// allocates and does not free as a leak, and these live for the whole run.
_ = engine.log
runFuzzer(fuzzApply)
