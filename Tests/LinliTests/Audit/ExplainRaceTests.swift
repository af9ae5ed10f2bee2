import Foundation
@testable import Linli
import Testing

/// Issue 18 item 7: `audit explain` reads an account's balance and its postings in one snapshot, so a
/// write landing between them cannot make an untampered store's postings look short of its balance.
@Suite("audit explain beside a writer")
struct ExplainRaceTests {
    @Test("every explanation taken while another thread records points adds up")
    func explainBesideWriter() throws {
        let w = try World()
        try w.setUpCommunity()
        let engine = w.engine
        let lines = (0..<400).flatMap { n in
            [
                w.line(
                    "hours.log", actor: "gw-1", id: "race-l-\(n)",
                    [("log", .string("race-\(n)")), ("volunteer", "r-1"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")]),
                w.line("hours.verify", actor: "sw-1", id: "race-v-\(n)", [("log", .string("race-\(n)"))]),
            ]
        }
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for pair in stride(from: 0, to: lines.count, by: 2) { _ = try? engine.apply(lines: [Array(lines[pair].utf8), Array(lines[pair + 1].utf8)]) }
            done.signal()
        }
        var explained = 0, short = 0
        while done.wait(timeout: .now()) == .timedOut {
            let explanation = try engine.explain(account: "resident:r-1")
            explained += 1
            if explanation["sumEqualsBalance"] != .bool(true) { short += 1 }
        }
        #expect(explained > 20, "the explanations ran beside the writer: \(explained)")
        #expect(short == 0, "\(short) of \(explained) explanations did not add up")
        #expect(try engine.balance(of: "resident:r-1").balance == 400 * 5)
    }
}
