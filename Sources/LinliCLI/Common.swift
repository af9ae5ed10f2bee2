import ArgumentParser
import Foundation
import Linli

/// An error that ends the program with one of the documented exit codes.
struct ExitError: Error {
    /// 1: rejected command or invalid input; 3: store error.
    let code: Int32
    let message: String?

    static func rejected(_ message: String? = nil) -> ExitError { ExitError(code: 1, message: message) }
    static func store(_ message: String) -> ExitError { ExitError(code: 3, message: message) }
}

/// An error as a person reads it: what happened and what to do, never a Swift type's name or an LMDB call.
func messageForPeople(_ error: any Error) -> String {
    switch error {
    case let error as ExitError: return error.message ?? "failed"
    case let error as LMDBError: return error.forPeople
    case let error as LogError: return error.description
    case let rejection as Rejection: return "\(rejection.reason.rawValue): \(rejection.message)"
    case let error as CustomStringConvertible: return error.description
    default: return "an unexpected error (\(error)); please report it with the command that gave it"
    }
}

/// Options every subcommand shares: which store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store directory (default: $LINLI_STORE, else ./linli.store).")
    var store: String?

    /// The store path after the option, the environment and the default.
    var path: String {
        store ?? ProcessInfo.processInfo.environment["LINLI_STORE"] ?? FileManager.default.currentDirectoryPath + "/linli.store"
    }

    /// Opens the store to record commands: a replica takes none (exit 3, naming the store it follows).
    func openForCommands() throws -> Engine {
        let engine = try open()
        if let source = engine.log.replicaSource {
            throw ExitError.store("linli: \(LogError.replica(path: path, source: source))")
        }
        return engine
    }

    /// What to do about a store whose `linli init` was killed before its first event.
    static func interruptedInitMessage(_ path: String) -> String {
        "linli: the store at \(path) holds no events: its `linli init` was interrupted. Run `linli init --admin ID --store \(path)` again."
    }

    /// Whether the store at `path` is one whose `linli init` was killed before its first event: its log,
    /// opened read-only and without projections, is empty (its projections may not even exist yet).
    static func isInterruptedInit(_ path: String) -> Bool {
        var options = EventLog.Options()
        options.readOnly = true
        options.projections = []
        return (try? EventLog.open(at: path, options: options).head.position) == 0
    }

    /// Opens the store, turning store problems into exit code 3 with a message that says what to do.
    func open(readOnly: Bool = false) throws -> Engine {
        do {
            var options = Engine.Options()
            options.readOnly = readOnly
            let bar = ProgressBar(label: "upgrading the store's projections (once)")
            options.upgradeProgress = { done, total in bar.update(done, total) }
            defer { bar.finish() }
            do {
                let engine = try Engine.open(at: path, options: options)
                guard try engine.log.head.position > 0 else {
                    throw ExitError.store(Self.interruptedInitMessage(path))
                }
                return engine
            } catch LogError.projectionsNeedUpgrade where readOnly {
                // A store of an older version: upgraded once (its projections rebuilt into this layout),
                // then opened as asked. Only an upgrade: a checkpoint that does not match its log is
                // reported, never repaired on the way to a read.
                options.readOnly = false
                _ = try Engine.open(at: path, options: options)
                options.readOnly = true
                return try Engine.open(at: path, options: options)
            }
        } catch let error as LogError {
            if case .storeMissing = error {
                throw ExitError.store("linli: no store at \(path). Create one with: linli init --admin ID --store \(path)")
            }
            if Self.isInterruptedInit(path) {
                throw ExitError.store(Self.interruptedInitMessage(path))
            }
            throw ExitError.store("linli: \(messageForPeople(error))")
        } catch let error as ExitError {
            throw error
        } catch {
            throw ExitError.store("linli: cannot open the store at \(path): \(messageForPeople(error))")
        }
    }
}

/// Options of the commands that record an action: who, when, and the command id.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: "The actor (default: $LINLI_ACTOR).")
    var actor: String?

    @Option(name: .long, help: "When it happened, ISO 8601 with offset (default: now, Asia/Shanghai).")
    var at: String?

    @Option(name: .long, help: "The command id (default: generated).")
    var id: String?

    func resolvedActor() throws -> String {
        guard let actor = actor ?? ProcessInfo.processInfo.environment["LINLI_ACTOR"], !actor.isEmpty else {
            throw ValidationError("name the actor with --as ID or LINLI_ACTOR")
        }
        return actor
    }

    func resolvedAt() throws -> Timestamp {
        guard let at else { return now() }
        guard let parsed = Timestamp(iso8601: at) else { throw ValidationError("--at \(at) is not ISO 8601 with an offset, e.g. 2024-03-01T09:30:00+08:00") }
        return parsed
    }

    @Flag(name: .customLong("print-line"), help: "Print the command as its NDJSON line (for linli apply) instead of recording it; no store is opened.")
    var printLine = false

    func resolvedId() -> String { id ?? "cli-" + UUID().uuidString.lowercased() }
}

/// A subcommand that records one command of the contract (DOMAIN.md): its name, and the fields its options
/// make. `run` is the same for all of them: build the command, check it against its spec, record it.
protocol RecordingCommand: ParsableCommand {
    /// The contract's command name, such as `resident.tag`.
    static var contractCommand: String { get }
    /// Which store.
    var store: StoreOptions { get }
    /// Who, when, which command id.
    var actor: ActorOptions { get }
    /// The command's fields, from the options; a usage problem is a `ValidationError` (exit 2).
    func fields() throws -> [String: JSONValue]
}

extension RecordingCommand {
    func run() throws { try record(Self.contractCommand, store, actor, try fields()) }
}

/// Now, in China Standard Time.
func now() -> Timestamp {
    Timestamp(epochMilliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)), offsetMinutes: Timestamp.shanghaiOffsetMinutes)
}

/// Output options of the commands that print one report, for people or as one JSON document (audit
/// verify, status, backup, import); each command's discussion gives its document's fields.
struct DocumentOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document.")
    var json = false
}

/// Query output options: a table for people, one JSON document, or CSV.
struct FormatOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document.")
    var json = false

    @Flag(name: .long, help: "Print CSV.")
    var csv = false

    var format: OutputFormat { json ? .json : (csv ? .csv : .table) }

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
    }
}

/// Writes the projections' checkpoint before a command that wrote exits (the events are safe already; this
/// spares the next process replaying them), turning a failure into a store error.
func checkpoint(_ engine: Engine) throws {
    do {
        try engine.log.checkpoint()
    } catch {
        throw ExitError.store("linli: the events are recorded, but the projections' checkpoint could not be written: \(messageForPeople(error))")
    }
}

/// Runs one command built from a subcommand's options, printing where it landed or why it was refused.
func record(_ name: String, _ store: StoreOptions, _ actor: ActorOptions, _ fields: [String: JSONValue]) throws {
    let command: Command
    do {
        command = try Command(name, id: actor.resolvedId(), actor: try actor.resolvedActor(), at: try actor.resolvedAt(), fields)
    } catch let rejection as Rejection {
        throw ExitError.rejected("linli: \(rejection.reason): \(rejection.message)")
    }
    if actor.printLine { return print(command.json.text) }
    let engine = try store.openForCommands()
    do {
        let outcome = try engine.execute(command)
        // The process ends here: fold what it holds in memory into the store, so that the next one replays nothing.
        try checkpoint(engine)
        switch outcome {
        case let .applied(first, last): print("\(name) \(command.id): recorded at position \(first == last ? "\(first)" : "\(first)–\(last)")")
        case let .duplicate(first, _): print("\(name) \(command.id): already recorded at position \(first)")
        default: break
        }
    } catch let rejection as Rejection {
        throw ExitError.rejected("linli: \(rejection.reason): \(rejection.message)")
    } catch let error as LogError {
        throw ExitError.store("linli: \(messageForPeople(error))")
    }
}

/// `--as-of TIME` and `--at-position N`: answer a query as the projections stood then, by replaying that
/// part of the log into memory (the store is only read, and nothing is written anywhere).
struct AsOfOptions: ParsableArguments {
    @Option(name: .customLong("as-of"), help: "Answer as of this occurred time (ISO 8601 with offset).")
    var asOf: String?

    @Option(name: .customLong("at-position"), help: "Answer as of this log position.")
    var atPosition: UInt64?

    /// The as-of time, which also stands for "now" in ages and this week's adherence.
    var now: Timestamp? { asOf.flatMap { Timestamp(iso8601: $0) } }

    func validate() throws {
        if let asOf, Timestamp(iso8601: asOf) == nil { throw ValidationError("--as-of \(asOf) is not ISO 8601 with an offset, e.g. 2024-03-31T23:59:59+08:00") }
    }

    /// The live engine, or a time-travel view of it that replays what the queries of `domain` read; with
    /// `appendOnly: .dropped`, for a query that reads no statement, timeline or history
    /// (``Engine/asOf(_:position:projections:appendOnly:progress:)``).
    func engine(_ store: StoreOptions, for domain: ProjectionName, appendOnly: AppendOnlyRows = .held, rowsKept: [String: RowKeyFilter] = [:]) throws
        -> Engine
    {
        let engine = try store.open(readOnly: true)
        guard asOf != nil || atPosition != nil else { return engine }
        let bar = ProgressBar(label: "replaying")
        let view = try engine.asOf(
            now, position: atPosition, projections: ProjectionName.read(byQueriesOf: domain), appendOnly: appendOnly, rowsKept: rowsKept,
            progress: bar.update)
        bar.finish()
        if let scope = view.historicalScope, !scope.skipped.isEmpty {
            printError(
                "linli: as of \(asOf ?? "position \(scope.position)"): \(scope.replayed) events replayed, \(scope.skipped.count) left out (occurred later, or depending on events that did)"
            )
        }
        return view
    }
}

/// A progress bar with rate and ETA on standard error, drawn only when standard error is a terminal.
/// Called from one thread at a time (the audit's side-by-side phases report under a lock of their own).
final class ProgressBar: @unchecked Sendable {
    let label: String
    let enabled = isatty(STDERR_FILENO) == 1
    let start = Date()
    var lastDraw = Date.distantPast

    init(label: String) { self.label = label }

    func update(_ done: UInt64, _ total: UInt64) {
        guard enabled, total > 0, Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = Date()
        let elapsed = max(Date().timeIntervalSince(start), 0.001)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(total - min(done, total)) / rate : 0
        let filled = Int(30 * Double(done) / Double(total))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: 30 - filled)
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(done * 100 / total)% \(Int(rate))/s ETA \(Int(eta))s ".utf8))
    }

    func finish() {
        if enabled && lastDraw != .distantPast { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// Prints one entity: its JSON document, or for people a summary block and a table (CSV: the table only).
func emitDocument(_ format: OutputFormat, _ document: JSONValue, summary: [(String, String)], header: [String], rows: [[String]], rightAligned: Set<Int> = []) {
    switch format {
    case .json: print(document.text)
    case .csv: print(renderCSV(header, rows), terminator: "")
    case .table:
        let width = summary.map { displayWidth($0.0) }.max() ?? 0
        for (key, value) in summary { print(key + String(repeating: " ", count: width - displayWidth(key)) + "  " + DisplayText.terminalSafe(value)) }
        print("")
        print(renderTable(header, rows, rightAligned: rightAligned), terminator: "")
    }
}

extension Optional where Wrapped == JSONValue {
    /// The value as a person reads it in a table: text unquoted, null empty, anything else as JSON.
    var plain: String {
        switch self {
        case .none, .some(.null): return ""
        case .some(.string(let text)): return text
        case .some(let value): return value.text
        }
    }

    /// The items of an array value ([] otherwise).
    var items: [JSONValue] {
        if case .some(.array(let items)) = self { return items }
        return []
    }
}

extension JSONValue {
    /// The value as a person reads it in a table.
    var plain: String { Optional(self).plain }
}

// The contract's vocabularies as option values: a value outside them is a usage error (exit 2) that lists
// them, and shell completion offers them.
extension Role: ExpressibleByArgument {}
extension VotingRule: ExpressibleByArgument {}
extension Channel: ExpressibleByArgument {}
extension MeetingFormat: ExpressibleByArgument {}
extension AttendeeRole: ExpressibleByArgument {}
extension Stance: ExpressibleByArgument {}
extension VoteChoice: ExpressibleByArgument {}
extension ElderService: ExpressibleByArgument {}
extension DeliveryMode: ExpressibleByArgument {}
extension StationKind: ExpressibleByArgument {}
extension FundSource: ExpressibleByArgument {}
extension DisputeCategory: ExpressibleByArgument {}
extension ResidentTag: ExpressibleByArgument {}
extension OrganizationKind: ExpressibleByArgument {}
extension TeamKind: ExpressibleByArgument {}
extension ProjectionName: ExpressibleByArgument {}
