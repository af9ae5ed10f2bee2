// The event-record decoder and the chain check, over bytes as a forged store or export would hold them:
// either refused, or decoded into an event whose readable export parses back as the same record.
import Foundation
import Linli
import LinliStore

func fuzzRecord(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var verifier = ChainVerifier(decodes: true)
    bytes.withUnsafeBytes { verifier.check(key: 1, record: $0) }
    guard let event = try? RecordedEvent.decode(stored: bytes, position: 1) else { return 0 }
    let line = Array(EventExport.json(event).text.utf8)
    _ = try? ExportedLine.parse(line, lineNumber: 1)
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
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzRecord(data ?? UnsafePointer(bitPattern: 1)!, size) })

/// libFuzzer's own main, linked with its library, names this; the driver above is what runs.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzRecord(data ?? UnsafePointer(bitPattern: 1)!, size) }
