import Foundation
@testable import LinliStore
import Testing

/// Per stream, the position of its last event and how many it has: a retirable database whose rows are
/// written while their stream is busy and then left alone, as an hours log or a week's adherence is.
final class StreamLatest: Projection, @unchecked Sendable {
    let name = "latest"
    let version: UInt32 = 1
    let databaseNames = ["by-stream"]
    var retirableDatabases: Set<String> { ["by-stream"] }
    func apply(_ event: RecordedEvent, in transaction: borrowing WriteTransaction, databases: ProjectionDatabases) throws {
        let key = Array(event.stream.utf8)
        let count =
            try transaction.value(in: databases["by-stream"], key: key).flatMap {
                $0.withUnsafeBytes { bigEndianValue(UnsafeRawBufferPointer(rebasing: $0[8...])) }
            } ?? 0
        try transaction.put(databases["by-stream"], key: key, value: bigEndianKey(event.position) + bigEndianKey(count + 1))
    }
}

/// An audit's replay forgets the rows of retirable databases left alone for a while (issue 17: the
/// 10.75M-event store's hours logs and weeks of adherence), and is replayed again, holding every row, when
/// an event reaches one it forgot.
@Suite("Retired rows")
struct RetiredRowsTests {
    /// A log whose streams are busy for five commands of four events each, then left alone.
    func store(_ dir: TemporaryDirectory, commands: Int = 60) throws -> EventLog {
        var options = logOptions([StreamLatest()])
        options.replayChunkEvents = 10
        options.replayRetireAfterEvents = 30
        let log = try EventLog.create(at: dir.sub("store"), options: options)
        for index in 0..<commands { _ = try log.append(command("c-\(index)", stream: "s-\(index / 5)", count: 4)) }
        return log
    }

    @Test("a replay that retires rows holds fewer, sums to what one that holds them all does, and notices an event that reaches one")
    func retiringReplay() throws {
        let dir = TemporaryDirectory()
        let log = try store(dir)
        let events = try log.events()
        let held = MemoryProjections([StreamLatest()], memoryBytesMax: 1 << 30, appendOnly: .digested)
        let retiring = MemoryProjections([StreamLatest()], memoryBytesMax: 1 << 30, appendOnly: .digested, retiring: true)
        for chunk in stride(from: 0, to: events.count, by: 10) {
            let part = Array(events[chunk..<min(events.count, chunk + 10)])
            try held.apply(part)
            try retiring.apply(part)
            retiring.retire(writtenBefore: part.last!.position > 30 ? part.last!.position - 30 : 0)
        }
        let database = retiring.databases["latest"]!["by-stream"]
        #expect(retiring.overlay.top[database.overlaySlot].count < held.overlay.top[database.overlaySlot].count / 2, "most streams are forgotten")
        #expect(try retiring.summary(ofRetirable: database).sum == held.summary(ofRetirable: held.databases["latest"]!["by-stream"]).sum)
        #expect(try retiring.digests() == held.digests())
        #expect(!retiring.reachedRetiredRows)
        // An event of a stream long left alone reaches its forgotten row.
        let late = RecordedEvent(
            position: events.last!.position + 1, stream: "s-0", streamVersion: 21, previousPositionInStream: 20, type: "test.happened",
            schemaVersion: 1, commandId: "late", actor: "tester", occurredAt: events[0].occurredAt, recordedAt: events[0].recordedAt,
            payload: [], previousHash: events.last!.hash, hash: events.last!.hash)
        try retiring.apply([late])
        #expect(retiring.reachedRetiredRows)
    }

    @Test("an audit that retires rows is clean; a forged row of a forgotten stream is named; an event that reaches one is replayed again and still clean")
    func auditWithRetiredRows() throws {
        let dir = TemporaryDirectory()
        let log = try store(dir)
        #expect(try log.verifyProjections().ok)
        let database = try log.read { $0.databases(of: "latest")["by-stream"] }
        try log.checkpoint()
        try log.environment.write { txn in try txn.put(database, key: Array("s-1".utf8), value: bigEndianKey(9) + bigEndianKey(99)) }
        let report = try log.verifyProjections()
        #expect(!report.ok)
        #expect(report.mismatches.map(\.key) == [Array("s-1".utf8)] && report.mismatches.first?.stored == bigEndianKey(9) + bigEndianKey(99))
        try log.environment.write { txn in try txn.put(database, key: Array("s-1".utf8), value: report.mismatches[0].rebuilt!) }
        // A stream forgotten long ago is written again: the first replay's sums are not trusted, the second holds every row.
        _ = try log.append(command("late", stream: "s-0", count: 2))
        let again = try log.verifyProjections()
        #expect(again.ok, "mismatches: \(again.mismatches), sums \(again.differingSums)")
    }
}
