import Services

/// The limits of a key whose request names none of its own: limitd's settings.
struct LimitDefaults: Sendable, Equatable {
    /// `RATE_LIMIT_RPM` (at least 1).
    var requestsPerMinute: UInt32
    /// `RATE_LIMIT_WINDOW_SEC`, in nanoseconds: the window of every requests-per-minute limit.
    var window: Int64
    /// `RATE_LIMIT_RPH` (0: none).
    var requestsPerHour: UInt32 = 0
    /// `RATE_LIMIT_TPM` (0: none).
    var tokensPerMinute: UInt32 = 0
    /// `RATE_LIMIT_MAX_PARALLEL` (0: none).
    var maxParallel: UInt32 = 0

    static let nanosecondsPerMinute: Int64 = 60_000_000_000
    static let nanosecondsPerHour: Int64 = 3_600_000_000_000

    /// Defaults from a rate and a window, the rest unlimited.
    init(requestsPerMinute: Int, window: Duration, requestsPerHour: Int = 0, tokensPerMinute: Int = 0, maxParallel: Int = 0) {
        self.requestsPerMinute = UInt32(clamping: max(1, requestsPerMinute))
        let (seconds, attoseconds) = window.components
        self.window = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        self.requestsPerHour = UInt32(clamping: max(0, requestsPerHour))
        self.tokensPerMinute = UInt32(clamping: max(0, tokensPerMinute))
        self.maxParallel = UInt32(clamping: max(0, maxParallel))
    }

    /// The GCRA policy of a requests-per-minute rate over `RATE_LIMIT_WINDOW_SEC`.
    func minutePolicy(_ requestsPerMinute: UInt32) -> RateLimitPolicy {
        RateLimitPolicy(requestsPerMinute: UInt64(requestsPerMinute), window: .nanoseconds(window))
    }

    /// A key's limits with these defaults in place of its zeros.
    func resolve(_ limits: LimitProtocol.Limits) -> LimitProtocol.Limits {
        LimitProtocol.Limits(
            requestsPerMinute: limits.requestsPerMinute > 0 ? limits.requestsPerMinute : requestsPerMinute,
            requestsPerHour: limits.requestsPerHour > 0 ? limits.requestsPerHour : requestsPerHour,
            tokensPerMinute: limits.tokensPerMinute > 0 ? limits.tokensPerMinute : tokensPerMinute,
            maxParallel: limits.maxParallel > 0 ? limits.maxParallel : maxParallel)
    }
}
