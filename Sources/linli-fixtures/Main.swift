import ArgumentParser
import Foundation
import Linli

/// `linli-fixtures`: writes the three pilots' NDJSON command files and the figures they must produce.
@main
struct LinliFixtures: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linli-fixtures",
        abstract: "Write deterministic NDJSON command files for the three Quzhou pilots, and expected.json beside them.",
        discussion: """
            The same seed and scale give the same bytes. Apply the files to a store made with \
            `linli init --admin \(PilotFixtures.admin)`, in the order jiangshan, hexi, zigang, with --continue: the lines whose \
            command id starts with mistake- are meant to be rejected (expected.json lists them with their reason codes).

            Examples:
              linli-fixtures --out Fixtures/sample                       # the committed sample
              linli-fixtures --scale full --out /tmp/pilots              # the seed's sizes (≈ 1.6M commands)
              linli-fixtures --scale full --hexi-days 2400 --out /tmp/10m  # about 10M events
            """)

    @Option(help: "The seed.") var seed: UInt64 = 20_240_301
    @Option(help: "sample or full.") var scale: String = "sample"
    @Option(help: "Days of daily elder services in Hexi (overrides the scale's).") var hexiDays: Int?
    @Option(help: "Days of volunteer hours in Jiangshan (overrides the scale's).") var jiangshanDays: Int?
    @Option(help: "The folder to write into.") var out: String

    func run() throws {
        guard var chosen = ["sample": PilotFixtures.Scale.sample, "full": PilotFixtures.Scale.full][scale] else {
            throw ValidationError("--scale is sample or full")
        }
        if let hexiDays { chosen.hexiDays = hexiDays }
        if let jiangshanDays { chosen.jiangshanDays = jiangshanDays }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var handles: [String: FileHandle] = [:]
        var buffers: [String: [UInt8]] = [:]
        for pilot in PilotFixtures.pilots {
            let path = "\(out)/\(pilot).ndjson"
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw ValidationError("cannot create \(path)") }
            handles[pilot] = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            buffers[pilot] = []
        }
        let expected = PilotFixtures(seed: seed, scale: chosen).generate { pilot, line in
            buffers[pilot]!.append(contentsOf: line.utf8)
            buffers[pilot]!.append(0x0A)
            if buffers[pilot]!.count > 1 << 20 {
                handles[pilot]!.write(Data(buffers[pilot]!))
                buffers[pilot]!.removeAll(keepingCapacity: true)
            }
        }
        for pilot in PilotFixtures.pilots {
            handles[pilot]!.write(Data(buffers[pilot]!))
            try handles[pilot]!.close()
        }
        try Data((expected.json.text + "\n").utf8).write(to: URL(fileURLWithPath: "\(out)/expected.json"))
        let total = expected.lines.values.reduce(0, +)
        FileHandle.standardError.write(
            Data("wrote \(total) commands (\(expected.lines.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", "))) to \(out)\n".utf8))
    }
}
