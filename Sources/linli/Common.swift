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

/// Options every subcommand shares: which store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store directory (default: $LINLI_STORE, else ./linli.store).")
    var store: String?

    /// The store path after the option, the environment and the default.
    var path: String {
        store ?? ProcessInfo.processInfo.environment["LINLI_STORE"] ?? FileManager.default.currentDirectoryPath + "/linli.store"
    }

    /// Opens the store, turning store problems into exit code 3 with a message that says what to do.
    func open(readOnly: Bool = false) throws -> Engine {
        do {
            var options = Engine.Options()
            options.readOnly = readOnly
            return try Engine.open(at: path, options: options)
        } catch let error as LogError {
            if case .storeMissing = error {
                throw ExitError.store("linli: no store at \(path). Create one with: linli init --admin ID --store \(path)")
            }
            throw ExitError.store("linli: \(error)")
        } catch {
            throw ExitError.store("linli: cannot open the store at \(path): \(error)")
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

    func resolvedId() -> String { id ?? "cli-" + UUID().uuidString.lowercased() }
}

/// Now, in China Standard Time.
func now() -> Timestamp {
    Timestamp(epochMilliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)), offsetMinutes: Timestamp.shanghaiOffsetMinutes)
}

/// Query output options.
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

/// Runs one command built from a subcommand's options, printing where it landed or why it was refused.
func record(_ name: String, _ store: StoreOptions, _ actor: ActorOptions, _ fields: [String: JSONValue]) throws {
    let engine = try store.open()
    let command: Command
    do {
        command = try Command(name, id: actor.resolvedId(), actor: try actor.resolvedActor(), at: try actor.resolvedAt(), fields)
    } catch let rejection as Rejection {
        throw ExitError.rejected("linli: \(rejection.reason): \(rejection.message)")
    }
    do {
        switch try engine.execute(command) {
        case let .applied(first, last): print("\(name) \(command.id): recorded at position \(first == last ? "\(first)" : "\(first)–\(last)")")
        case let .duplicate(first, _): print("\(name) \(command.id): already recorded at position \(first)")
        default: break
        }
    } catch let rejection as Rejection {
        throw ExitError.rejected("linli: \(rejection.reason): \(rejection.message)")
    }
}
