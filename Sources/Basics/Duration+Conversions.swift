/// The conversions of `Duration` every target needs, in one place, each saturating rather than
/// trapping: a setting of a billion seconds must never crash a daemon.
extension Duration {
    /// Whole nanoseconds for deadlines on ``MonotonicClock``: negative durations are 0, huge ones are
    /// capped at about 285 years (far beyond any deadline, and far from overflowing when added to a
    /// monotonic time).
    public var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let cap: Int64 = 9_000_000_000
        if seconds >= cap { return UInt64(cap) * 1_000_000_000 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// Whole nanoseconds as a signed count: negative durations are 0, huge ones `Int64.max`.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return Int64.max }
        let (total, sumOverflow) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return sumOverflow ? Int64.max : max(0, total)
    }

    /// Whole milliseconds (saturating), for log fields and settings shown to people.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return whole + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a `Double`, for histograms.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
