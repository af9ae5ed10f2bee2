import ArgumentParser
import Foundation
import Linli

/// `linli`: record neighbourhood actions and query what they add up to.
struct LinliCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linli",
        abstract: "Linli (邻里): record neighbourhood governance as events, and query them.",
        discussion: """
            Every action is an append-only, hash-chained event in an LMDB store (--store DIR, else $LINLI_STORE, \
            else ./linli.store).

            Exit codes: 0 success; 1 a command was rejected or the input is invalid; 2 usage error; \
            3 store error (missing, locked, corrupt).

            Example:
              linli init --admin admin-1 --store ./js.store
              linli apply commands.ndjson --store ./js.store
              linli balance resident:r-12 --store ./js.store --json
            """,
        version: LinliVersion.string,
        subcommands: [
            Init.self, Apply.self, Export.self, Audit.self, Rebuild.self, Demo.self,
            // Operations: docs/OPERATIONS.md.
            Status.self, Backup.self, Import.self,
            // Queries of DOMAIN.md section 4.
            Balance.self, Statement.self, Stock.self, Wishes.self, Fund.self, Issues.self, IssueCommand.self,
            Elders.self, ElderCommand.self, Disputes.self, DisputeCommand.self, Station.self,
            // One subcommand family per command family, so that daily actions need no JSON.
            Community.self, Resident.self, Organization.self, Team.self, Unit.self, RoleCommand.self,
            Hours.self, Points.self, Gift.self, Wish.self, Meeting.self, Vote.self, Outcome.self,
        ]
    )
}

@main
enum Main {
    static func main() {
        do {
            var command = try LinliCLI.parseAsRoot()
            try command.run()
        } catch let error as ExitError {
            if let message = error.message { printError(message) }
            exit(error.code)
        } catch let error where error is LMDBError || error is LogError {
            // A store error no subcommand turned into its own message: still said for people, exit 3.
            printError("linli: \(messageForPeople(error))")
            exit(3)
        } catch {
            let code = LinliCLI.exitCode(for: error)
            if code == .success { LinliCLI.exit(withError: error) }
            printError(LinliCLI.fullMessage(for: error))
            // Usage errors exit 2, as documented (ArgumentParser's own default is 64).
            exit(2)
        }
    }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a store whose first event makes ADMIN an administrator of every community.",
        discussion: "Example: linli init --admin admin-1 --store ./jiangshan.store")

    @OptionGroup var store: StoreOptions
    @Option(help: "The first administrator's id.") var admin: String

    func run() throws {
        do {
            let engine = try Engine.create(at: store.path, admin: admin)
            print("created \(store.path): position \(try engine.log.head.position), admin \(admin)")
        } catch let rejection as Rejection {
            throw ExitError.rejected("linli: \(rejection.message)")
        } catch {
            throw ExitError.store("linli: \(messageForPeople(error))")
        }
    }
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply NDJSON commands from a file, or from standard input with '-'.",
        discussion: """
            Atomic by default: if any line is rejected, every rejected line is reported on standard error as \
            LINE: reasonCode: message, nothing is written and the exit code is 1. With --continue the valid lines \
            are committed and the rejected ones reported (exit 1 if any). CRLF line endings and empty lines are fine.

            Example: linli apply march.ndjson --continue
            """)

    @OptionGroup var store: StoreOptions
    @Argument(help: "An NDJSON file, or - for standard input.") var file: String
    @Flag(name: .customLong("continue"), help: "Commit the valid lines even if others are rejected.") var continueOnRejection = false

    func run() throws {
        // Read in blocks as the engine takes them: with --continue 5,000 lines at a time, never held whole.
        let lines = try LineStream(file, lineBytesMax: JSONParser.lineBytesMax)
        let engine = try store.openForCommands()
        let report: BatchReport
        do {
            let bar = ProgressBar(label: "applying")
            report = try engine.apply(readingLines: lines.next, mode: continueOnRejection ? .continueOnRejection : .atomic) { done in
                bar.update(done, max(done, lines.linesExpected))
            }
            bar.finish()
            if report.committed { try engine.log.checkpoint() }
        } catch let unread as ExitError {
            throw ExitError(
                code: unread.code,
                message: (unread.message ?? "")
                    + (continueOnRejection
                        ? ". The chunks committed before it stay; applying the whole input again is safe: commands applied already are duplicates, no-ops"
                        : ". Nothing of this batch was written"))
        } catch {
            throw ExitError.store("linli: \(messageForPeople(error))")
        }
        for (line, rejection) in report.rejections {
            printError("\(line): \(rejection.reason.rawValue): \(rejection.message)")
        }
        if report.committed {
            print("applied \(report.applied), rejected \(report.rejected), events appended \(report.eventsAppended), head position \(report.head.position)")
        } else {
            printError(
                "nothing written: \(report.rejected) of \(report.outcomes.lazy.filter { $0 != .skipped }.count) lines rejected (use --continue to commit the valid lines)"
            )
        }
        if report.rejected > 0 { throw ExitError.rejected() }
    }
}

struct Rebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild projections from position 1 into fresh databases and swap them in atomically.",
        discussion: """
            Writers may go on meanwhile; readers see the old projections until the swap. Needed only after a         projection's code changed (opening the store does it by itself when a projection's version changes).

            Example: linli rebuild --projection ledger --store ./jiangshan.store
            """)
    @OptionGroup var store: StoreOptions
    @Option(name: .customLong("projection"), help: "Only this projection (repeat; default all).")
    var projections: [ProjectionName] = []

    func run() throws {
        let engine = try store.open()
        let bar = ProgressBar(label: "rebuilding")
        do {
            try engine.log.rebuildProjections(named: projections.isEmpty ? nil : projections.map(\.rawValue), progress: bar.update)
        } catch {
            throw ExitError.store("linli: rebuild failed: \(messageForPeople(error))")
        }
        bar.finish()
        print(
            "rebuilt \(projections.isEmpty ? "every projection" : projections.map(\.rawValue).joined(separator: ", ")) to position \(try engine.log.head.position)"
        )
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print the log as NDJSON events with positions, hashes, actor and times.",
        discussion: """
            Each line carries the stored record (what audit verify --export and import check) and the request \
            digest of its command (what an imported store needs to refuse a reused command id). The export holds \
            residents' personal data: keep it as private as the store.

            With --output the file is created readable by its owner only (600) and must not exist; a file the \
            shell creates for `>` takes the umask's mode instead. It is written as FILE.partial and takes its name \
            only when whole and synced, so a file under the name is always a whole export.

            Examples:
              linli export --output events.ndjson
              linli export --from 1 --to 1000 > events.ndjson
              linli export --from 1201 | linli import --follow - --store ./replica.store
            """)

    @OptionGroup var store: StoreOptions
    @Option(help: "The first position.") var from: UInt64 = 1
    @Option(help: "The last position.") var to: UInt64?
    @Option(help: "Write to this new file (mode 600) instead of standard output.") var output: String?

    func run() throws {
        let engine = try store.open(readOnly: true)
        guard let output else { return try write(engine, to: STDOUT_FILENO) }
        var info = stat()
        guard lstat(output, &info) != 0 else { throw ExitError.rejected("linli: cannot create \(output): it exists (an export never overwrites a file)") }
        let partial = output + ".partial"
        let descriptor = try Self.createPrivately(partial)
        do {
            defer { close(descriptor) }
            try write(engine, to: descriptor)
            guard fsync(descriptor) == 0 else { throw ExitError.store("linli: export stopped: cannot sync \(partial): \(String(cString: strerror(errno)))") }
            try Self.name(partial, output)
        } catch let error as ExitError {
            // A file cut short is not an export: it goes, rather than be taken for a whole one.
            unlink(partial)
            throw ExitError(code: error.code, message: (error.message ?? "") + "; \(partial) was removed")
        }
        unlink(partial)
    }

    /// Gives the whole, synced `partial` its name: link, not rename, so that a file that took the name
    /// meanwhile is never replaced; where the file system has no hard links (FAT on a USB stick, some SMB
    /// mounts), rename after checking once more that the name is free. Then syncs the folder, so that the
    /// name survives a crash too.
    static func name(_ partial: String, _ output: String) throws {
        if link(partial, output) != 0 {
            let linkError = errno
            var info = stat()
            guard [EPERM, ENOTSUP, EOPNOTSUPP, ENOSYS].contains(linkError), lstat(output, &info) != 0, rename(partial, output) == 0 else {
                throw ExitError.store("linli: export stopped: cannot name it \(output): \(String(cString: strerror(linkError)))")
            }
        }
        let parent = (output as NSString).deletingLastPathComponent
        let folder = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// Writes the export's lines to `descriptor`, a mebibyte at a time.
    private func write(_ engine: Engine, to descriptor: Int32) throws {
        var out: [UInt8] = []
        func flush() throws {
            try out.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    guard written > 0 else { throw ExitError.store("linli: export stopped: cannot write: \(String(cString: strerror(errno)))") }
                    offset += written
                }
            }
            out.removeAll(keepingCapacity: true)
        }
        do {
            try engine.export(from: from, to: to) { line in
                out += line.text.utf8
                out.append(0x0A)
                if out.count > 1 << 20 { try flush() }
            }
            try flush()
        } catch let error as ExitError {
            throw error
        } catch {
            throw ExitError.store("linli: export stopped: \(messageForPeople(error))")
        }
    }

    /// A new file only its owner can read: O_EXCL so that an existing file is never overwritten, and
    /// fchmod because the mode given to open() passes through the umask.
    static func createPrivately(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            guard errno == EEXIST else { throw ExitError.rejected("linli: cannot create \(path): \(String(cString: strerror(errno)))") }
            throw ExitError.rejected("linli: \(path) exists: another export to it is running, or one was interrupted (then remove \(path))")
        }
        guard fchmod(descriptor, 0o600) == 0 else {
            close(descriptor)
            throw ExitError.store("linli: cannot make \(path) private (mode 600): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }
}
