import Glibc

/// CLOCK_MONOTONIC in nanoseconds: the one time base for deadlines, timers, ages and rates in every
/// daemon (a vDSO call, no syscall). It never goes back; its zero is arbitrary (the boot, on Linux).
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point.
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The same instant as a signed count, for arithmetic that may go below zero (rate limiters,
    /// expiry), where tests drive the code with times of their own.
    @inline(__always)
    public static func nowSigned() -> Int64 {
        Int64(bitPattern: now())
    }
}
