import Foundation

/// Bounds how much of the stores' maps a long replay keeps resident.
///
/// A replay reads the log in order but the projections' trees at random, and Linux maps more than the
/// page read: on a fault in a file mapping it also maps up to 15 neighbouring pages already in the page
/// cache ("fault-around", 64 KiB), and `MADV_RANDOM` does not turn that off. A replay of a store larger
/// than memory therefore gains 64 KiB of resident set per random page read — 10,000 random reads of a
/// 2.5 GB store measured +606 MB — and a fixed "release every N events" cannot bound it, since how many
/// pages an event touches depends on the store. So the budget measures instead: every
/// ``checkEvery`` steps it reads this process's file-backed resident size (`/proc/self/statm`,
/// a few microseconds) and, when the maps have added more than ``budgetBytes`` to what the process
/// held when the budget was made (its code and libraries, which may be large in a big program), releases
/// the maps' pages
/// (``Environment/releaseMappedPages()``). The pages stay in the page cache; the next access maps them
/// back.
public struct MappedPagesBudget {
    /// The default budget: how much file-backed resident memory the maps' pages may add. 32 MB rather
    /// than the first 96: `audit verify` of the pilots' store took the same time (medians 17.6 s at 32 MB,
    /// 17.3 s at 48 MB, of three runs alternated) and peaked at 288 MB rather than 307 MB or 349 MB.
    public static let defaultBytes = 32 << 20
    /// Steps between two measurements for a replay, whose every event reads pages at random.
    public static let replayCheckEvery = 64
    /// Steps between two measurements for a walk in key order (the chain pass, digests), whose steps
    /// mostly read pages already mapped: measuring as often would cost more than it saves.
    public static let walkCheckEvery = 1_024

    /// How many file-backed resident bytes the maps may add before ``step(_:)`` releases their pages.
    public let budgetBytes: Int
    /// The file-backed resident bytes above which the pages are released: what the process held when the
    /// budget was made, plus ``budgetBytes``.
    public let thresholdBytes: Int
    /// Steps between two measurements.
    public let checkEvery: Int
    private var countdown: Int
    /// How many times the pages were released (for tests and benchmarks).
    public private(set) var releases = 0

    /// A budget of `budgetBytes` of file-backed resident memory over what the process holds once the pages
    /// of `environments` are released (the caller holds a transaction of each), measured every
    /// `checkEvery` steps. Releasing first keeps the pages an earlier walk left mapped out of the baseline,
    /// so that budgets made one after another cannot creep upwards.
    public init(
        budgetBytes: Int = MappedPagesBudget.defaultBytes, checkEvery: Int = MappedPagesBudget.replayCheckEvery,
        releasingFirst environments: Environment?...
    ) {
        precondition(budgetBytes > 0 && checkEvery > 0)
        for environment in environments { environment?.releaseMappedPages() }
        self.budgetBytes = budgetBytes
        self.thresholdBytes = (Self.residentFileBytes() ?? 0) + budgetBytes
        self.checkEvery = checkEvery
        self.countdown = checkEvery
    }

    /// Counts one step; every ``checkEvery`` steps, releases the pages of `environments` when the
    /// process is over budget. The caller holds a transaction of each environment (the map cannot move).
    /// Inlined down to the count, so that a step costs no call and no array of its arguments: the chain
    /// pass takes one per event.
    @inline(__always)
    public mutating func step(_ environment: Environment?, _ another: Environment? = nil) {
        countdown -= 1
        guard countdown == 0 else { return }
        check(environment, another)
    }

    /// Every ``checkEvery`` steps: releases the pages when the process is over budget.
    @inline(never)
    private mutating func check(_ environment: Environment?, _ another: Environment?) {
        countdown = checkEvery
        guard let resident = Self.residentFileBytes(), resident > thresholdBytes else { return }
        environment?.releaseMappedPages()
        another?.releaseMappedPages()
        releases += 1
    }

    /// This process's file-backed (and shared) resident bytes: the third field of `/proc/self/statm`, in
    /// pages. Nil where there is no such file (then nothing is released).
    public static func residentFileBytes() -> Int? {
        // Read again from the start of the file opened once: opening it at every measurement (its path
        // looked up anew each time) was 3.5 % of an audit of 200,000 ledger commands (perf). Where that
        // first open failed, each measurement opens the file for itself, as before.
        let kept = statm
        let fd = kept >= 0 ? kept : open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { if kept < 0 { close(fd) } }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { buffer -> Int? in
            var count = pread(fd, buffer.baseAddress, buffer.count, 0)
            while count < 0 && errno == EINTR { count = pread(fd, buffer.baseAddress, buffer.count, 0) }
            guard count > 0 else { return nil }
            // "size resident shared text lib data dt": the third number.
            var field = 0, pages = 0, digits = 0
            for byte in buffer[..<count] {
                if byte == 0x20 {
                    field += 1
                    if field == 3 { break }
                } else if field == 2, (0x30...0x39).contains(byte) {
                    pages = pages * 10 + Int(byte - 0x30)
                    digits += 1
                }
            }
            return digits > 0 ? pages * pageBytes : nil
        }
    }

    /// `/proc/self/statm`, opened once for the process (closed on exec), or -1 where there is none.
    private static let statm: Int32 = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
    private static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))
}
