import IPC
import Metrics
import Services

/// limitd's metrics, registered once; metricsd collects them through the stats message.
struct LimitMetrics: Sendable {
    /// The registry the families live in.
    let registry: MetricsRegistry
    private let decisions: MetricsRegistry.Counter
    private let refusals: MetricsRegistry.Counter
    private let tokens: MetricsRegistry.Counter
    private let spend: MetricsRegistry.Counter
    private let expired: MetricsRegistry.Counter
    private let unknownSettlements: MetricsRegistry.Counter
    private let journalErrors: MetricsRegistry.Counter
    private let trackedKeys: MetricsRegistry.Gauge
    private let reservations: MetricsRegistry.Gauge
    private let redisUnavailable: MetricsRegistry.Counter
    private let redisUp: MetricsRegistry.Gauge

    private static let allowed = [MetricLabel("result", "allowed")]
    private static let refused = [MetricLabel("result", "refused")]
    private static let budgetExceeded = [MetricLabel("result", "budget_exceeded")]
    private static let tooLarge = [MetricLabel("result", "too_large")]
    private static let unavailable = [MetricLabel("result", "unavailable")]
    private static let prompt = [MetricLabel("kind", "prompt")]
    private static let completion = [MetricLabel("kind", "completion")]

    /// Registers limitd's families in `registry`.
    /// - Parameter registry: The daemon's registry.
    init(registry: MetricsRegistry) {
        self.registry = registry
        decisions = registry.counter(
            "infer_limitd_decisions_total",
            help: "Admission decisions, by result (allowed, refused by a rate or concurrency limit, budget_exceeded, too_large, unavailable: Redis away and LIMITS_REDIS_FAILURE=closed).",
            series: [Self.allowed, Self.refused, Self.budgetExceeded, Self.tooLarge, Self.unavailable])
        refusals = registry.counter(
            "infer_limitd_refusals_total", help: "Refused admissions, by the limit that refused (rpm, rph, tpm, max_parallel, budget; model_ for a key and model).")
        tokens = registry.counter(
            "infer_limitd_tokens_total", help: "Tokens settled by finished requests, by kind (prompt or completion).",
            series: [Self.prompt, Self.completion])
        spend = registry.counter("infer_limitd_spend_usd_total", help: "USD charged to API keys by settlements (not counting expired reservations, see infer_limitd_reservations_expired_total).", series: [[]])
        expired = registry.counter(
            "infer_limitd_reservations_expired_total", help: "Reservations whose lease ran out unsettled, charged at their worst case.", series: [[]])
        unknownSettlements = registry.counter(
            "infer_limitd_settlements_unknown_total", help: "Settlements of a reservation limitd did not hold (already ended or expired).", series: [[]])
        journalErrors = registry.counter(
            "infer_limitd_journal_errors_total", help: "Failed writes or fsyncs of the state journal or snapshot (each logged).", series: [[]])
        trackedKeys = registry.gauge(
            "infer_limitd_tracked_keys", help: "Keys (and key-and-model scopes) whose rate state limitd remembers now.", series: [[]])
        reservations = registry.gauge(
            "infer_limitd_reservations", help: "Reservations held now: requests admitted and not yet settled.", series: [[]])
        redisUnavailable = registry.counter(
            "infer_limitd_redis_unavailable_total",
            help: "Admissions decided without Redis (LIMITS_BACKEND=redis): on local limits (LIMITS_REDIS_FAILURE=open) or refused (closed).",
            series: [[]])
        redisUp = registry.gauge(
            "infer_limitd_redis_up", help: "1 while Redis answered the last call (LIMITS_BACKEND=redis), 0 while it does not.")
    }

    /// Counts one decision of the version-1 `Admit`.
    /// - Parameter allowed: Whether the request was allowed.
    func recordDecision(allowed: Bool) {
        decisions.increment(allowed ? Self.allowed : Self.refused)
        if !allowed { refusals.increment([MetricLabel("limit", "rpm")]) }
    }

    /// Counts one reservation decision.
    func record(_ reply: LimitProtocol.ReserveReply) {
        switch reply.outcome {
        case .allowed: decisions.increment(Self.allowed)
        case .rateLimited: decisions.increment(Self.refused)
        case .budgetExceeded: decisions.increment(Self.budgetExceeded)
        case .tooLarge: decisions.increment(Self.tooLarge)
        case .unavailable: decisions.increment(Self.unavailable)
        }
        if reply.outcome != .allowed && reply.outcome != .unavailable { refusals.increment([MetricLabel("limit", reply.refusedBy)]) }
    }

    /// Counts the tokens of one settled request.
    /// - Parameters:
    ///   - prompt: Prompt tokens.
    ///   - completion: Completion tokens.
    func recordTokens(prompt: UInt32, completion: UInt32) {
        if prompt > 0 { tokens.increment(Self.prompt, by: Double(prompt)) }
        if completion > 0 { tokens.increment(Self.completion, by: Double(completion)) }
    }

    /// Counts a settlement: its tokens and cost, or that its reservation was unknown.
    func record(_ commit: LimitProtocol.Commit, result: LimitLedger.CommitResult) {
        guard result == .settled else {
            unknownSettlements.increment()
            return
        }
        recordTokens(prompt: commit.promptTokens, completion: commit.completionTokens)
        if commit.costNanoUSD > 0 { spend.increment(by: NanoUSD.dollars(commit.costNanoUSD)) }
    }

    /// Counts reservations that expired.
    func recordExpired(_ count: Int) {
        if count > 0 { expired.increment(by: Double(count)) }
    }

    /// Counts an admission decided without Redis.
    func recordRedisUnavailable() { redisUnavailable.increment() }

    /// Whether Redis answers (the gauge).
    func setRedisReachable(_ up: Bool) { redisUp.set(up ? 1 : 0) }

    /// Counts a journal failure.
    func recordJournalError() { journalErrors.increment() }

    /// Sets the gauges (done just before a snapshot, so they cost nothing per call).
    func updateGauges(trackedKeys keys: Int, reservations held: Int) {
        trackedKeys.set(Double(keys))
        reservations.set(Double(held))
    }
}
