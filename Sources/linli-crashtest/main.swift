// A child process for the store's crash and multi-process tests. It appends batches of commands to a
// store and prints `ACK <commandId> <firstPosition> <lastPosition>` after each batch commits, flushing
// at once, so that the parent knows exactly what was acknowledged before it kills this process.
//
//     linli-crashtest STORE PREFIX BATCHES COMMANDS_PER_BATCH EVENTS_PER_COMMAND SEED [CHECKPOINT_EVENTS]
//
// CHECKPOINT_EVENTS (default: the log's) makes the projections' checkpoints frequent, so that kills land
// in them too.
//
//     linli-crashtest --backup STORE DEST
//
// backs STORE up to DEST and prints `BACKUP <position>`: the backup tests kill it at random moments.
import Foundation
import LinliStore

let arguments = CommandLine.arguments
if arguments.count == 4, arguments[1] == "--backup" {
    var options = EventLog.Options()
    options.projections = [EventCountsProjection()]
    options.readOnly = true
    let report = try EventLog.open(at: arguments[2], options: options).backup(to: arguments[3])
    FileHandle.standardOutput.write(Data("BACKUP \(report.head.position)\n".utf8))
    exit(0)
}
guard arguments.count == 7 || arguments.count == 8, let batches = Int(arguments[3]), let perBatch = Int(arguments[4]),
    let perCommand = Int(arguments[5]), var state = UInt64(arguments[6])
else {
    FileHandle.standardError.write(Data("usage: linli-crashtest STORE PREFIX BATCHES COMMANDS_PER_BATCH EVENTS_PER_COMMAND SEED [CHECKPOINT_EVENTS]\n".utf8))
    exit(2)
}
let store = arguments[1]
let prefix = arguments[2]

/// SplitMix64: a small, seeded generator, so that a failing run can be repeated.
func nextRandom() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

var options = EventLog.Options()
options.projections = [EventCountsProjection()]
options.environment.initialMapSizeBytes = 1 << 20
if arguments.count == 8, let every = UInt64(arguments[7]), every > 0 { options.checkpointEvents = every }
let log = try EventLog.open(at: store, options: options)
for batch in 0..<batches {
    var commands: [AppendCommand] = []
    for index in 0..<perBatch {
        let id = "\(prefix)-\(batch)-\(index)"
        let events = (0..<perCommand).map { _ in
            let stream = "s-\(nextRandom() % 50)"
            let payload = (0..<(50 + Int(nextRandom() % 300))).map { _ in UInt8(truncatingIfNeeded: nextRandom()) }
            return NewEvent(stream: stream, type: "test.event", payload: payload)
        }
        let digest = Hash.sha256(id)
        commands.append(
            AppendCommand(
                commandId: id, requestDigest: digest, actor: "crashtest",
                occurredAt: Timestamp(epochMilliseconds: 1_700_000_000_000), events: events))
    }
    let results = try log.append(commands)
    var lines = ""
    for (command, result) in zip(commands, results) {
        lines += "ACK \(command.commandId) \(result.firstPosition) \(result.lastPosition)\n"
    }
    // One unbuffered write(2) after the commit: what the parent reads was committed.
    FileHandle.standardOutput.write(Data(lines.utf8))
}
