// The JSON reader of every command line: any bytes either parse or are refused with a syntax error, and
// what parses prints as text that parses to the same value.
import Foundation
import Linli

func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    let again = try? JSONParser.parse(Array(value.text.utf8))
    precondition(again == value, "a parsed value prints as text that parses back to it")
    return 0
}

// SwiftPM gives an executable its own entry point, so the harness starts libFuzzer's driver itself
// rather than linking libFuzzer's main.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzJSON(data ?? UnsafePointer(bitPattern: 1)!, size) })

/// libFuzzer's own main, linked with its library, names this; the driver above is what runs.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzJSON(data ?? UnsafePointer(bitPattern: 1)!, size) }
