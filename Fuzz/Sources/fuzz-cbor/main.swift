// The CBOR reader of every stored payload: any bytes either decode or are refused, and what decodes
// encodes to bytes that decode to the same value.
import Foundation
import FuzzDriver
import Linli

func fuzzCBOR(_ bytes: [UInt8]) {
    guard let value = try? CBOR.decode(bytes) else { return }
    let again = try? CBOR.decode(CBOR.encode(value))
    precondition(again == value, "a decoded value encodes to bytes that decode back to it")
}
runFuzzer(fuzzCBOR)
