import ArgumentParser
import Foundation
import Linli

/// `linli status`: what an operator checks first.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The store's identity, head, events per domain, size, checkpoint position, and whether it is a replica.",
        discussion: """
            The identity is the hash of the first event: a backup, an import and a replica of the store share it. \
            Counting events reads every record's type (about a second per million events once cached). With \
            --json: {"identity","head":{…},"eventsByDomain":{…},"fileBytes","usedBytes","checkpoints","replicaOf"}.

            Examples:
              linli status --store ./jiangshan.store
              linli status --json
            """)
    @OptionGroup var store: StoreOptions
    @OptionGroup var output: DocumentOptions

    func run() throws {
        let status = try store.open(readOnly: true).status()
        if output.json { return print(Self.document(status).text) }
        let head = status.store.head
        var summary: [(String, String)] = [
            ("store", store.path), ("identity", status.store.identity?.hex ?? "(empty log)"),
            ("head", "position \(head.position), \(head.hash.hex)"),
            ("last event", status.store.lastOccurredAt.map { "occurred \($0.iso8601), recorded \(status.store.lastRecordedAt?.iso8601 ?? "")" } ?? "none"),
            ("size", "\(megabytes(status.store.fileBytes)) on disk, \(megabytes(status.store.usedBytes)) used"),
            ("checkpoint", Self.checkpointText(status.store)),
            ("replica", status.store.replicaOf.map { "yes, of \($0) (takes events only from linli import --follow)" } ?? "no"),
        ]
        let width = summary.map { displayWidth($0.0) }.max() ?? 0
        summary = summary.map { ($0.0 + String(repeating: " ", count: width - displayWidth($0.0)), $0.1) }
        for (key, value) in summary { print("\(key)  \(value)") }
        print("")
        print(
            renderTable(
                ["domain", "events"], status.eventsByDomain.filter { $0.domain != "other" || $0.events > 0 }.map { [$0.domain, String($0.events)] },
                rightAligned: [1]), terminator: "")
    }

    static func checkpointText(_ status: StoreStatus) -> String {
        guard let oldest = status.checkpointPositions.values.min() else { return "none stored" }
        let behind = status.head.position - oldest
        return "position \(oldest)" + (behind == 0 ? " (the head)" : ", \(behind) events behind the head (replayed when the store opens)")
    }

    static func document(_ status: EngineStatus) -> JSONValue {
        let store = status.store
        return [
            "identity": store.identity.map { .string($0.hex) } ?? .null,
            "head": [
                "position": .int(Int64(store.head.position)), "hash": .string(store.head.hash.hex),
                "occurredAt": store.lastOccurredAt.map { .string($0.iso8601) } ?? .null,
                "recordedAt": store.lastRecordedAt.map { .string($0.iso8601) } ?? .null,
            ],
            "eventsByDomain": .object(status.eventsByDomain.map { ($0.domain, .int(Int64($0.events))) }),
            "fileBytes": .int(Int64(store.fileBytes)), "usedBytes": .int(Int64(store.usedBytes)),
            "checkpoints": .object(store.checkpointPositions.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }),
            "replicaOf": store.replicaOf.map { .string($0) } ?? .null,
        ]
    }
}

/// `linli backup DEST`: a consistent, verified, private copy while writers go on.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the store into a new folder while writers go on; the copy is synced and its chain verified.",
        discussion: """
            With --json: {"path","position","head","events","bytes","compacted"}. DEST must not exist. The copy is one snapshot: a prefix of the log that ends at a commit. It is written \
            to DEST.partial (owner-only), flushed, opened and its chain checked, then moved to DEST/data.mdb. A \
            failed or interrupted backup leaves no DEST that holds a store. To restore, stop the writers and put \
            DEST in the store's place (docs/OPERATIONS.md).

            Examples:
              linli backup /backups/jiangshan-2026-12-01 --store ./jiangshan.store
              linli backup "/backups/js-$(date +%F)" --json
            """)
    @OptionGroup var store: StoreOptions
    @Argument(help: "The new folder to write the backup to.") var destination: String
    @OptionGroup var output: DocumentOptions

    func run() throws {
        let engine = try store.open(readOnly: true)
        let report: BackupReport
        do { report = try engine.log.backup(to: destination) } catch { throw ExitError.store("linli: \(messageForPeople(error))") }
        if output.json {
            print(
                JSONValue.object([
                    ("path", .string(report.path)), ("position", .int(Int64(report.head.position))), ("head", .string(report.head.hash.hex)),
                    ("events", .int(Int64(report.eventsVerified))), ("bytes", .int(Int64(report.bytes))), ("compacted", .bool(report.compacted)),
                ]).text)
        } else {
            print(
                "backed up to \(report.path): position \(report.head.position), head \(report.head.hash.hex), \(megabytes(report.bytes))"
                    + (report.compacted ? ", compacted" : " (LMDB could not compact it; a plain copy)")
                    + "; chain verified over \(report.eventsVerified) events")
        }
    }
}

/// `linli import FILE|-`: a new store (or a replica) from an export; `--follow` extends a replica.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Create a store from an export (same positions, records and chain), or extend a replica with --follow.",
        discussion: """
            With --json: {"position","head","appended","alreadyHeld","checkpoints"}. Every record is checked as the store's own are (its hash, its link, its stream, its command id) and \
            replayed through the rules' invariants: a forged export is refused at the position it breaks, and a \
            refused or interrupted import leaves no store that opens. --checkpoint FILE also requires the export \
            to extend every published checkpoint, with its figures.

            --replica-of NAME marks the new store as a read-only replica of NAME: it refuses commands, and \
            `linli import --follow` appends to it what its source exported after its head (records it holds \
            already must be byte-identical: a replica never accepts a fork).

            Examples:
              linli import events.ndjson --store ./restored.store
              linli export | linli import - --replica-of jiangshan-office --store ./replica.store
              linli export --from 1201 --store ./js.store | linli import --follow - --store ./replica.store
            """)
    @OptionGroup var store: StoreOptions
    @Argument(help: "An export (linli export), or - for standard input.") var file: String
    @Option(name: .customLong("replica-of"), help: "Make the new store a read-only replica of this source (a name for people).") var replicaOf: String?
    @Flag(help: "Append to an existing replica what comes after its head.") var follow = false
    @Option(help: "A file of published checkpoint statements the export must extend.") var checkpoint: String?
    @OptionGroup var output: DocumentOptions

    func validate() throws {
        if follow && replicaOf != nil { throw ValidationError("--replica-of names the source of a new replica; --follow extends an existing one: choose one") }
    }

    func run() throws {
        let statements = try checkpoint.map(readCheckpointStatements) ?? []
        let lines = try LineStream(file)
        let bar = ProgressBar(label: "importing")
        let report: ImportReport
        do {
            if follow {
                report = try store.open().follow(readingLines: lines.next, checkpoints: statements) { bar.update($0, max($0, lines.linesEstimate)) }
            } else {
                report = try Engine.importExport(readingLines: lines.next, into: store.path, replicaOf: replicaOf, checkpoints: statements) {
                    bar.update($0, max($0, lines.linesEstimate))
                }
            }
        } catch let refusal as ImportRefusal {
            bar.finish()
            throw ExitError.rejected(
                "linli: import refused: \(refusal). "
                    + (follow ? "The replica keeps what it held before this transaction." : "Nothing was created at \(store.path)."))
        } catch let error as LogError {
            bar.finish()
            throw ExitError.store("linli: \(messageForPeople(error))")
        }
        bar.finish()
        if output.json {
            print(
                JSONValue.object([
                    ("position", .int(Int64(report.head.position))), ("head", .string(report.head.hash.hex)), ("appended", .int(Int64(report.eventsAppended))),
                    ("alreadyHeld", .int(Int64(report.eventsAlreadyHeld))), ("checkpoints", .int(Int64(report.checkpointsChecked))),
                ]).text)
        } else {
            print(
                "imported \(report.eventsAppended) events into \(store.path)"
                    + (report.eventsAlreadyHeld > 0 ? " (\(report.eventsAlreadyHeld) held already, identical)" : "")
                    + ": head position \(report.head.position), \(report.head.hash.hex)"
                    + (statements.isEmpty ? "" : "; extends \(statements.count) published checkpoints"))
        }
    }
}

/// Published checkpoint statements, one JSON object per line; an unreadable file or line is exit 1.
func readCheckpointStatements(_ file: String) throws -> [JSONValue] {
    guard let data = FileManager.default.contents(atPath: file) else { throw ExitError.rejected("linli: cannot read \(file)") }
    var statements: [JSONValue] = []
    for (index, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) {
        guard let statement = try? JSONParser.parse(Array(line)) else {
            throw ExitError.rejected("linli: \(file):\(index + 1): not a JSON checkpoint statement")
        }
        statements.append(statement)
    }
    return statements
}

/// Sizes as people read them.
func megabytes(_ bytes: Int) -> String {
    bytes < 1 << 20 ? "\(bytes / 1024) KiB" : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
}

/// The lines of a file or of standard input, read in blocks as they are consumed: an export of millions
/// of events is never held whole in memory.
///
/// A read that fails is an error, never the end of the input (a batch or an export cut short would be taken
/// for a whole one): an interrupted read is tried again, a non-blocking descriptor with nothing in it yet is
/// waited for, and anything else throws, naming the line it came after.
final class LineStream {
    private let descriptor: Int32
    /// What messages call the input: the file's path, or "standard input".
    private let name: String
    /// The longest line handed over whole; a longer one is cut one byte past it.
    let lineBytesMax: Int
    /// The file's size in bytes (0 for standard input), and the bytes of the lines handed over so far:
    /// what a progress bar shows.
    let bytesTotal: UInt64
    private(set) var bytesTaken: UInt64 = 0
    /// Lines handed over so far.
    private(set) var linesTaken: UInt64 = 0
    /// For the progress bar: the file's size over an export line's typical size (0 for standard input).
    var linesEstimate: UInt64 { bytesTotal / 900 }
    /// For the progress bar: the lines read if the input has ended, else as many as its size suggests.
    var linesExpected: UInt64 {
        if ended || bytesTaken == 0 { return linesTaken }
        return max(linesTaken, UInt64(Double(linesTaken) * Double(bytesTotal) / Double(bytesTaken)))
    }

    private var buffer: [UInt8] = []
    private var block = [UInt8](repeating: 0, count: blockBytes)
    private var start = 0
    /// Where the search for the next LF resumes: bytes before it hold none, so a long line arriving in
    /// a pipe's small reads is scanned once, not once a read.
    private var scanned = 0
    private var ended = false
    /// True while the rest of a line longer than the limit is skipped.
    private var skipping = false
    static let blockBytes = 1 << 20

    /// Opens `file`, or standard input for "-"; an export's lines by default, or lines up to `lineBytesMax`.
    init(_ file: String, lineBytesMax: Int = ExportedLine.lineBytesMax) throws {
        self.lineBytesMax = lineBytesMax
        if file == "-" {
            descriptor = STDIN_FILENO
            name = "standard input"
            bytesTotal = 0
        } else {
            descriptor = open(file, O_RDONLY | O_CLOEXEC)
            name = file
            guard descriptor >= 0 else { throw ExitError.rejected("linli: cannot read \(file): \(String(cString: strerror(errno)))") }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR else {
                close(descriptor)
                throw ExitError.rejected("linli: cannot read \(file): it is a folder, not a file")
            }
            bytesTotal = UInt64(info.st_size)
        }
    }

    deinit { if descriptor != STDIN_FILENO { close(descriptor) } }

    /// The next line without its LF, nil at the end. A line longer than the limit is cut one byte past it
    /// (so that it is refused for its length, naming its number) and the rest of it is never held in memory.
    func next() throws -> [UInt8]? {
        let line = try nextLine()
        if let line {
            bytesTaken += UInt64(line.count + 1)
            linesTaken += 1
        }
        return line
    }

    private func nextLine() throws -> [UInt8]? {
        while true {
            if let newline = buffer[Swift.max(start, scanned)...].firstIndex(of: 0x0A) {
                defer { start = newline + 1; scanned = start }
                if skipping {
                    skipping = false
                    continue
                }
                return Array(buffer[start..<newline])
            }
            scanned = buffer.count
            if !skipping, buffer.count - start > lineBytesMax {
                skipping = true
                let cut = Array(buffer[start...(start + lineBytesMax)])
                start = buffer.count
                return cut
            }
            if skipping { start = buffer.count }
            if ended {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return Array(buffer[start...])
            }
            buffer.removeFirst(start)
            scanned -= start
            start = 0
            // A pipe hands over 64 KiB at a time: read into a block kept for it, append only what came.
            let read = try readBlock()
            if read == 0 { ended = true } else { buffer.append(contentsOf: block[..<read]) }
        }
    }

    /// Reads what is there into `block`: its byte count, 0 only at the end of the input.
    private func readBlock() throws -> Int {
        let descriptor = descriptor
        while true {
            let read = block.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress!, Self.blockBytes) }
            if read >= 0 { return read }
            let error = errno
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                // Non-blocking (set by whoever handed the descriptor over): wait until something comes.
                var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&ready, 1, -1)
            default:
                let what = linesTaken == 0 ? "" : " after line \(linesTaken)"
                throw ExitError.rejected("linli: cannot read \(name)\(what): \(String(cString: strerror(error)))")
            }
        }
    }
}
