import ArgumentParser
import Foundation
import Linli

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Verify the store: the hash chain and every projection.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-check the hash chain, rebuild every projection from position 1 and compare it with the stored one.",
            discussion: """
            Exit code 0 only when everything matches; 1 when anything differs. The store is not modified: the \
            rebuild goes into a temporary LMDB environment.

            Example: linli audit verify --json --store ./jiangshan.store
            """)

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print one JSON document: {\"ok\",\"events\",\"head\",\"mismatches\":[...]}.") var json = false

        func run() throws {
            let engine = try store.open(readOnly: true)
            let report: AuditReport
            do {
                report = try engine.audit()
            } catch {
                throw ExitError.store("linli: audit failed: \(error)")
            }
            if json {
                print(report.json.text)
            } else {
                print("events \(report.chain.events), head \(report.chain.head.position) \(report.chain.head.hash.hex)")
                print("chain: \(report.chain.ok ? "verified" : "\(report.chain.failures.count) failures")")
                for failure in report.chain.failures.prefix(20) { print("  \(failure)") }
                let tables = report.projections.storedDigests.count
                print("projections: \(report.projections.ok ? "all \(tables) databases equal a rebuild from position 1" : "\(report.projections.mismatches.count) keys differ")")
                for mismatch in report.projections.mismatches.prefix(20) {
                    let stored = mismatch.stored.map { AuditRendering.value($0).text } ?? "(absent)"
                    let rebuilt = mismatch.rebuilt.map { AuditRendering.value($0).text } ?? "(absent)"
                    print("  \(mismatch.projection)/\(mismatch.database) \(AuditRendering.key(mismatch.key)) (last written at position \(AuditRendering.position(mismatch.stored ?? mismatch.rebuilt ?? []))): stored \(stored), rebuilt \(rebuilt)")
                }
            }
            if !report.ok { throw ExitError.rejected() }
        }
    }
}
