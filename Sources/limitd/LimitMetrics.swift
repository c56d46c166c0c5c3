import IPC
import Metrics

/// limitd's metrics, registered once; metricsd collects them through the stats message.
struct LimitMetrics: Sendable {
    /// The registry the families live in.
    let registry: MetricsRegistry
    private let decisions: MetricsRegistry.Counter
    private let tokens: MetricsRegistry.Counter
    private let trackedKeys: MetricsRegistry.Gauge

    private static let allowed = [MetricLabel("result", "allowed")]
    private static let refused = [MetricLabel("result", "refused")]
    private static let prompt = [MetricLabel("kind", "prompt")]
    private static let completion = [MetricLabel("kind", "completion")]

    /// Registers limitd's families in `registry`.
    /// - Parameter registry: The daemon's registry.
    init(registry: MetricsRegistry) {
        self.registry = registry
        decisions = registry.counter(
            "infer_limitd_decisions_total", help: "Admission decisions, by result (allowed or refused).",
            series: [Self.allowed, Self.refused])
        tokens = registry.counter(
            "infer_limitd_tokens_total", help: "Tokens settled by finished requests, by kind (prompt or completion).",
            series: [Self.prompt, Self.completion])
        trackedKeys = registry.gauge(
            "infer_limitd_tracked_keys", help: "Keys whose request history limitd remembers now.", series: [[]])
    }

    /// Counts one admission decision.
    /// - Parameter allowed: Whether the request was allowed.
    func recordDecision(allowed: Bool) {
        decisions.increment(allowed ? Self.allowed : Self.refused)
    }

    /// Counts the tokens of one settled request.
    /// - Parameters:
    ///   - prompt: Prompt tokens.
    ///   - completion: Completion tokens.
    func recordTokens(prompt: UInt32, completion: UInt32) {
        if prompt > 0 { tokens.increment(Self.prompt, by: Double(prompt)) }
        if completion > 0 { tokens.increment(Self.completion, by: Double(completion)) }
    }

    /// Sets the tracked-keys gauge (done just before a snapshot, so the gauge costs nothing per call).
    /// - Parameter count: Keys tracked now.
    func updateTrackedKeys(_ count: Int) {
        trackedKeys.set(Double(count))
    }
}
