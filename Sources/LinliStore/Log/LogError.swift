/// What a stream's version must be for an append to it to go ahead (optimistic concurrency).
public enum ExpectedVersion: Sendable, Equatable, CustomStringConvertible {
    /// Append whatever the stream's version.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's version must be exactly this (0 means the stream does not exist yet).
    case exactly(UInt64)

    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "no stream"
        case .exactly(let version): return String(version)
        }
    }
}

/// Errors of the event log. Each names what it is about, so that a person can act on the message.
public enum LogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stream was not at the expected version.
    case versionConflict(stream: String, expected: ExpectedVersion, actual: UInt64)
    /// A command id was used before for a request with other bytes.
    case commandIdReused(commandId: String, firstPosition: UInt64)
    /// An event or command broke a limit or a rule of the log.
    case invalid(field: String, reason: String)
    /// The path is not a Linli store (a regular file, another program's LMDB environment, …).
    case notAStore(path: String, reason: String)
    /// There is no store at the path.
    case storeMissing(path: String)
    /// There is a store at the path already.
    case storeExists(path: String)
    /// The store's format is one this code does not read.
    case unsupportedFormat(path: String, version: UInt32)
    /// A stored record failed to decode or to verify.
    case corrupt(position: UInt64, reason: String)
    /// The stored projections cannot be used as they are and a read-only open cannot rebuild them.
    case projectionsNeedRebuild(path: String, reason: String)
    /// The store was written by an older layout of the projections; opening it once for writing upgrades it.
    case projectionsNeedUpgrade(path: String)
    /// Another process is rebuilding the store's projections.
    case rebuildInProgress(path: String)
    /// A replay into memory (an audit's, a time-travel view's) would hold more rows than its budget.
    case replayTooLarge(bytes: Int, bytesMax: Int)
    /// A backup could not be made; nothing was left at its destination.
    case backupFailed(path: String, reason: String)
    /// The store is a replica: it takes events only from its source's log (`linli import --follow`).
    case replica(path: String, source: String)
    /// An import into the store did not finish (refused or interrupted): the store must not be used.
    case importIncomplete(path: String)
    /// Records offered to a store that do not extend its log: a gap, or a record that differs from the
    /// one the store holds at that position (a fork).
    case notAnExtension(position: UInt64, reason: String)
    /// A subscriber to ``EventLog/newEvents(bufferEvents:)`` fell further behind than its buffer: its stream
    /// ended after the event at `lastDelivered`; the rest is read from the log.
    case subscriberBehind(lastDelivered: UInt64, bufferEvents: Int)

    public var description: String {
        switch self {
        case let .versionConflict(stream, expected, actual):
            return "version conflict on stream \(stream): expected \(expected), actual \(actual)"
        case let .commandIdReused(commandId, firstPosition):
            return "command id \(commandId) was used at position \(firstPosition) for a different request"
        case let .invalid(field, reason):
            return "\(field): \(reason)"
        case let .notAStore(path, reason):
            return "\(path) is not a Linli store: \(reason)"
        case let .storeMissing(path):
            return "no Linli store at \(path)"
        case let .storeExists(path):
            return "a Linli store exists at \(path) already"
        case let .unsupportedFormat(path, version):
            return "\(path) has store format \(version); this build reads format 1"
        case let .corrupt(position, reason):
            return "corrupt event at position \(position): \(reason)"
        case let .projectionsNeedRebuild(path, reason):
            return "the projections of \(path) must be rebuilt before they can be read (\(reason)); run: linli rebuild --store \(path)"
        case let .projectionsNeedUpgrade(path):
            return
                "\(path) was written by an older version of Linli; open it once for writing (any linli command that records, or linli rebuild --store \(path)) to upgrade it"
        case let .rebuildInProgress(path):
            return "a rebuild of \(path) is in progress in another process; wait for it to finish, then try again"
        case let .subscriberBehind(lastDelivered, bufferEvents):
            return "the subscriber fell more than \(bufferEvents) events behind; its stream ended after position \(lastDelivered): "
                + "read on with events(from: \(lastDelivered + 1)), then subscribe again"
        case let .replayTooLarge(bytes, bytesMax):
            return "replaying the log in memory needs more than \(bytesMax >> 20) MiB (it reached \(bytes >> 20) MiB); "
                + "ask for an earlier position, or raise the budget (EventLog.Options.replayMemoryBytesMax)"
        case let .backupFailed(path, reason):
            return "the backup to \(path) failed: \(reason)"
        case let .replica(path, source):
            return
                "\(path) is a read-only replica of \(source): it takes events only from its source's log (linli import --follow); record actions at the source"
        case let .importIncomplete(path):
            return "the import into \(path) did not finish (it was refused or interrupted), so the store is not complete; remove the folder and import again"
        case let .notAnExtension(position, reason):
            return "position \(position): \(reason)"
        }
    }
}
