import Glibc

/// A point on CLOCK_MONOTONIC, in nanoseconds: deadlines for connecting and for replies.
struct MonotonicTime: Comparable, Sendable {
    let nanoseconds: UInt64

    static func now() -> MonotonicTime {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return MonotonicTime(nanoseconds: UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec))
    }

    /// This instant plus `duration` (negative durations count as zero; saturating far in the future).
    func adding(_ duration: Duration) -> MonotonicTime {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(Self.nanoseconds(in: duration))
        return MonotonicTime(nanoseconds: overflow ? .max : sum)
    }

    /// Milliseconds from `self` until `later`, rounded up so that a poll() with this timeout never
    /// wakes before the deadline (and so never spins); 0 when `later` has passed.
    func millisecondsUntil(_ later: MonotonicTime) -> Int32 {
        guard later.nanoseconds > nanoseconds else { return 0 }
        let milliseconds = (later.nanoseconds - nanoseconds + 999_999) / 1_000_000
        return Int32(clamping: milliseconds)
    }

    static func nanoseconds(in duration: Duration) -> UInt64 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (sum, overflowSum) = whole.addingReportingOverflow(UInt64(max(attoseconds, 0) / 1_000_000_000))
        return overflowSum ? .max : sum
    }

    static func < (lhs: MonotonicTime, rhs: MonotonicTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
