import Foundation
import LinliStore

/// What `linli audit verify` reports: the chain re-checked over every event, and every projection
/// rebuilt from position 1 and compared with the stored one.
public struct AuditReport: Sendable {
    /// The chain check.
    public var chain: ChainReport
    /// The projection comparison.
    public var projections: ProjectionReport
    /// True when both hold.
    public var ok: Bool { chain.ok && projections.ok }

    /// The report as one JSON document: `{"ok","events","head","mismatches":[...]}` (DOMAIN.md section 4).
    /// A chain failure is `{"kind":"chain","position","reason"}`; a projection mismatch is
    /// `{"kind":"projection","projection","database","key","stored","rebuilt","position"}`, where
    /// `position` is the last event that wrote the key (from the stored value, else the rebuilt one).
    public var json: JSONValue {
        var mismatches: [JSONValue] = chain.failures.map { ["kind": "chain", "position": .int(Int64($0.position)), "reason": .string($0.reason)] }
        if let failure = projections.failure { mismatches.append(["kind": "rebuild", "reason": .string(failure)]) }
        for mismatch in projections.mismatches {
            mismatches.append([
                "kind": "projection", "projection": .string(mismatch.projection), "database": .string(mismatch.database),
                "key": .string(AuditRendering.key(mismatch.key)),
                "stored": mismatch.stored.map(AuditRendering.value) ?? .null,
                "rebuilt": mismatch.rebuilt.map(AuditRendering.value) ?? .null,
                "position": .int(Int64(AuditRendering.position(mismatch.stored ?? mismatch.rebuilt ?? []))),
            ])
        }
        for database in projections.unnamedDifferences {
            let parts = database.split(separator: "/", maxSplits: 1).map(String.init)
            mismatches.append([
                "kind": "projection", "projection": .string(parts[0]), "database": .string(parts.count > 1 ? parts[1] : ""),
                "reason": .string(AuditReport.unnamedReason),
            ])
        }
        return [
            "ok": .bool(ok), "events": .int(Int64(chain.events)), "head": .string(chain.head.hash.hex),
            "headPosition": .int(Int64(chain.head.position)), "stateDigest": .string(Self.stateDigest(projections.rebuiltDigests).hex),
            "mismatches": .array(mismatches),
        ]
    }

    /// What a database whose rows differ but could not be named says.
    public static let unnamedReason = "its rows differ from a rebuild from position 1; the rows could not be kept in memory to be named"

    /// One hash over every rebuilt projection database (SHA-256 of `name=digest` lines in name order): the
    /// same log gives the same state digest wherever it is replayed, from the store or from an export.
    public static func stateDigest(_ digests: [String: Hash]) -> Hash {
        Hash.sha256(digests.keys.sorted().map { "\($0)=\(digests[$0]!.hex)\n" }.joined())
    }
}

/// How stored keys and values are shown to a person.
public enum AuditRendering {
    /// A key as text: its parts (separated by NUL bytes in storage) joined by "/", an 8-byte part in hex.
    public static func key(_ bytes: [UInt8]) -> String {
        bytes.split(separator: 0, omittingEmptySubsequences: false).map { part -> String in
            if let text = String(validating: part, as: UTF8.self), !text.utf8.contains(where: { $0 < 0x20 }) { return text }
            return "0x" + hexString(part)
        }.joined(separator: "/")
    }

    /// A projection value (position ‖ CBOR) as JSON; hex when it does not decode.
    public static func value(_ bytes: [UInt8]) -> JSONValue {
        guard bytes.count > 8, let decoded = try? CBOR.decode(Array(bytes[8...])) else { return .string(hexString(bytes)) }
        return decoded
    }

    /// The position of the last event that wrote a projection value.
    public static func position(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { bigEndianValue($0) } ?? 0
    }
}

extension Engine {
    /// Re-checks the hash chain over every event and replays every projection from position 1 in memory,
    /// comparing each with the stored one (nothing is written anywhere).
    ///
    /// The chain pass is one more piece of the work the replays share among the cores: they read the log
    /// independently, and on a machine with fewer cores than projections the largest replay otherwise ends
    /// alone while the other cores wait. `progress(phase, done, total)` is called for "chain" and for
    /// "projections", one call at a time, the two phases interleaved.
    public func audit(progress: ((String, UInt64, UInt64) -> Void)? = nil) throws -> AuditReport {
        let chain = ChainBeside(log: log, progress: progress)
        let rebuilt = Result { try log.verifyProjections(progress: { chain.report("projections", $0, $1) }, beside: { chain.run() }) }
        // Run here if the replays could not begin; before anything is thrown, as the chain pass reads the
        // store this engine may close next.
        chain.run()
        let projections: ProjectionReport
        do {
            projections = try rebuilt.get()
        } catch let error as LogError {
            // A log that cannot be replayed (a missing or undecodable event) is a finding, not a crash.
            guard case .corrupt = error else { throw error }
            projections = .failed("\(error)")
        } catch let error as RecordError {
            projections = .failed("\(error)")
        }
        return AuditReport(chain: try chain.result!.get(), projections: projections)
    }

    /// The chain pass, run once wherever it is first asked for, and the progress both phases report, one
    /// call at a time.
    private final class ChainBeside: @unchecked Sendable {
        private let lock = NSLock()
        private let log: EventLog
        private let progress: ((String, UInt64, UInt64) -> Void)?
        /// Set by the first ``run()``, under `running`.
        private(set) var result: Result<ChainReport, any Error>?
        private let running = NSLock()

        init(log: EventLog, progress: ((String, UInt64, UInt64) -> Void)?) {
            self.log = log
            self.progress = progress
        }

        /// Runs the chain pass, the first time only; a second call waits for the first to end.
        func run() {
            running.withLock {
                guard result == nil else { return }
                result = Result { try log.verifyChain { self.report("chain", $0, $1) } }
            }
        }

        func report(_ phase: String, _ done: UInt64, _ total: UInt64) {
            guard let progress else { return }
            lock.withLock { progress(phase, done, total) }
        }
    }
}
