// The event-record decoder and the chain check, over bytes as a forged store or export would hold them:
// either refused, or decoded into an event whose readable export parses back as the same record.
import Foundation
import FuzzDriver
import Linli
import LinliStore

func fuzzRecord(_ bytes: [UInt8]) {
    var verifier = ChainVerifier(decodes: true)
    bytes.withUnsafeBytes { verifier.check(key: 1, record: $0) }
    guard let event = try? RecordedEvent.decode(stored: bytes, position: 1) else { return }
    let line = Array(EventExport.json(event).text.utf8)
    _ = try? ExportedLine.parse(line, lineNumber: 1)
}
runFuzzer(fuzzRecord)
