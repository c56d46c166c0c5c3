import IPC
import Metrics

/// batchd's metric families.
struct BatchMetrics: Sendable {
    /// How a request ended, the `outcome` label of `infer_batchd_requests_total`.
    enum Outcome: String, Sendable {
        /// Relayed in full.
        case ok
        /// Refused at once: the model's queue was full.
        case queueFull = "queue_full"
        /// The caller cancelled or went away (while queued or while running).
        case cancelled
        /// Anything else: unknown model, refused by modeld, modeld unreachable or lost, deadline passed.
        case failed
    }

    /// The `model` label of requests for a model batchd does not route (the name a caller sent is not used,
    /// so callers cannot create series at will).
    static let unknownModelLabel = "_unknown"

    /// Requests per dispatched batch.
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64]
    /// From the flush timeout (milliseconds) to queues backed up behind a busy model (seconds).
    static let waitBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    let registry: MetricsRegistry
    private let queueDepth: MetricsRegistry.Gauge
    private let batchSize: MetricsRegistry.Histogram
    private let queueWait: MetricsRegistry.Histogram
    private let requests: MetricsRegistry.Counter
    private let inFlight: MetricsRegistry.Gauge
    private let retries: MetricsRegistry.Counter
    private let breakerState: MetricsRegistry.Gauge
    private let probes: MetricsRegistry.Counter

    /// How a health probe ended, the `result` label of `infer_batchd_probes_total`.
    enum ProbeResult: String, Sendable {
        /// modeld (and its upstream) answered ready.
        case ok
        /// Not ready, or no answer in time: counted on the breaker as a failure.
        case failed
        /// No verdict: modeld unreachable or restarting, or older than the probe.
        case unanswered
    }

    /// Registers the families, with zeroed gauges for every model so a scrape shows them from the start.
    init(registry: MetricsRegistry, models: [String]) {
        self.registry = registry
        let everyModel = models.map(Self.labels)
        queueDepth = registry.gauge(
            "infer_batchd_queue_depth", help: "Requests waiting in a model's queue.", series: everyModel)
        batchSize = registry.histogram(
            "infer_batchd_batch_size", help: "Requests per batch handed to a model.", buckets: Self.batchBuckets)
        queueWait = registry.histogram(
            "infer_batchd_queue_wait_seconds", help: "Time a request waited in its queue before dispatch.",
            buckets: Self.waitBuckets)
        requests = registry.counter(
            "infer_batchd_requests_total", help: "Requests by model and outcome (ok, queue_full, cancelled, failed).")
        inFlight = registry.gauge(
            "infer_batchd_inflight", help: "Requests dispatched to a model and not finished.", series: everyModel)
        breakerState = registry.gauge(
            "infer_batchd_breaker_state", help: "Each deployment's circuit breaker: 0 closed, 1 open, 2 half-open.")
        probes = registry.counter(
            "infer_batchd_probes_total", help: "Health probes of each deployment by result (ok, failed, unanswered).")
        retries = registry.counter(
            "infer_batchd_retries_total", help: "Requests sent to modeld again after a connection was lost before any output.")
    }

    static func labels(_ model: String) -> [MetricLabel] { [MetricLabel("model", model)] }

    func request(_ model: String, _ outcome: Outcome) {
        requests.increment(Self.labels(model) + [MetricLabel("outcome", outcome.rawValue)])
    }

    func retried(_ model: String) { retries.increment(Self.labels(model)) }

    /// Sets `infer_batchd_breaker_state{model,deployment}`: 0 closed, 1 open, 2 half-open.
    func breaker(_ model: String, _ deployment: String, _ state: CircuitBreaker.State) {
        breakerState.set(state.gaugeValue, Self.labels(model) + [MetricLabel("deployment", deployment)])
    }

    func probed(_ model: String, _ deployment: String, _ result: ProbeResult) {
        probes.increment(Self.labels(model) + [MetricLabel("deployment", deployment), MetricLabel("result", result.rawValue)])
    }

    func batch(_ model: String, size: Int) { batchSize.observe(Double(size), Self.labels(model)) }

    func waited(_ model: String, _ wait: Duration) { queueWait.observe(wait.seconds, Self.labels(model)) }

    func depth(_ model: String, queued: Int, inFlight running: Int) {
        queueDepth.set(Double(queued), Self.labels(model))
        inFlight.set(Double(running), Self.labels(model))
    }

    /// A counter's or gauge's current value for one model (tests, summaries).
    func value(_ name: String, model: String, outcome: Outcome? = nil) -> Double {
        registry.value(name, Self.labels(model) + (outcome.map { [MetricLabel("outcome", $0.rawValue)] } ?? []))
    }
}
