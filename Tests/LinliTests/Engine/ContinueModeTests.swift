import Foundation
@testable import Linli
import Testing

@Suite("Batches in continue mode")
struct ContinueModeTests {
    @Test("a file longer than one chunk: every line reported in order, rejections by their line number across chunks")
    func chunks() throws {
        let w = try World()
        try w.setUpCommunity()
        let before = try w.engine.log.head.position
        let total = Engine.continueChunkLines * 2 + 500
        var lines: [[UInt8]] = []
        var expectedRejected: [Int] = []
        for n in 1...total {
            if n % 3_001 == 0 {
                expectedRejected.append(n)
                lines.append(
                    Array(
                        w.line(
                            "hours.log", actor: "gw-1",
                            [("log", .string("bad-\(n)")), ("volunteer", "r-1"), ("minutes", 0), ("activity", "巡逻"), ("category", "patrol")]
                        ).utf8))
            } else if n % 4_999 == 0 {
                lines.append([])
            } else {
                lines.append(
                    Array(
                        w.line(
                            "hours.log", actor: "gw-1",
                            [("log", .string("l-\(n)")), ("volunteer", "r-1"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")]
                        ).utf8))
            }
        }
        var calls: [UInt64] = []
        let report = try w.engine.apply(lines: lines, mode: .continueOnRejection) { done, all in
            #expect(all == UInt64(total))
            calls.append(done)
        }
        #expect(calls == [UInt64(Engine.continueChunkLines), UInt64(2 * Engine.continueChunkLines), UInt64(total)])
        #expect(report.outcomes.count == total)
        #expect(report.rejections.map(\.line) == expectedRejected)
        let skipped = (1...total).filter { $0 % 4_999 == 0 && $0 % 3_001 != 0 }.count
        #expect(report.applied == total - expectedRejected.count - skipped)
        #expect(report.eventsAppended == UInt64(report.applied))
        #expect(report.head.position == before + report.eventsAppended)
        #expect(try w.engine.log.head == report.head)
        // An atomic batch of the same lines writes nothing.
        let atomic = try w.engine.apply(
            lines: lines.map {
                Array(
                    String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\"l-", with: "\"m-").replacingOccurrences(of: "\"setup-", with: "\"again-")
                        .utf8)
            })
        #expect(!atomic.committed && atomic.eventsAppended == 0 && atomic.rejections.map(\.line) == expectedRejected)
    }

    @Test("a batch parsed on another thread while it is applied gives, line for line, what applying each line alone gives")
    func pipelinedParse() throws {
        // Two stores with the same set-up; one takes the lines as one batch (parsed while applied), the
        // other one line at a time (parsed inline).
        let batched = try World(), single = try World()
        try batched.setUpCommunity()
        try single.setUpCommunity()
        var random = SplitMix64(state: 31)
        var lines: [String] = []
        for n in 1...700 {
            switch random.next() % 10 {
            case 0: lines.append("")
            case 1: lines.append("{\"command\":\"hours.log\",\"id\":")
            case 2:
                lines.append(
                    batched.line(
                        "hours.log", actor: "gw-1", id: "p-\(n)", [("log", .string("l-\(n)")), ("volunteer", "r-1"), ("minutes", 30), ("colour", "red")]))
            case 3: lines.append(batched.line("hours.verify", actor: "sw-1", id: "p-\(n)", [("log", .string("l-\(n - 1)"))]))
            default:
                lines.append(
                    batched.line(
                        "hours.log", actor: "gw-1", id: "p-\(n)",
                        [
                            ("log", .string("l-\(n)")), ("volunteer", "r-1"), ("minutes", .int(Int64(n % 600 + 1))),
                            ("activity", "巡逻"), ("category", "patrol"),
                        ]))
            }
        }
        #expect(lines.count >= Engine.pipelinedParseLinesMin)
        let report = try batched.engine.apply(lines: lines.map { Array($0.utf8) }, mode: .continueOnRejection)
        var expected: [CommandOutcome] = []
        for line in lines { expected += try single.engine.apply(lines: [Array(line.utf8)], mode: .continueOnRejection).outcomes }
        #expect(report.outcomes == expected)
        #expect(report.rejected > 100 && report.applied > 300, "the mix must hold both")
        #expect(try batched.engine.log.head.position == (try single.engine.log.head.position))
        #expect(try batched.engine.balance(of: "resident:r-1") == (try single.engine.balance(of: "resident:r-1")))
    }

    @Test("lines taken as they are needed: an atomic batch over three chunks is one transaction, also when the map grows under it, and takes each line once")
    func streamingAtomic() throws {
        let dir = TemporaryDirectory()
        var options = Engine.Options()
        options.clock = fixedClock
        options.initialMapSizeBytes = 1 << 20  // small, so that the batch's transaction runs again after the map grows
        let engine = try Engine.create(at: dir.sub("store"), admin: "admin", at: Timestamp(iso8601: "2024-01-01T08:00:00+08:00"), options: options)
        let w = try World()
        let total = Engine.continueChunkLines * 2 + 700
        let setup = [
            w.line("community.register", actor: "admin", [("community", "jiangshan"), ("name", "市中心社区"), ("district", "虎山街道")]),
            w.line("role.grant", actor: "admin", [("subject", "gw-1"), ("role", "gridWorker"), ("community", "jiangshan")]),
            w.line(
                "resident.register", actor: "gw-1",
                [("resident", "r-1"), ("community", "jiangshan"), ("household", "h-1"), ("name", "王秀英"), ("birthYear", 1950)]),
        ]
        var taken = 0
        let lines = (0..<(total + setup.count)).lazy.map { n -> [UInt8] in
            taken += 1
            if n < setup.count { return Array(setup[n].utf8) }
            return Array(
                w.line(
                    "hours.log", actor: "gw-1", [("log", .string("l-\(n)")), ("volunteer", "r-1"), ("minutes", 30), ("activity", "巡逻"), ("category", "patrol")]
                ).utf8)
        }
        var progress: [UInt64] = []
        let report = try engine.apply(streaming: lines, mode: .atomic) { progress.append($0) }
        #expect(taken == total + setup.count, "each line is taken once, re-runs included")
        #expect(report.committed && report.applied == total + setup.count && report.outcomes.count == total + setup.count)
        #expect(try engine.log.head.position == 1 + UInt64(total + setup.count))
        #expect(progress.last == UInt64(total + setup.count) && progress.count >= 3)
        #expect(try engine.audit().ok)
    }
}
