// The JSON reader of every command line: any bytes either parse or are refused with a syntax error, and
// what parses prints as text that parses to the same value.
import Foundation
import FuzzDriver
import Linli

func fuzzJSON(_ bytes: [UInt8]) {
    guard let value = try? JSONParser.parse(bytes) else { return }
    let again = try? JSONParser.parse(Array(value.text.utf8))
    precondition(again == value, "a parsed value prints as text that parses back to it")
}
runFuzzer(fuzzJSON)
