import LinliStore

/// Arithmetic on amounts read back from stored events: points, fen, minutes, quantities, areas.
///
/// Two kinds of invariant are kept apart (TIGER_STYLE). What only a bug in Linli can break stays a
/// precondition. What stored data can break — a forged export whose chain was recomputed (which costs
/// nothing), a store edited by hand — is a ``LogError/corrupt(position:reason:)`` naming the position, so
/// that `linli audit verify` reports it as a finding and an import refuses it, instead of trapping with no
/// position. The commands' limits make these overflows impossible for events Linli wrote itself.
enum StoredArithmetic {
    /// `a + b`, or corrupt at `position` when it overflows.
    static func add(_ a: Int64, _ b: Int64, _ what: @autoclosure () -> String, at position: UInt64) throws(LogError) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw LogError.corrupt(position: position, reason: "\(what()) overflows: \(a) + \(b)") }
        return sum
    }

    /// `a − b`, or corrupt at `position` when it overflows.
    static func subtract(_ a: Int64, _ b: Int64, _ what: @autoclosure () -> String, at position: UInt64) throws(LogError) -> Int64 {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        guard !overflow else { throw LogError.corrupt(position: position, reason: "\(what()) overflows: \(a) − \(b)") }
        return difference
    }

    /// The value when it lies in `range` (the range its command accepts), else corrupt at `position`.
    static func inRange(_ value: Int64, _ range: ClosedRange<Int64>, _ what: @autoclosure () -> String, at position: UInt64) throws(LogError) -> Int64 {
        guard range.contains(value) else {
            throw LogError.corrupt(
                position: position, reason: "\(what()) is \(value), outside \(range.lowerBound)…\(range.upperBound): no command records that")
        }
        return value
    }
}
