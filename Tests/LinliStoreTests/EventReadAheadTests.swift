import Foundation
@testable import LinliStore
import Testing

/// The read-ahead that decodes a replay's events on another thread, over a real store.
@Suite("Events read ahead on a thread of their own")
struct EventReadAheadTests {
    /// A store of `events` events, every third of them on stream `odd` (any type: the filter reads types).
    private func store(_ dir: TemporaryDirectory, events: Int) throws -> EventLog {
        let log = try EventLog.create(at: dir.sub("store"), options: logOptions())
        var commands: [AppendCommand] = []
        for index in 0..<events {
            var one = command("c-\(index)", stream: index % 3 == 0 ? "odd" : "even")
            one.events[0].type = index % 3 == 0 ? "test.odd" : "test.even"
            commands.append(one)
        }
        _ = try log.append(commands)
        return log
    }

    @Test("hands over the wanted events in order, each batch ending at a chunk's end, at the last position or when full")
    func batchesInOrder() throws {
        let dir = TemporaryDirectory()
        let log = try store(dir, events: 5_000)
        // Position 1 is the log's own first event; the test's events follow.
        let last = try log.head.position
        let readAhead = EventReadAhead(
            log, from: 2, to: last - 1, cutAfter: { $0 % 1_000 == 0 },
            wants: { type in type.map { Array($0) == Array("test.odd".utf8) } ?? true })
        defer { readAhead.finish() }
        var positions: [UInt64] = []
        var ends: [UInt64] = []
        while let batch = try readAhead.next() {
            #expect(batch.events.count <= EventReadAhead.batchEvents)
            #expect(batch.events.allSatisfy { $0.type == "test.odd" && $0.position <= batch.through })
            #expect(batch.events.first.map { $0.position > (ends.last ?? 1) } ?? true, "a batch starts after the last one ended")
            positions += batch.events.map(\.position)
            ends.append(batch.through)
        }
        let expected = try log.read { reader in
            var wanted: [UInt64] = []
            try reader.forEachEvent(from: 2) { event in
                if event.position <= last - 1 && event.type == "test.odd" { wanted.append(event.position) }
                return true
            }
            return wanted
        }
        #expect(positions == expected)
        #expect(ends.last == last - 1)
        // Every chunk's end closes a batch, so that no batch spans two chunks.
        for end in stride(from: UInt64(1_000), to: last - 1, by: 1_000) { #expect(ends.contains(end), "\(end)") }
    }

    /// What a preparation made, with the position it was made for.
    private final class Mark: Sendable {
        let position: UInt64
        init(_ position: UInt64) { self.position = position }
    }

    @Test("each event handed over carries what the log's preparation made of it, on the reading thread")
    func eventsArePrepared() throws {
        let dir = TemporaryDirectory()
        var options = logOptions()
        options.prepareEvent = { event in Thread.isMainThread ? nil : Mark(event.position) }
        let log = try EventLog.create(at: dir.sub("store"), options: options)
        _ = try log.append((0..<3_000).map { command("c-\($0)", stream: "s") })
        let readAhead = EventReadAhead(log, from: 1, to: try log.head.position, cutAfter: { _ in false }, wants: { _ in true })
        defer { readAhead.finish() }
        var count = 0
        while let batch = try readAhead.next() {
            for event in batch.events {
                #expect((event.prepared as? Mark)?.position == event.position, "\(event.position)")
                count += 1
            }
        }
        #expect(try count == 3_000 && count == Int(log.head.position))
    }

    /// Counts the preparations freed on the thread that made it and on others.
    private final class Freed: @unchecked Sendable {
        let lock = NSLock()
        var onTaker = 0, elsewhere = 0
    }

    /// A preparation that says, when freed, whether the taker's thread freed it.
    private final class Tracked: Sendable {
        let freed: Freed
        let taker: pthread_t
        init(_ freed: Freed, taker: pthread_t) { (self.freed, self.taker) = (freed, taker) }
        deinit {
            let mine = pthread_equal(pthread_self(), taker) != 0
            freed.lock.withLock { if mine { freed.onTaker += 1 } else { freed.elsewhere += 1 } }
        }
    }

    @Test("batches taken back are freed on the reading thread, not the applying one")
    func spentBatchesFreedByTheReader() throws {
        let dir = TemporaryDirectory()
        let freed = Freed(), taker = pthread_self()
        var options = logOptions()
        options.prepareEvent = { _ in Tracked(freed, taker: taker) }
        let log = try EventLog.create(at: dir.sub("store"), options: options)
        _ = try log.append((0..<20_000).map { command("c-\($0)", stream: "s") })
        do {
            let readAhead = EventReadAhead(log, from: 1, to: try log.head.position, cutAfter: { _ in false }, wants: { _ in true })
            while var batch = try readAhead.next() {
                #expect(!batch.events.isEmpty)
                readAhead.recycle(&batch)
                #expect(batch.events.isEmpty, "the batch is handed back whole")
            }
            readAhead.finish()
        }
        // The last batches come back after the reader's last hand-over: whichever thread lets the read-ahead
        // go frees those, maybe a little later. All the others were freed by the reader.
        let (onTaker, elsewhere) = freed.lock.withLock { (freed.onTaker, freed.elsewhere) }
        let last = (EventReadAhead.batchesAhead + 1) * EventReadAhead.batchEvents
        #expect(onTaker <= last && elsewhere >= 20_000 - last && onTaker + elsewhere <= 20_000, "\(onTaker) freed by the taker, \(elsewhere) elsewhere")
    }

    @Test("stopped early, its thread ends and nothing waits for ever", .timeLimit(.minutes(1)))
    func stoppedEarly() throws {
        let dir = TemporaryDirectory()
        let log = try store(dir, events: 20_000)
        for _ in 0..<20 {
            let readAhead = EventReadAhead(log, from: 1, to: try log.head.position, cutAfter: { _ in false }, wants: { _ in true })
            #expect(try readAhead.next() != nil)
            readAhead.finish()
            readAhead.finish()
        }
    }
}
