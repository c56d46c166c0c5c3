import Glibc

/// CLOCK_MONOTONIC in nanoseconds: the event loops' time base for deadlines (a vDSO call, no syscall).
enum MonotonicClock {
    @inline(__always)
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
