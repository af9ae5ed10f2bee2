import LinliStore

/// ISO 8601 weeks (Monday to Sunday) in China Standard Time (Asia/Shanghai: UTC+8 all year, no daylight
/// saving). Plan adherence is counted per week as the communities live it: a delivery at 07:00 on a Monday
/// in Quzhou is still Sunday 23:00 in UTC, and counts for the week that Monday begins.
public struct ISOWeek: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The day number (days since 1970-01-01, local) of the week's Monday: a sortable, gap-free key.
    public let mondayDay: Int

    /// The week holding an instant, in China Standard Time.
    public init(containing time: Timestamp) {
        let day = time.dayNumber(offsetMinutes: Timestamp.shanghaiOffsetMinutes)
        mondayDay = day - ISOWeek.weekdayIndex(day)
    }

    /// The week whose Monday is `mondayDay`.
    public init(mondayDay: Int) {
        precondition(ISOWeek.weekdayIndex(mondayDay) == 0, "a week starts on a Monday")
        self.mondayDay = mondayDay
    }

    /// 0 for Monday … 6 for Sunday (1970-01-01 was a Thursday).
    static func weekdayIndex(_ day: Int) -> Int { ((day % 7) + 7 + 3) % 7 }

    /// The first instant of the week (Monday 00:00 +08:00), in ms since 1970.
    public var startMs: Int64 { Int64(mondayDay) * 86_400_000 - Int64(Timestamp.shanghaiOffsetMinutes) * 60_000 }
    /// The first instant of the next week.
    public var endMs: Int64 { startMs + 7 * 86_400_000 }

    /// The ISO week-numbering year and week (the year of the week's Thursday).
    public var yearAndWeek: (year: Int, week: Int) {
        let thursday = mondayDay + 3
        let year = Timestamp(epochMilliseconds: Int64(thursday) * 86_400_000).local.year
        let januaryFirst = daysFromCivil(year, 1, 1)
        return (year, (thursday - januaryFirst) / 7 + 1)
    }

    /// "2024-W10".
    public var description: String {
        let (year, week) = yearAndWeek
        return "\(year)-W\(week < 10 ? "0" : "")\(week)"
    }

    public static func < (lhs: ISOWeek, rhs: ISOWeek) -> Bool { lhs.mondayDay < rhs.mondayDay }
}
