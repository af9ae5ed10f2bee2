import Foundation
import LinliStore

/// What an import or a replica's follow did.
public struct ImportReport: Sendable, Equatable {
    /// The store's head afterwards.
    public var head: LogHead
    /// Records appended.
    public var eventsAppended: UInt64
    /// Records the store held already, found byte-identical (a follow that overlaps its replica).
    public var eventsAlreadyHeld: UInt64
    /// Published checkpoints the store was checked against (`--checkpoint`).
    public var checkpointsChecked: Int
}

/// Why an import or a follow was refused: the line and position at fault and what is wrong. A refused
/// import into a new store leaves nothing behind; a refused follow keeps what it appended before the
/// transaction that failed (each committed transaction extends the replica's log and keeps its rules).
public struct ImportRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The export's line, from 1, when one line is at fault.
    public var lineNumber: Int?
    /// The log position, when one record is at fault.
    public var position: UInt64?
    /// What is wrong.
    public var reason: String

    public var description: String {
        let place = [lineNumber.map { "line \($0)" }, position.map { "position \($0)" }].compactMap { $0 }.joined(separator: ", ")
        return place.isEmpty ? reason : "\(place): \(reason)"
    }
}

extension Engine {
    /// Records per write transaction of an import: as a replay's chunk, few enough dirty pages per commit.
    static let importChunkEvents = 50_000

    /// Creates a store at `path` holding the log of an export (`linli export` lines): the same positions and
    /// record bytes, so the same chain head and identity, with no init event of its own. Every record is
    /// checked as ``LogWriter/appendRecorded(_:)`` says, so an export whose chain was recomputed over
    /// events the rules never allow is refused at that position. With `checkpoints` (published statements)
    /// the new store must extend each one and show its figures. With `replicaOf`, the store is a replica
    /// of that source: it takes no commands, only ``follow(lines:checkpoints:progress:)``.
    ///
    /// A refused or interrupted import leaves no store that opens: it is marked incomplete until its last
    /// transaction, and a refused one is removed.
    public static func importExport(
        lines: some Sequence<[UInt8]>, into path: String, replicaOf source: String? = nil, checkpoints: [JSONValue] = [],
        options: Options = Options(), progress: ((UInt64) -> Void)? = nil
    ) throws -> ImportReport {
        var iterator = lines.makeIterator()
        return try importExport(
            readingLines: { iterator.next() }, into: path, replicaOf: source, checkpoints: checkpoints, options: options, progress: progress)
    }

    /// Imports as ``importExport(lines:into:replicaOf:checkpoints:options:progress:)`` does, taking each
    /// line from `nextLine` (nil at the end). A read that fails is thrown as it is, and leaves no store.
    public static func importExport(
        readingLines nextLine: () throws -> [UInt8]?, into path: String, replicaOf source: String? = nil, checkpoints: [JSONValue] = [],
        options: Options = Options(), progress: ((UInt64) -> Void)? = nil
    ) throws -> ImportReport {
        let folderExisted = FileManager.default.fileExists(atPath: path)
        let log = try EventLog.createForImport(at: path, replicaOf: source, options: logOptions(options))
        do {
            let engine = Engine(log: log)
            var report = try engine.take(nextLine, progress: progress)
            guard report.head.position > 0 else { throw ImportRefusal(reason: "the export holds no events") }
            report.checkpointsChecked = try engine.requireExtends(checkpoints)
            try log.finishImport()
            return report
        } catch {
            removeImported(at: path, folderToo: !folderExisted)
            throw error
        }
    }

    /// Appends what an export (`linli export --from N`) holds after this replica's head. Records the
    /// replica holds already must be byte-identical (else refused: a fork); the rest must go on from its
    /// head, and are checked as an import's are. `checkpoints` are checked afterwards.
    public func follow(lines: some Sequence<[UInt8]>, checkpoints: [JSONValue] = [], progress: ((UInt64) -> Void)? = nil) throws -> ImportReport {
        var iterator = lines.makeIterator()
        return try follow(readingLines: { iterator.next() }, checkpoints: checkpoints, progress: progress)
    }

    /// Follows as ``follow(lines:checkpoints:progress:)`` does, taking each line from `nextLine` (nil at
    /// the end). A read that fails is thrown as it is; the chunks committed before it stay (each is whole
    /// commands, and following again appends only what comes after the head).
    public func follow(readingLines nextLine: () throws -> [UInt8]?, checkpoints: [JSONValue] = [], progress: ((UInt64) -> Void)? = nil) throws
        -> ImportReport
    {
        precondition(history == nil, "a time-travel view takes no events")
        guard log.replicaSource != nil else {
            throw ImportRefusal(
                reason: "\(log.path) is not a replica: it takes commands of its own, so another store's log cannot be appended to it. "
                    + "Make a replica with linli import FILE --replica-of NAME --store NEW")
        }
        var report = try take(nextLine, progress: progress)
        report.checkpointsChecked = try requireExtends(checkpoints)
        try log.checkpoint()
        return report
    }

    /// Reads the lines into commands (consecutive records of one command id) and appends them in chunks.
    private func take(_ nextLine: () throws -> [UInt8]?, progress: ((UInt64) -> Void)?) throws -> ImportReport {
        var report = ImportReport(head: try log.head, eventsAppended: 0, eventsAlreadyHeld: 0, checkpointsChecked: 0)
        var chunk = ImportChunk()
        var lineNumber = 0
        while let line = try nextLine() {
            lineNumber += 1
            let parsed: ExportedLine?
            do { parsed = try ExportedLine.parse(line, lineNumber: lineNumber) } catch {
                throw ImportRefusal(lineNumber: lineNumber, position: error.position, reason: "\(error.field.map { "\($0) " } ?? "")\(error.reason)")
            }
            guard let parsed else { continue }
            // A chunk ends only between commands: one command's records commit together.
            if chunk.eventsCount >= Self.importChunkEvents, !chunk.continuesLastCommand(parsed) {
                try write(&chunk, into: &report)
                progress?(UInt64(lineNumber))
            }
            try chunk.add(parsed)
        }
        try write(&chunk, into: &report)
        progress?(UInt64(lineNumber))
        return report
    }

    /// Appends a chunk in one write transaction, naming the line of the record a refusal is about.
    private func write(_ chunk: inout ImportChunk, into report: inout ImportReport) throws {
        guard !chunk.commands.isEmpty else { return }
        let commands = chunk.commands
        do {
            let (appended, head) = try log.write { writer -> (UInt64, LogHead) in
                var appended: UInt64 = 0
                for command in commands { appended += UInt64(try writer.appendRecorded(command)) }
                return (appended, writer.head)
            }
            report.eventsAppended += appended
            report.eventsAlreadyHeld += UInt64(chunk.eventsCount) - appended
            report.head = head
        } catch let error as LogError {
            switch error {
            case let .corrupt(position, reason), let .notAnExtension(position, reason):
                throw ImportRefusal(lineNumber: chunk.lineNumber(of: position), position: position, reason: reason)
            case let .invalid(field, reason):
                throw ImportRefusal(lineNumber: chunk.lines.first, reason: "\(field) \(reason)")
            default:
                throw error
            }
        }
        chunk = ImportChunk()
    }

    /// Checks published checkpoint statements against the store as it now is; any that fails refuses.
    private func requireExtends(_ checkpoints: [JSONValue]) throws -> Int {
        for check in try verify(checkpoints: checkpoints) where !check.ok {
            throw ImportRefusal(
                position: check.position == 0 ? nil : check.position,
                reason: "the export does not extend a published checkpoint: " + check.problems.joined(separator: "; "))
        }
        return checkpoints.count
    }

    /// Removes what a refused import made: its files, and its folder when the import created it.
    private static func removeImported(at path: String, folderToo: Bool) {
        for file in ["data.mdb", "lock.mdb", "rebuild.lock"] { unlink(path + "/" + file) }
        if folderToo { rmdir(path) }
    }
}

/// An import's records gathered into commands until they are written.
struct ImportChunk {
    var commands: [RecordedCommand] = []
    /// The line of each record, in order.
    var lines: [Int] = []
    var positions: [UInt64] = []
    var eventsCount: Int { positions.count }

    /// Adds a line's record to the command it continues, or starts the next command with it.
    mutating func add(_ line: ExportedLine) throws {
        guard let digest = line.requestDigest else {
            throw ImportRefusal(
                lineNumber: line.lineNumber, position: line.record.position,
                reason: "requestDigest is missing: export the store again with this version of linli (its export carries each command's request digest)")
        }
        if continuesLastCommand(line) {
            guard commands[commands.count - 1].requestDigest == digest else {
                throw ImportRefusal(
                    lineNumber: line.lineNumber, position: line.record.position, reason: "requestDigest differs from the one of its command's first event")
            }
            commands[commands.count - 1].records.append(line.record)
        } else {
            commands.append(RecordedCommand(requestDigest: digest, records: [line.record]))
        }
        lastCommandId = line.event.commandId
        lines.append(line.lineNumber)
        positions.append(line.record.position)
    }

    private var lastCommandId: String?

    /// True when `line` is the next record of the last command gathered: a command's records are
    /// consecutive and share its id.
    func continuesLastCommand(_ line: ExportedLine) -> Bool {
        guard let last = positions.last else { return false }
        return last + 1 == line.record.position && lastCommandId == line.event.commandId
    }

    /// The line of the record at `position`, if this chunk holds it.
    func lineNumber(of position: UInt64) -> Int? {
        positions.firstIndex(of: position).map { lines[$0] }
    }
}
