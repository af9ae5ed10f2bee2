import Foundation

/// The log's events read and decoded on a thread of their own, in batches, ahead of the thread that
/// applies them. A replay into memory spends about a quarter of its time walking LMDB's cursor and decoding
/// records; this moves that work to the other core (a time-travel view's replay).
///
/// The caller must hold no transaction of the same environment while it takes batches: a map resize (by
/// this process, or adopted from another) waits until no transaction is open, and the reader's next begin
/// waits for the resize, so the two would wait for each other. (An audit's replays compare within the
/// snapshot they replay from, and hold it: they do not use this.)
///
/// Each event handed over is also prepared here (``EventLog/Options/prepareEvent``): the engine checks its
/// type and payload on this thread, which has time to spare, not on the one that applies.
///
/// The reading thread has its own read snapshot. It may be newer than the caller's, which changes nothing:
/// the events at positions up to `to` are the same in every snapshot that holds `to` (the log only
/// appends), and the caller read `to` from a snapshot older than the reader's.
///
/// Positions must follow one another from `from` to `to`: a gap is a `corrupt` finding, as in every
/// replay. Only events some projection `wants` are decoded and handed over; the others are walked past.
final class EventReadAhead: @unchecked Sendable {
    /// Events decoded, and the position walked through (events not wanted between are not listed).
    struct Batch {
        /// The events wanted, in log order.
        var events: [RecordedEvent]
        /// The last position this batch covers.
        var through: UInt64
    }

    /// Events a batch holds at most.
    static let batchEvents = 2_048
    /// Batches waiting at most: enough that neither thread waits on the other's jitter, few enough that
    /// the events held stay small (a few MB).
    static let batchesAhead = 4

    private let condition = NSCondition()
    /// Batches read and not yet taken, under `condition`.
    private var ready: [Batch] = []
    /// The reader's end, under `condition`: nil while it runs.
    private var ended: Result<Void, any Error>?
    /// Set by the taker when it stops early, under `condition`.
    private var cancelled = false
    /// Events the taker has applied, for the reader to free, under `condition`.
    private var spent: [[RecordedEvent]] = []
    private let finished = DispatchSemaphore(value: 0)

    /// Starts reading positions `from` … `to` of `log`. A batch ends at `to` and at every position that
    /// `cutAfter` names (a replay's chunk ends), so that no batch spans two chunks.
    init(
        _ log: EventLog, from: UInt64, to: UInt64, cutAfter: @escaping @Sendable (UInt64) -> Bool,
        wants: @escaping @Sendable (UnsafeRawBufferPointer?) -> Bool
    ) {
        precondition(from >= 1 && from <= to, "a read-ahead reads at least one position")
        Thread.detachNewThread { [self] in
            let result = Result { try read(log, from: from, to: to, cutAfter: cutAfter, wants: wants) }
            condition.withLock {
                ended = result
                condition.broadcast()
            }
            finished.signal()
        }
    }

    /// The next batch, or nil once every position was read. Throws what the reader met (a gap, a record
    /// that does not decode, LMDB's error).
    func next() throws -> Batch? {
        try condition.withLock {
            while ready.isEmpty && ended == nil { condition.wait() }
            if !ready.isEmpty {
                condition.broadcast()
                return ready.removeFirst()
            }
            try ended!.get()
            return nil
        }
    }

    /// Takes back a batch the caller has applied, leaving it empty, so that the reading thread frees its
    /// events (their strings and payloads: a tenth of a replay's applying thread, callgrind).
    func recycle(_ batch: inout Batch) {
        let events = batch.events
        batch.events = []
        condition.withLock { spent.append(events) }
    }

    /// Stops the reader if it still runs and waits for its thread to end: call it before the log may
    /// close, however the replay ended.
    func finish() {
        condition.withLock {
            cancelled = true
            condition.broadcast()
        }
        finished.wait()
        finished.signal()
    }

    private func read(
        _ log: EventLog, from: UInt64, to: UInt64, cutAfter: (UInt64) -> Bool, wants: (UnsafeRawBufferPointer?) -> Bool
    ) throws {
        try log.environment.read { txn in
            // A walk in key order of the log alone: the walk's interval between checks, not a replay's.
            var budget = MappedPagesBudget(checkEvery: MappedPagesBudget.walkCheckEvery, releasingFirst: log.environment)
            var expected = from
            var batch = Batch(events: [], through: 0)
            batch.events.reserveCapacity(Self.batchEvents)
            let prepare = log.options.prepareEvent
            try txn.walk(log.events, from: bigEndianKey(from)) { key, record in
                guard let position = bigEndianValue(key), position <= to else { return false }
                guard position == expected else { throw LogError.corrupt(position: expected, reason: "missing; the next stored position is \(position)") }
                if wants(RecordCodec.type(of: record)) {
                    var event = try RecordCodec.decode(record, expectedPosition: position)
                    if let prepare { event.prepared = prepare(event) }
                    batch.events.append(event)
                }
                expected += 1
                budget.step(log.environment)
                guard batch.events.count == Self.batchEvents || position == to || cutAfter(position) else { return true }
                batch.through = position
                let handedOver = hand(batch)
                batch = Batch(events: [], through: 0)
                batch.events.reserveCapacity(Self.batchEvents)
                return handedOver
            }
            if !condition.withLock({ cancelled }) && expected != to + 1 {
                throw LogError.corrupt(position: expected, reason: "missing while replaying to \(to)")
            }
        }
    }

    /// Queues `batch` once there is room; false when the taker stopped. The spent batches taken back
    /// meanwhile are freed here, on the reading thread, outside the lock.
    private func hand(_ batch: Batch) -> Bool {
        // Released when this returns, after the lock.
        var freed: [[RecordedEvent]] = []
        return condition.withLock {
            while ready.count >= Self.batchesAhead && !cancelled { condition.wait() }
            swap(&freed, &spent)
            guard !cancelled else { return false }
            ready.append(batch)
            condition.broadcast()
            return true
        }
    }
}
