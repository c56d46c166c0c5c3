/// How many requests a key may make: ``limit`` per ``window``, enforced by GCRA.
///
/// GCRA (the generic cell rate algorithm) is a sliding window without buckets or timestamps: each key
/// keeps one time, its *theoretical arrival time* (TAT), the instant by which every request it was granted
/// would have been paid for at the steady rate of one per ``interval`` (window / limit). A request at `now`
/// is allowed when `max(TAT, now) - now ≤ tolerance` (limit - 1 intervals), and then moves TAT on by one
/// interval.
///
/// What that means for a key:
/// - from a standing start it may make ``limit`` requests at once (the burst), then one more every
///   ``interval``: the allowance slides back continuously rather than all at once at a window boundary;
/// - after a whole window of quiet it has its whole burst again; after half a window, half of it;
/// - over any span of length `d` it is allowed at most `limit + d / interval` requests, so its long-run
///   rate is exactly the configured one (`RATE_LIMIT_RPM`), while one window that starts with a full burst
///   may hold up to `2 × limit - 1` (the burst, then the window's steady allowance) — the price of one
///   integer of state per key; two weighted fixed windows have the same worst case, and only a log of
///   every request's time (memory per request) avoids it;
/// - the wait after a refusal is exact: ``RateDecision/retryAfter`` is when the next request conforms.
struct RateLimitPolicy: Sendable, Equatable {
    /// Requests allowed per window (at least 1).
    let limit: UInt32
    /// The window, in nanoseconds.
    let window: Int64
    /// The emission interval: window / limit, the steady-state spacing of requests (at least 1 ns).
    let interval: Int64
    /// The burst tolerance: (limit - 1) intervals, how far TAT may run ahead of now.
    let tolerance: Int64

    private static let nanosecondsPerMillisecond: Int64 = 1_000_000
    private static let millisecondsPerMinute: UInt64 = 60_000

    /// The policy for a rate in requests per minute over a window.
    ///
    /// The limit per window is `requestsPerMinute × window / 60 s`, rounded down, at least 1 and at most
    /// `UInt32.max` (what ``LimitProtocol/AdmitReply`` carries).
    /// - Parameters:
    ///   - requestsPerMinute: The rate (0 is read as 1).
    ///   - window: The window, at least 1 ms (shorter windows are read as 1 ms).
    init(requestsPerMinute: UInt64, window: Duration) {
        let (seconds, attoseconds) = window.components
        let nanoseconds = max(Self.nanosecondsPerMillisecond, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let milliseconds = UInt64(nanoseconds / Self.nanosecondsPerMillisecond)
        // rate ≤ 2^32 and window ≤ a year in ms (< 2^35): the product cannot overflow 64 bits.
        let perWindow = min(requestsPerMinute, UInt64(UInt32.max)) * milliseconds / Self.millisecondsPerMinute
        self.init(limit: perWindow, windowNanoseconds: nanoseconds)
    }

    /// The policy of `limit` units (requests or tokens) per window.
    /// - Parameters:
    ///   - limit: Units per window, read as at least 1 and at most `UInt32.max` and one per nanosecond.
    ///   - windowNanoseconds: The window (at least 1 ms).
    init(limit: UInt64, windowNanoseconds: Int64) {
        let nanoseconds = max(Self.nanosecondsPerMillisecond, windowNanoseconds)
        // At least one unit per window, and at most one per nanosecond so the interval is never 0.
        let limit = max(1, min(limit, UInt64(UInt32.max), UInt64(nanoseconds)))
        self.limit = UInt32(limit)
        self.window = nanoseconds
        self.interval = nanoseconds / Int64(limit)
        self.tolerance = interval * (Int64(limit) - 1)
    }

    /// Decides one request of a key whose theoretical arrival time is `arrival`.
    /// - Parameters:
    ///   - arrival: The key's TAT (0 or anything ≤ `now` for a key with nothing outstanding); updated
    ///     when the request is allowed.
    ///   - now: The current time in nanoseconds, on the same clock as `arrival`.
    /// - Returns: The decision.
    func decide(arrival: inout Int64, now: Int64) -> RateDecision {
        let decision = check(arrival: arrival, now: now, cost: 1)
        if decision.allowed { arrival = decision.arrival }
        return decision.decision
    }

    /// Whether `cost` units (1 for a request, n for n tokens) conform now, without taking them.
    ///
    /// GCRA with a cost: the units conform when `max(TAT, now) + cost × interval - now ≤ limit × interval`
    /// (for a cost of 1, `ahead ≤ tolerance`), and taking them moves TAT on by `cost` intervals. A cost
    /// above ``limit`` never conforms (``CostCheck/tooLarge``).
    /// - Returns: The decision, and the TAT to store when the units are taken.
    func check(arrival: Int64, now: Int64, cost: Int64) -> CostCheck {
        let cost = max(0, cost)
        let start = max(arrival, now)
        let ahead = start - now
        let limitSpan = interval * Int64(limit)
        guard cost <= Int64(limit) else {
            return CostCheck(decision: RateDecision(allowed: false, limit: limit, remaining: remaining(arrival: arrival, now: now), retryAfter: 0),
                             arrival: arrival, tooLarge: true)
        }
        let slack = limitSpan - cost * interval
        guard ahead <= slack else {
            // Allowed again once TAT is no more than the slack ahead of the clock.
            return CostCheck(decision: RateDecision(allowed: false, limit: limit, remaining: remaining(arrival: arrival, now: now),
                                                    retryAfter: ahead - slack),
                             arrival: arrival, tooLarge: false)
        }
        let next = start + cost * interval
        return CostCheck(decision: RateDecision(allowed: true, limit: limit, remaining: remaining(arrival: next, now: now), retryAfter: 0),
                         arrival: next, tooLarge: false)
    }

    /// Units that would conform at this instant.
    func remaining(arrival: Int64, now: Int64) -> UInt32 {
        let room = interval * Int64(limit) - max(0, arrival - now)
        return room <= 0 ? 0 : UInt32(clamping: room / interval)
    }

    /// Nanoseconds until the whole allowance is back (TAT reaches the clock).
    func reset(arrival: Int64, now: Int64) -> Int64 { max(0, arrival - now) }

    /// `arrival` after `units` are given back (a reservation settled below what it held) or charged on
    /// top (a request that used more than it reserved). A TAT given back below the clock changes nothing,
    /// since decisions start from `max(TAT, now)`.
    func adjusted(arrival: Int64, by units: Int64) -> Int64 {
        let (product, overflow) = units.multipliedReportingOverflow(by: interval)
        guard !overflow else { return units > 0 ? Int64.max / 2 : arrival - Int64.max / 4 }
        return arrival + product
    }
}

/// What ``RateLimitPolicy/check(arrival:now:cost:)`` found.
struct CostCheck: Sendable, Equatable {
    /// The decision, with the remaining allowance after it.
    let decision: RateDecision
    /// The TAT to store if the units are taken.
    let arrival: Int64
    /// The cost exceeds the whole limit: it can never conform.
    let tooLarge: Bool

    var allowed: Bool { decision.allowed }
}

/// The answer to one admission: what ``LimitProtocol/AdmitReply`` carries.
struct RateDecision: Sendable, Equatable {
    /// Whether the request may go ahead.
    let allowed: Bool
    /// Requests allowed per window for the key.
    let limit: UInt32
    /// Requests the key may still make at this instant.
    let remaining: UInt32
    /// When refused, nanoseconds until a request would be allowed (> 0); 0 when allowed.
    let retryAfter: Int64

    /// `retryAfter` in whole milliseconds, rounded up so a client that waits that long is admitted; at least
    /// 1 when refused, 0 when allowed.
    var retryAfterMilliseconds: UInt32 {
        guard !allowed else { return 0 }
        let nanosecondsPerMillisecond: Int64 = 1_000_000
        let rounded = (retryAfter + nanosecondsPerMillisecond - 1) / nanosecondsPerMillisecond
        return UInt32(clamping: max(1, rounded))
    }
}
