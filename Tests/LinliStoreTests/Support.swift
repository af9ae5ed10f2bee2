import Foundation
import LinliStore
import Testing

/// A temporary directory that removes itself; every test gets its own.
final class TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "linli-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The folder holding the built products: the test executable's own folder.
func productsDirectory() -> URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}

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
func command(_ id: String, stream: String = "s-1", count: Int = 1, expected: ExpectedVersion = .any, payload: [UInt8] = Array("payload".utf8)) -> AppendCommand {
    AppendCommand(commandId: id, requestDigest: Hash.sha256(id + String(count) + stream), actor: "tester",
                  occurredAt: Timestamp(iso8601: "2024-03-01T09:30:00+08:00")!,
                  events: (0..<count).map { index in
                      NewEvent(stream: stream, expectedVersion: index == 0 ? expected : .any, type: "test.happened", payload: payload)
                  })
}

/// SplitMix64, seeded.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs a child process and returns its exit status, standard output and standard error.
@discardableResult
func run(_ executable: URL, _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe
    try process.run()
    if let stdin { inPipe.fileHandleForWriting.write(stdin) }
    try inPipe.fileHandleForWriting.close()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    let err = errPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}
