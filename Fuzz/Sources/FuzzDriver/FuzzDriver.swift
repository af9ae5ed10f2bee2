// What every harness shares: libFuzzer's entry points. SwiftPM gives an executable its own entry point,
// so a harness starts libFuzzer's driver itself rather than linking libFuzzer's main; libFuzzer's own main,
// linked with its library, still names `LLVMFuzzerTestOneInput`, defined here once.
import Foundation

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The harness's check of one input; set once by ``runFuzzer(_:)`` before the driver starts.
nonisolated(unsafe) private var check: ([UInt8]) -> Void = { _ in }

/// Runs libFuzzer over `body`, one input's bytes at a time, with the command line's options; never returns.
public func runFuzzer(_ body: @escaping ([UInt8]) -> Void) -> Never {
    check = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in testOneInput(data, size) })
}

/// One input, as libFuzzer hands it over (an empty one may come with no pointer).
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
