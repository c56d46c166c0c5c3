import Basics

/// A point on Basics' ``MonotonicClock``, in nanoseconds: deadlines for connecting and for replies.
struct MonotonicTime: Comparable, Sendable {
    let nanoseconds: UInt64

    static func now() -> MonotonicTime {
        MonotonicTime(nanoseconds: MonotonicClock.now())
    }

    /// This instant plus `duration` (negative durations count as zero; huge ones as about 292 years,
    /// where `Duration.nanoseconds` saturates: a deadline never reached).
    func adding(_ duration: Duration) -> MonotonicTime {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(UInt64(duration.nanoseconds))
        return MonotonicTime(nanoseconds: overflow ? .max : sum)
    }

    /// Milliseconds from `self` until `later`, rounded up so that a poll() with this timeout never
    /// wakes before the deadline (and so never spins); 0 when `later` has passed.
    func millisecondsUntil(_ later: MonotonicTime) -> Int32 {
        guard later.nanoseconds > nanoseconds else { return 0 }
        let milliseconds = (later.nanoseconds - nanoseconds + 999_999) / 1_000_000
        return Int32(clamping: milliseconds)
    }

    static func < (lhs: MonotonicTime, rhs: MonotonicTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
