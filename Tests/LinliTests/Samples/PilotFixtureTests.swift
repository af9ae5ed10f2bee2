import Foundation
@testable import Linli
import Testing

/// The committed sample of the three pilots: byte for byte what the generator writes, applied to a fresh
/// store it is refused exactly on its marked mistakes and reproduces the checked-in headline figures.
@Suite("The pilots' sample fixture")
struct PilotFixtureTests {
    /// The repository's Fixtures/sample, found from this source file.
    static let sampleDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/sample")

    @Test("the generator is deterministic and writes the committed files")
    func deterministic() throws {
        var generated: [String: String] = [:]
        let expected = PilotFixtures(scale: .sample).generate { pilot, line in generated[pilot, default: ""] += line + "\n" }
        for pilot in PilotFixtures.pilots {
            let committed = try String(contentsOf: Self.sampleDirectory.appendingPathComponent("\(pilot).ndjson"), encoding: .utf8)
            #expect(
                committed == generated[pilot],
                "Fixtures/sample/\(pilot).ndjson differs from the generator's output; regenerate with linli-fixtures --out Fixtures/sample")
        }
        let committedFigures = try String(contentsOf: Self.sampleDirectory.appendingPathComponent("expected.json"), encoding: .utf8)
        #expect(committedFigures == expected.json.text + "\n")
        // Another seed gives other data.
        var other = ""
        _ = PilotFixtures(seed: 7, scale: .sample).generate { pilot, line in if pilot == "jiangshan" { other += line + "\n" } }
        #expect(other != generated["jiangshan"])
    }

    @Test("applying the sample refuses exactly the marked mistakes and reproduces the expected figures")
    func figures() throws {
        let w = try World(admin: PilotFixtures.admin)
        let figures = try JSONParser.parse(Array(try Data(contentsOf: Self.sampleDirectory.appendingPathComponent("expected.json"))))
        var refused: [JSONValue] = []
        for pilot in PilotFixtures.pilots {
            let text = try String(contentsOf: Self.sampleDirectory.appendingPathComponent("\(pilot).ndjson"), encoding: .utf8)
            let lines = text.split(separator: "\n").map { Array($0.utf8) }
            let report = try w.engine.apply(lines: lines, mode: .continueOnRejection)
            refused += report.rejections.map { ["pilot": .string(pilot), "line": .int(Int64($0.line)), "reason": .string($0.rejection.reason.rawValue)] }
            // Every refused line is a marked mistake.
            for (line, _) in report.rejections {
                #expect(
                    String(decoding: lines[line - 1], as: UTF8.self).contains(#""id":"mistake-"#)
                        || String(decoding: lines[line - 1], as: UTF8.self).contains(#""id":"jiangshan-1""#))
            }
        }
        #expect(JSONValue.array(refused) == figures["rejections"])
        let balances = try w.engine.balances()
        #expect(-balances.filter { $0.account.hasPrefix("issuance:") }.reduce(0) { $0 + $1.balance } == figures["pointsIssued"]?.intValue)
        #expect(balances.filter { $0.account.hasPrefix("store:") }.reduce(0) { $0 + $1.balance } == figures["pointsRedeemed"]?.intValue)
        #expect(balances.filter { $0.account.hasPrefix("resident:") }.reduce(0) { $0 + $1.balance } == figures["pointsOutstanding"]?.intValue)
        let issues = Dictionary(grouping: try w.engine.issues(), by: \.state).mapValues { JSONValue.int(Int64($0.count)) }
        #expect(JSONValue.object(issues.keys.sorted().map { ($0, issues[$0]!) }) == figures["issuesByState"])
        let tiers = Dictionary(grouping: try w.engine.elders(), by: { $0.tier.map { String($0) } ?? "none" }).mapValues { JSONValue.int(Int64($0.count)) }
        #expect(JSONValue.object(tiers.keys.sorted().map { ($0, tiers[$0]!) }) == figures["eldersByTier"])
        let disputes = Dictionary(grouping: try w.engine.disputes(), by: \.state).mapValues { JSONValue.int(Int64($0.count)) }
        #expect(JSONValue.object(disputes.keys.sorted().map { ($0, disputes[$0]!) }) == figures["disputesByState"])
        #expect(try w.engine.audit().ok)
    }
}
