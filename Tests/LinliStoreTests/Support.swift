import Foundation
@_exported import LinliTestSupport
import LinliStore
import Testing

/// A fixed clock for recorded times.
let fixedClock: @Sendable () -> Timestamp = { Timestamp(epochMilliseconds: 1_717_200_000_000) }

func logOptions(_ projections: [any Projection] = [], mapBytes: Int? = nil) -> EventLog.Options {
    var options = EventLog.Options()
    options.clock = fixedClock
    options.projections = projections
    if let mapBytes { options.environment.initialMapSizeBytes = mapBytes }
    return options
}

/// A command of `count` events on `stream`.
func command(_ id: String, stream: String = "s-1", count: Int = 1, expected: ExpectedVersion = .any, payload: [UInt8] = Array("payload".utf8)) -> AppendCommand
{
    AppendCommand(
        commandId: id, requestDigest: Hash.sha256(id + String(count) + stream), actor: "tester",
        occurredAt: Timestamp(iso8601: "2024-03-01T09:30:00+08:00")!,
        events: (0..<count).map { index in
            NewEvent(stream: stream, expectedVersion: index == 0 ? expected : .any, type: "test.happened", payload: payload)
        })
}

/// Runs a child process and returns its exit status, standard output and standard error.
@discardableResult
func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    try runProcess(executable, arguments)
}
