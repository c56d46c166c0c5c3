/// How long to wait between reconnection attempts: exponential, capped, with jitter.
///
/// The first attempt after a connection is lost is immediate (the server may only have closed an idle
/// connection); attempt *n* ≥ 1 waits between half and all of `min(maximum, initial × 2^(n-1))`, so
/// clients that lost the same server do not all come back in the same millisecond.
public struct RedisBackoff: Sendable, Hashable {
    /// The delay before the second attempt, before jitter.
    public var initial: Duration
    /// The longest delay, before jitter.
    public var maximum: Duration

    /// A backoff policy.
    /// - Parameters:
    ///   - initial: The delay before the second attempt (default 50 ms).
    ///   - maximum: The cap (default 2 s).
    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(2)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before attempt `attempt` (0 for the first).
    /// - Parameters:
    ///   - attempt: How many attempts have failed since the last success.
    ///   - jitter: A number in `0..<1` (random in use; fixed in tests).
    /// - Returns: The time to wait.
    public func delay(beforeAttempt attempt: Int, jitter: Double = Double.random(in: 0..<1)) -> Duration {
        guard attempt > 0 else { return .zero }
        // 2^20 × any sane initial delay is beyond any sane maximum; the cap keeps the shift in range.
        let doublings = min(attempt - 1, 20)
        let uncapped = initial * (1 << doublings)
        let capped = min(max(uncapped, .zero), maximum)
        return capped * (0.5 + 0.5 * min(max(jitter, 0), 1))
    }
}
