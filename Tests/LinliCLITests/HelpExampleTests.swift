import Foundation
import LinliTestSupport
import Testing

/// Every subcommand that records a command shows an example in its help, and that example, run with
/// `--print-line`, makes a line whose command and fields pass the contract's spec (issue 19): the help
/// cannot drift from the command line or from DOMAIN.md.
@Suite("The help's examples, run as child processes")
struct HelpExampleTests {
    /// The leaves of `linli --experimental-dump-help`: each subcommand's words and its JSON description.
    func leaves() throws -> [(words: [String], command: [String: Any])] {
        let dump = try CLI.run(["--experimental-dump-help"])
        #expect(dump.status == 0)
        let root = try #require((try JSONSerialization.jsonObject(with: Data(dump.out.utf8)) as? [String: Any])?["command"] as? [String: Any])
        var out: [([String], [String: Any])] = []
        func walk(_ command: [String: Any], _ words: [String]) {
            let subcommands = command["subcommands"] as? [[String: Any]] ?? []
            if subcommands.isEmpty { out.append((words, command)) }
            for sub in subcommands { walk(sub, words + [sub["commandName"] as? String ?? ""]) }
        }
        walk(root, [])
        return out
    }

    func takesPrintLine(_ command: [String: Any]) -> Bool {
        (command["arguments"] as? [[String: Any]] ?? []).contains { argument in
            (argument["names"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == "print-line" }
        }
    }

    /// The `linli …` command lines of a discussion: after "Example:" or on an indented line of their own.
    func examples(_ discussion: String) -> [[String]] {
        discussion.split(separator: "\n").compactMap { line -> [String]? in
            guard let range = line.range(of: "linli "),
                line[..<range.lowerBound].trimmingCharacters(in: .whitespaces).hasSuffix("Example:")
                    || line[..<range.lowerBound].allSatisfy({ $0 == " " })
            else { return nil }
            return line[range.upperBound...].split(separator: " ").map(String.init)
        }
    }

    @Test("each recording subcommand's example makes a line its command's spec accepts")
    func examplesMatchSpecs() throws {
        let recording = try leaves().filter { takesPrintLine($0.command) }
        #expect(recording.count >= 50, "found \(recording.count) recording subcommands")
        var commands: Set<String> = []
        for (words, command) in recording {
            let discussion = command["discussion"] as? String ?? ""
            let found = examples(discussion).filter { Array($0.prefix(words.count)) == words }
            #expect(!found.isEmpty, "linli \(words.joined(separator: " ")) shows no example of itself")
            for example in found {
                let run = try CLI.run(example + ["--print-line"])
                #expect(run.status == 0, "linli \(example.joined(separator: " ")): \(run.err)")
                guard run.status == 0 else { continue }
                let line = try #require(try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any])
                commands.insert(line["command"] as? String ?? "")
            }
        }
        // Each subcommand records a command of its own: no two examples made the same one.
        #expect(commands.count == recording.count, "\(recording.count) subcommands made \(commands.count) distinct commands")
    }

    @Test("a value outside the contract's vocabulary is a usage error (exit 2) that lists the values")
    func vocabularies() throws {
        let vote = try CLI.run(["vote", "cast", "--meeting", "m-1", "--participant", "r-1", "--choice", "yes", "--as", "cv-1", "--print-line"])
        #expect(vote.status == 2 && vote.err.contains("for") && vote.err.contains("against") && vote.err.contains("abstain"), "\(vote.err)")
        let rebuild = try CLI.run(["rebuild", "--projection", "no-such-projection", "--store", "/nonexistent"])
        #expect(rebuild.status == 2 && rebuild.err.contains("ledger"), "\(rebuild.err)")
    }

    /// ArgumentParser names a command without `commandName` from `String(describing:)` of its type, for
    /// every command of the tree at every start: that reflection was 110M of the 145M instructions of a
    /// cold `linli balance` (docs/DECISIONS.md, "Starting a process"). Each configuration names its command.
    @Test("every subcommand's configuration names it, so a start does not reflect over the command types")
    func everyConfigurationNamesItsCommand() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/LinliCLI").standardizedFileURL
        var configurations = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: sources.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            var rest = text[...]
            while let start = rest.range(of: "CommandConfiguration(") {
                // The call's arguments, up to its matching parenthesis.
                var depth = 1, end = start.upperBound
                while depth > 0, end < rest.endIndex {
                    if rest[end] == "(" { depth += 1 } else if rest[end] == ")" { depth -= 1 }
                    end = rest.index(after: end)
                }
                let arguments = rest[start.upperBound..<end]
                let line = text[..<start.lowerBound].count(where: { $0 == "\n" }) + 1
                #expect(arguments.contains("commandName:"), "\(file):\(line): a CommandConfiguration without commandName")
                configurations += 1
                rest = rest[end...]
            }
        }
        #expect(configurations >= 90, "found \(configurations) configurations: is the folder right?")
    }
}
