import Metrics
import Tracing

/// What the serving engines' users read per model, measured where the client sees it (frontd, from the
/// moment batchd is asked to the last token relayed): time to first token, inter-token latency,
/// end-to-end latency of generations and finish reasons. Cache hits are not generations and are not
/// counted here (`infer_frontd_cache_lookups_total` counts them).
struct ServingMetrics: Sendable {
    /// Buckets that fit a CPU model's first token (tens of ms) and a remote one's (seconds).
    static let firstTokenBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    /// Buckets for the gap between two tokens: a few ms on a small CPU model, up to seconds upstream.
    static let interTokenBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    /// Buckets for a whole generation.
    static let endToEndBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

    let timeToFirstToken: MetricsRegistry.Histogram
    let interTokenLatency: MetricsRegistry.Histogram
    let endToEnd: MetricsRegistry.Histogram
    let finishReasons: MetricsRegistry.Counter

    init(registry: MetricsRegistry) {
        timeToFirstToken = registry.histogram(
            "infer_frontd_time_to_first_token_seconds",
            help: "Time from asking batchd for a generation to its first text, by model (streamed and plain requests).",
            buckets: Self.firstTokenBuckets)
        interTokenLatency = registry.histogram(
            "infer_frontd_inter_token_latency_seconds",
            help: "Time between two pieces of text of one generation, by model.", buckets: Self.interTokenBuckets)
        endToEnd = registry.histogram(
            "infer_frontd_generation_duration_seconds",
            help: "Time from asking batchd for a generation to its end, by model.", buckets: Self.endToEndBuckets)
        finishReasons = registry.counter(
            "infer_frontd_finish_reasons_total", help: "Generations that ended, by model and finish reason (stop, length).")
    }

    /// Starts timing one generation of `model`.
    func clock(model: String) -> GenerationClock { GenerationClock(metrics: self, model: model) }
}

/// The timing of one generation: ``piece()`` at each piece of text, ``finish(reason:)`` at its end.
struct GenerationClock {
    private let metrics: ServingMetrics
    private let labels: [MetricLabel]
    /// The request's trace, kept as the exemplar of the TTFT and duration buckets.
    private let exemplar = Span.current?.exemplar
    private let start = ContinuousClock.now
    private var last: ContinuousClock.Instant?

    fileprivate init(metrics: ServingMetrics, model: String) {
        self.metrics = metrics
        labels = [MetricLabel("model", model)]
    }

    /// A piece of text arrived.
    mutating func piece() {
        let now = ContinuousClock.now
        if let last {
            metrics.interTokenLatency.observe(Self.seconds(last, now), labels)
        } else {
            metrics.timeToFirstToken.observe(Self.seconds(start, now), labels, exemplar: exemplar)
        }
        last = now
    }

    /// The generation ended with `reason`.
    func finish(reason: String) {
        metrics.endToEnd.observe(Self.seconds(start, .now), labels, exemplar: exemplar)
        metrics.finishReasons.increment(labels + [MetricLabel("reason", reason)])
    }

    private static func seconds(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant) -> Double {
        let d = from.duration(to: to)
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

extension Span {
    /// This span as a histogram exemplar, when its trace is sampled (an unsampled trace is kept nowhere,
    /// so a link to it would lead nowhere).
    var exemplar: ExemplarTrace? {
        context.isSampled ? ExemplarTrace(traceID: traceIDHex, spanID: spanIDHex) : nil
    }
}
