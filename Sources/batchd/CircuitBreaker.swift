/// One deployment's circuit breaker, with the knobs users of the original API know
/// (CIRCUIT_BREAKER_FAILURE_THRESHOLD, CIRCUIT_BREAKER_TIMEOUT_SEC):
///
/// - **closed**: requests flow; `failureThreshold` retryable failures in a row (connection refused or
///   reset, timeout, 5xx, 429) open it. A success resets the count.
/// - **open**: requests are not sent; after `openDuration` (or a 429's Retry-After, when longer) it
///   becomes half-open.
/// - **half-open**: one request (a probe) is let through; its success closes the breaker, its failure
///   opens it again for another full period. A health probe that costs no tokens counts the same way.
///
/// Times are nanoseconds on any monotonic clock the caller chooses, so tests drive it by hand.
struct CircuitBreaker: Sendable {
    enum State: String, Sendable {
        case closed
        case open
        case halfOpen = "half-open"

        /// The value of `infer_batchd_breaker_state`: 0 closed, 1 open, 2 half-open.
        var gaugeValue: Double {
            switch self {
            case .closed: 0
            case .open: 1
            case .halfOpen: 2
            }
        }
    }

    /// What the breaker says to a request that wants to go.
    enum Admission: Equatable, Sendable {
        /// Go: the breaker is closed.
        case allowed
        /// Go as the half-open probe: report its outcome, or ``CircuitBreaker/releaseProbe()`` it.
        case probe
        /// Do not go before `until`.
        case refused(until: Int64)
    }

    /// A change of state, for logs and metrics.
    struct Transition: Equatable, Sendable {
        let from: State
        let to: State
        let reason: String
    }

    let failureThreshold: Int
    let openDuration: Int64
    private(set) var state: State = .closed
    private(set) var consecutiveFailures = 0
    /// When an open breaker turns half-open.
    private(set) var openUntil: Int64 = 0
    private var probeOut = false

    /// - Parameters:
    ///   - failureThreshold: Consecutive retryable failures that open the breaker (at least 1).
    ///   - openDuration: Nanoseconds it stays open before admitting a probe.
    init(failureThreshold: Int, openDuration: Int64) {
        self.failureThreshold = max(1, failureThreshold)
        self.openDuration = max(0, openDuration)
    }

    /// Asks to send a request now.
    /// - Returns: The verdict, and the transition to half-open when the open period has just ended.
    mutating func admit(now: Int64) -> (Admission, Transition?) {
        switch state {
        case .closed:
            return (.allowed, nil)
        case .open:
            guard now >= openUntil else { return (.refused(until: openUntil), nil) }
            state = .halfOpen
            probeOut = true
            return (.probe, Transition(from: .open, to: .halfOpen, reason: "open period over; one probe admitted"))
        case .halfOpen:
            if probeOut { return (.refused(until: now + max(1, openDuration / 10)), nil) }
            probeOut = true
            return (.probe, nil)
        }
    }

    /// Whether a request could go now, without claiming the probe (for routing choices and readiness).
    func isAvailable(now: Int64) -> Bool {
        switch state {
        case .closed: true
        case .open: now >= openUntil
        case .halfOpen: !probeOut
        }
    }

    /// A request (or health probe) succeeded.
    mutating func recordSuccess() -> Transition? {
        consecutiveFailures = 0
        probeOut = false
        guard state != .closed else { return nil }
        let from = state
        state = .closed
        return Transition(from: from, to: .closed, reason: "a request succeeded")
    }

    /// A request (or health probe) failed in a way that says the deployment is unwell.
    /// - Parameters:
    ///   - now: The time of the failure.
    ///   - retryAfter: Nanoseconds the deployment asked to be left alone (a 429's Retry-After), if any:
    ///     the breaker then opens at once for at least that long.
    ///   - reason: Words for the log line.
    mutating func recordFailure(now: Int64, retryAfter: Int64? = nil, reason: String) -> Transition? {
        consecutiveFailures += 1
        probeOut = false
        let wait = max(openDuration, retryAfter ?? 0)
        switch state {
        case .closed:
            guard consecutiveFailures >= failureThreshold || retryAfter != nil else { return nil }
            state = .open
            openUntil = now &+ wait
            return Transition(from: .closed, to: .open, reason: "\(consecutiveFailures) failure(s) in a row: \(reason)")
        case .halfOpen:
            state = .open
            openUntil = now &+ wait
            return Transition(from: .halfOpen, to: .open, reason: "the probe failed: \(reason)")
        case .open:
            openUntil = max(openUntil, now &+ wait)
            return nil
        }
    }

    /// A probe ended without a verdict (cancelled by its client, or refused as a bad request): the next
    /// request may probe instead.
    mutating func releaseProbe() {
        probeOut = false
    }
}
