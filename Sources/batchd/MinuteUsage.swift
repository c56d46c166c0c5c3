/// One deployment's use of its per-minute caps (the registry's `rpm` and `tpm`), in fixed one-minute
/// windows of the monotonic clock.
///
/// - requests: every request sent to the deployment in the window counts (a retry sent elsewhere
///   counts there);
/// - tokens: the tokens requests *used* (settled when each ends, in the window it ends in) plus the
///   estimate of those still running (prompt estimate + max tokens), whatever window they began in.
///
/// A deployment is at its cap while either count has reached its cap: it takes no request until the
/// window ends. The request that reaches a cap is not held back by its own size, so the tokens of a
/// window may end above `tpm` by at most one request's.
struct MinuteUsage: Sendable {
    /// Nanoseconds in a window.
    static let window: Int64 = 60_000_000_000

    let requestsPerMinute: Int?
    let tokensPerMinute: Int?
    /// The window the counts belong to (`now / window`).
    private(set) var current: Int64 = .min
    private(set) var requests = 0
    private(set) var settledTokens = 0
    /// Estimates of the tokens of requests in flight.
    private(set) var reservedTokens = 0

    init(requestsPerMinute: Int?, tokensPerMinute: Int?) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }

    /// When the deployment's caps lift, if it is at one now; nil while it has room (or has no caps).
    mutating func cappedUntil(now: Int64) -> Int64? {
        roll(now)
        let requestsFull = requestsPerMinute.map { requests >= $0 } ?? false
        let tokensFull = tokensPerMinute.map { settledTokens + reservedTokens >= $0 } ?? false
        guard requestsFull || tokensFull else { return nil }
        return (current &+ 1) &* Self.window
    }

    /// A request is sent: it counts now, with `estimate` tokens reserved until ``settle(now:estimate:used:)``.
    mutating func claim(now: Int64, estimate: Int) {
        roll(now)
        requests += 1
        reservedTokens += max(0, estimate)
    }

    /// A request ended: its estimate is released and the tokens it used count in this window.
    mutating func settle(now: Int64, estimate: Int, used: Int) {
        roll(now)
        reservedTokens = max(0, reservedTokens - max(0, estimate))
        settledTokens += max(0, used)
    }

    private mutating func roll(_ now: Int64) {
        let window = now >= 0 ? now / Self.window : (now - Self.window + 1) / Self.window
        guard window != current else { return }
        current = window
        requests = 0
        settledTokens = 0
    }
}
