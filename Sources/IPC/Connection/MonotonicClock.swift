import Glibc

/// Nanoseconds on CLOCK_MONOTONIC: the time base of deadlines and event-loop timers.
enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point.
    @inline(__always)
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

extension Duration {
    /// The duration in nanoseconds; negative durations are 0, huge ones are capped at about 285 years
    /// (far beyond any deadline, and far from overflowing when added to a monotonic time).
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let cap: Int64 = 9_000_000_000
        if seconds >= cap { return UInt64(cap) * 1_000_000_000 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
