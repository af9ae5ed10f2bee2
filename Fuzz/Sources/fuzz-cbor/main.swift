// The CBOR reader of every stored payload: any bytes either decode or are refused, and what decodes
// encodes to bytes that decode to the same value.
import Foundation
import Linli

func fuzzCBOR(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? CBOR.decode(bytes) else { return 0 }
    let again = try? CBOR.decode(CBOR.encode(value))
    precondition(again == value, "a decoded value encodes to bytes that decode back to it")
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
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzCBOR(data ?? UnsafePointer(bitPattern: 1)!, size) })

/// libFuzzer's own main, linked with its library, names this; the driver above is what runs.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzCBOR(data ?? UnsafePointer(bitPattern: 1)!, size) }
