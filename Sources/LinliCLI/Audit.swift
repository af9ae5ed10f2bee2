import ArgumentParser
import Foundation
import Linli

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "For auditors: verify the store or an exported file, explain a figure, publish and check checkpoints.",
        discussion: "docs/AUDIT.md walks through each check and says what it proves and what it cannot.",
        subcommands: [Verify.self, Explain.self, CheckpointCommand.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Re-check the hash chain, rebuild every projection from position 1 and compare it with the stored one.",
            discussion: """
                Exit code 0 only when everything matches; 1 when anything differs. Nothing is written, to the store or \
                anywhere else: the rebuild is replayed in memory. With --json: one document \
                {"ok","events","head","mismatches":[...],"stateDigest",…}.

                --export FILE verifies an exported file instead, without any store: its chain, its readable fields \
                against its records, and the projections rebuilt from it (compare its stateDigest with the store's). \
                --checkpoint FILE (one published statement per line) also proves that the log still extends every \
                published checkpoint, and against a store that the figures replayed to each one are the published \
                ones (with --export, the hashes; linli import --checkpoint checks an export's figures too).

                Examples:
                  linli audit verify --json --store ./jiangshan.store
                  linli audit verify --export events.ndjson --json
                  linli audit verify --checkpoint notice-board.ndjson
                """)

        @OptionGroup var store: StoreOptions
        @OptionGroup var output: DocumentOptions
        @Option(help: "Verify this exported NDJSON file instead of the store.") var export: String?
        @Option(help: "A file of published checkpoint statements to check the store against.") var checkpoint: String?

        func run() throws {
            if let export { return try verifyExport(export) }
            let engine = try store.open(readOnly: true)
            let bar = ProgressBar(label: "verifying")
            let report = try Self.audit(engine, bar)
            bar.finish()
            var checks: [CheckpointCheck] = []
            if let checkpoint { checks = try engine.verify(checkpoints: try readCheckpointStatements(checkpoint)) }
            let ok = report.ok && checks.allSatisfy(\.ok)
            if output.json {
                var document = report.json.pairs.filter { $0.0 != "ok" }
                var mismatches = report.json["mismatches"].items
                for check in checks where !check.ok {
                    mismatches += check.problems.map { ["kind": "checkpoint", "position": .int(Int64(check.position)), "reason": .string($0)] }
                }
                document = document.map { $0.0 == "mismatches" ? ("mismatches", .array(mismatches)) : $0 }
                print(JSONValue.object([("ok", .bool(ok))] + document + (checkpoint == nil ? [] : [("checkpoints", .int(Int64(checks.count)))])).text)
            } else {
                print("events \(report.chain.events), head \(report.chain.head.position) \(report.chain.head.hash.hex)")
                print("chain: \(report.chain.ok ? "verified" : "\(report.chain.failures.count) failures")")
                for failure in report.chain.failures.prefix(20) { print("  \(failure)") }
                let tables = report.projections.storedDigests.count
                print(
                    "projections: \(report.projections.ok ? "all \(tables) databases equal a rebuild from position 1" : Self.differences(report.projections))"
                )
                for mismatch in report.projections.mismatches.prefix(20) {
                    let stored = mismatch.stored.map { AuditRendering.value($0).text } ?? "(absent)"
                    let rebuilt = mismatch.rebuilt.map { AuditRendering.value($0).text } ?? "(absent)"
                    print(
                        "  \(mismatch.projection)/\(mismatch.database) \(AuditRendering.key(mismatch.key)) (last written at position \(AuditRendering.position(mismatch.stored ?? mismatch.rebuilt ?? []))): stored \(stored), rebuilt \(rebuilt)"
                    )
                }
                for database in report.projections.unnamedDifferences { print("  \(database): \(AuditReport.unnamedReason)") }
                print("state digest: \(report.json["stateDigest"].plain)")
                for check in checks {
                    print(
                        "checkpoint at position \(check.position): \(check.ok ? "the log extends it and its figures replay" : check.problems.joined(separator: "; "))"
                    )
                }
            }
            if !ok { throw ExitError.rejected() }
        }

        /// What differs, in words: the keys named, and the databases that differ with none named.
        static func differences(_ report: ProjectionReport) -> String {
            let unnamed = report.unnamedDifferences.count
            let keys = "\(report.mismatches.count) \(report.mismatches.count == 1 ? "key differs" : "keys differ")"
            return unnamed == 0 ? keys : "\(keys); \(unnamed) \(unnamed == 1 ? "database differs" : "databases differ") with no key named"
        }

        static func audit(_ engine: Engine, _ bar: ProgressBar) throws -> AuditReport {
            do {
                // The chain and the rebuilds run side by side: the bar shows their sum.
                var parts: [String: (done: UInt64, total: UInt64)] = [:]
                return try engine.audit { phase, done, total in
                    parts[phase] = (done, total)
                    bar.update(parts.values.reduce(0) { $0 + $1.done }, parts.values.reduce(0) { $0 + $1.total })
                }
            } catch {
                throw ExitError.store("linli: audit failed: \(messageForPeople(error))")
            }
        }

        func verifyExport(_ file: String) throws {
            // Read in blocks as the replay takes them: the file is never held whole in memory.
            let lines = try LineStream(file)
            let bar = ProgressBar(label: "verifying export")
            let statements = try checkpoint.map(readCheckpointStatements) ?? []
            let report = try Engine.verifyExport(readingLines: lines.next, checkpoints: statements) { _ in
                bar.update(lines.bytesTaken, max(lines.bytesTaken, lines.bytesTotal))
            }
            bar.finish()
            if output.json {
                print(report.json.text)
            } else {
                print("events \(report.chain.events), head \(report.chain.head.position) \(report.chain.head.hash.hex)")
                print("chain: \(report.chain.ok ? "verified" : "\(report.chain.failures.count) failures")")
                for failure in (report.chain.failures + report.fieldMismatches).prefix(20) { print("  \(failure)") }
                if !statements.isEmpty {
                    print(
                        "checkpoints: "
                            + (report.checkpointProblems.isEmpty
                                ? "the file extends all \(statements.count)" : "\(report.checkpointProblems.count) not extended"))
                    for problem in report.checkpointProblems.prefix(20) { print("  \(problem)") }
                }
                print("projections rebuilt from the file: \(report.digests.count) databases")
                print("state digest: \(report.json["stateDigest"].plain)  (compare with `linli audit verify` on the store)")
            }
            if !report.ok { throw ExitError.rejected() }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "explain",
            abstract: "The events behind a figure: an account's balance, an issue's state and tallies, an elder's tier and adherence.",
            discussion: """
                TARGET is an account (resident:ID, issuance:COMMUNITY, store:COMMUNITY), issue:ID or elder:ID.

                Examples:
                  linli audit explain resident:r-js-88
                  linli audit explain issue:lift-1 --json
                  linli audit explain elder:r-hx-41 --as-of 2023-09-21T20:00:00+08:00
                """)
        @OptionGroup var store: StoreOptions
        @OptionGroup var output: FormatOptions
        @OptionGroup var asOf: AsOfOptions
        @Argument(help: "resident:ID, issuance:COMMUNITY, store:COMMUNITY, issue:ID or elder:ID.") var target: String

        func run() throws {
            let domain: ProjectionName = target.hasPrefix("issue:") ? .deliberation : target.hasPrefix("elder:") ? .elders : .ledger
            let engine = try asOf.engine(store, for: domain)
            if target.hasPrefix("issue:") {
                let id = String(target.dropFirst(6))
                let document = try printDocument(try engine.explain(issue: id), what: "issue", id: id)
                emitDocument(
                    output.format, document, summary: [("issue", id), ("state", document["state"].plain), ("priority", document["priority"].plain)],
                    header: ["position", "at", "recorded", "event", "actor", "detail"],
                    rows: document["timeline"].items.map {
                        [
                            $0["position"].plain, $0["at"].plain, $0["recordedAt"].plain, $0["type"].plain, $0["actor"].plain,
                            ($0["detail"]?["tally"]).map { "passed=\($0["passed"].plain) failed=\($0["failedCondition"].plain)" } ?? "",
                        ]
                    },
                    rightAligned: [0])
            } else if target.hasPrefix("elder:") {
                let id = String(target.dropFirst(6))
                let document = try printDocument(try engine.explain(elder: id, now: asOf.now), what: "elder", id: id)
                emitDocument(
                    output.format, document,
                    summary: [
                        ("elder", id), ("tier", document["tier"].plain), ("why", document["tierReason"].plain),
                        ("plan since", document["planSince"].plain),
                    ],
                    header: ["position", "at", "service", "mode", "provider"],
                    rows: document["deliveriesThisWeek"].items.map {
                        [$0["position"].plain, $0["at"].plain, $0["service"].plain, $0["mode"].plain, $0["provider"].plain]
                    },
                    rightAligned: [0])
            } else {
                let document = try engine.explain(account: target)
                emitDocument(
                    output.format, document,
                    summary: [
                        ("account", target), ("balance", document["balance"].plain), ("credited", document["credited"].plain),
                        ("debited", document["debited"].plain),
                        ("postings add up", document["sumEqualsBalance"] == .bool(true) ? "yes" : "NO"),
                    ], header: ["position", "at", "recorded", "actor", "event", "counter account", "amount", "rate", "balance"],
                    rows: document["postings"].items.map {
                        [
                            $0["position"].plain, $0["at"].plain, $0["recordedAt"].plain, $0["actor"].plain, $0["type"].plain,
                            $0["counterAccount"].plain, $0["amount"].plain, $0["pointsPerHour"].plain, $0["balance"].plain,
                        ]
                    },
                    rightAligned: [0, 6, 7, 8])
                if document["sumEqualsBalance"] != .bool(true) { throw ExitError.rejected() }
            }
        }
    }

    struct CheckpointCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Print a checkpoint statement to publish: position, head hash, time and each community's figures.",
            discussion: """
                One line of JSON. Publish it (the notice board, the bureau); keep every published line in a file and \
                later run `linli audit verify --checkpoint FILE` to prove the log still extends each of them.

                Example: linli audit checkpoint >> published-checkpoints.ndjson
                """)
        @OptionGroup var store: StoreOptions
        func run() throws {
            print(try store.open(readOnly: true).checkpoint().text)
        }
    }
}
