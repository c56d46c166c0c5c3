import Glibc

/// limitd's clock: wall time, so that state kept across a restart or a reboot (and shared with other
/// hosts) means the same instants. A clock stepped backwards makes waits longer by the step, one stepped
/// forwards gives the allowance of the skipped time: NTP slews small errors instead of stepping.
enum WallClock {
    /// Nanoseconds since 1970.
    @Sendable static func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
