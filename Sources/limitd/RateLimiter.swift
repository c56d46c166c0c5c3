import Synchronization

/// Per-key request rate limits (GCRA, see ``RateLimitPolicy``) and token accounting, for any number of
/// threads at once.
///
/// All state sits behind one mutex: a decision is a dictionary lookup and a few integer operations, far
/// shorter than the IPC call around it, so one lock serves hundreds of thousands of admissions a second.
final class RateLimiter: Sendable {
    /// The policy of keys without an override: `RATE_LIMIT_RPM` over `RATE_LIMIT_WINDOW_SEC`.
    let defaultPolicy: RateLimitPolicy
    /// The default rate, in requests per minute.
    let defaultRequestsPerMinute: UInt64
    /// The window every policy uses.
    let window: Duration
    private let table: Mutex<RecentKeyTable>

    /// A limiter with nothing tracked yet.
    /// - Parameters:
    ///   - requestsPerMinute: The default rate per key.
    ///   - window: The window the rate is enforced over; the limit per window is
    ///     `requestsPerMinute × window / 60 s`, at least 1.
    ///   - maxKeys: Most keys remembered; the least recently seen are forgotten beyond it.
    init(requestsPerMinute: Int, window: Duration, maxKeys: Int) {
        let rate = UInt64(max(1, requestsPerMinute))
        self.defaultRequestsPerMinute = rate
        self.window = window
        self.defaultPolicy = RateLimitPolicy(requestsPerMinute: rate, window: window)
        self.table = Mutex(RecentKeyTable(capacity: maxKeys))
    }

    /// The policy for a request: the default, or the key's own rate when `requestsPerMinute` > 0.
    /// - Parameter requestsPerMinute: The override from the request, 0 for none.
    /// - Returns: The policy.
    func policy(requestsPerMinute: UInt32) -> RateLimitPolicy {
        guard requestsPerMinute > 0, UInt64(requestsPerMinute) != defaultRequestsPerMinute else {
            return defaultPolicy
        }
        return RateLimitPolicy(requestsPerMinute: UInt64(requestsPerMinute), window: window)
    }

    /// Decides whether `key` may make a request now, and counts it when it may.
    ///
    /// A refused request is not counted: a client retrying too early does not push its own wait further out.
    /// - Parameters:
    ///   - key: Who is limited.
    ///   - requestsPerMinute: The key's own rate, or 0 for the default.
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: The decision.
    func admit(key: String, requestsPerMinute: UInt32 = 0, now: Int64) -> RateDecision {
        let policy = policy(requestsPerMinute: requestsPerMinute)
        return table.withLock { table in
            table.withRecord(for: key) { record in
                policy.decide(arrival: &record.theoreticalArrival, now: now)
            }
        }
    }

    /// Adds the tokens a finished request used to its key's totals (the key counts as seen).
    /// - Parameters:
    ///   - key: The key the request was admitted for.
    ///   - promptTokens: Tokens of the prompt.
    ///   - completionTokens: Tokens generated.
    func settle(key: String, promptTokens: UInt32, completionTokens: UInt32) {
        table.withLock { table in
            table.withRecord(for: key) { record in
                record.promptTokens &+= UInt64(promptTokens)
                record.completionTokens &+= UInt64(completionTokens)
            }
        }
    }

    /// What limitd remembers of `key`, without marking it as seen.
    /// - Parameter key: The key.
    /// - Returns: Its record, or nil when it is not tracked.
    func record(for key: String) -> KeyRecord? {
        table.withLock { $0.record(for: key) }
    }

    /// Keys tracked now.
    var trackedKeys: Int { table.withLock { $0.count } }

    /// Keys forgotten to stay within the bound since start.
    var forgottenKeys: Int { table.withLock { $0.forgottenCount } }
}
