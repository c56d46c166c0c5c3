import Glibc

/// Nanoseconds on CLOCK_MONOTONIC: the time base of every rate decision.
///
/// The limiter takes times as plain nanoseconds so tests can drive it with any clock they like; the
/// service reads this one.
enum MonotonicTime {
    /// Nanoseconds since an arbitrary fixed point (the boot, on Linux); never goes back.
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}
