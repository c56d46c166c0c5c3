import IPC
import Metrics

/// modeld's metric families, every series labelled with the model's name.
struct ModelMetrics: Sendable {
    /// How a request ended, the `outcome` label of `infer_modeld_requests_total`.
    enum Outcome: String, Sendable {
        /// Answered in full (END or REPLY).
        case ok
        /// The caller cancelled it or went away.
        case cancelled
        /// Refused: bad parameters, a prompt too long, another model, the wrong kind of request.
        case invalid
        /// The engine failed or stopped under it.
        case failed
    }

    /// Sequences per engine step: a continuous batch is at most `MODEL_MAX_BATCH`; an embedding pass at
    /// most `MODEL_EMBED_MAX_BATCH` inputs.
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64]
    /// A decode step of the 135M model takes milliseconds; a batch joining with long prompts, seconds.
    static let stepBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    let registry: MetricsRegistry
    let model: String
    private let labels: [MetricLabel]
    private let generatedTokens: MetricsRegistry.Counter
    private let promptTokens: MetricsRegistry.Counter
    private let requests: MetricsRegistry.Counter
    private let stepBatchSize: MetricsRegistry.Histogram
    private let activeSequences: MetricsRegistry.Gauge
    private let waitingSequences: MetricsRegistry.Gauge
    private let stepSeconds: MetricsRegistry.Histogram
    private let prefillSeconds: MetricsRegistry.Histogram
    private let decodeSeconds: MetricsRegistry.Histogram
    private let kvUsedTokens: MetricsRegistry.Gauge
    private let kvBytes: MetricsRegistry.Gauge

    /// Prefill of a CPU model's prompt takes tens of milliseconds to seconds; a remote one's first token
    /// up to tens of seconds. Decode as a whole: up to minutes for a long answer.
    static let prefillBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let decodeBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

    /// Registers the families in `registry`.
    /// - Parameter kvCapacityTokens: Positions the engine's KV caches could hold at most (sequences ×
    ///   context), for `infer_modeld_kv_cache_capacity_tokens`; nil for an upstream (no cache here).
    init(registry: MetricsRegistry, model: String, kvCapacityTokens: Int? = nil) {
        self.registry = registry
        self.model = model
        let labels = [MetricLabel("model", model)]
        self.labels = labels
        generatedTokens = registry.counter(
            "infer_modeld_generated_tokens_total", help: "Tokens generated (completion tokens).")
        promptTokens = registry.counter(
            "infer_modeld_prompt_tokens_total", help: "Prompt tokens processed (embedding inputs included).")
        requests = registry.counter(
            "infer_modeld_requests_total", help: "Generate and Embed requests by outcome (ok, cancelled, invalid, failed).")
        stepBatchSize = registry.histogram(
            "infer_modeld_step_batch_size", help: "Sequences (or embedding inputs) per engine step.",
            buckets: Self.batchBuckets)
        activeSequences = registry.gauge(
            "infer_modeld_active_sequences", help: "Sequences in the engine's running batch.", series: [labels])
        waitingSequences = registry.gauge(
            "infer_modeld_waiting_sequences", help: "Sequences accepted and waiting for room in the running batch.",
            series: [labels])
        stepSeconds = registry.histogram(
            "infer_modeld_step_seconds", help: "Duration of one engine step (a forward pass or an embedding pass).",
            buckets: Self.stepBuckets)
        prefillSeconds = registry.histogram(
            "infer_modeld_prefill_seconds",
            help: "Time from a sequence joining the batch (or the upstream call starting) to its first token.",
            buckets: Self.prefillBuckets)
        decodeSeconds = registry.histogram(
            "infer_modeld_decode_seconds", help: "Time from a sequence's first token to its last.", buckets: Self.decodeBuckets)
        kvUsedTokens = registry.gauge(
            "infer_modeld_kv_cache_used_tokens", help: "KV cache positions filled by the sequences in the engine.",
            series: kvCapacityTokens == nil ? [] : [labels])
        kvBytes = registry.gauge(
            "infer_modeld_kv_cache_bytes", help: "Bytes of KV cache allocated for the sequences in the engine.",
            series: kvCapacityTokens == nil ? [] : [labels])
        if let kvCapacityTokens {
            registry.gauge("infer_modeld_kv_cache_capacity_tokens",
                           help: "KV cache positions the engine can hold at most (MODEL_MAX_BATCH sequences of the model's context).")
                .set(Double(kvCapacityTokens), labels)
        }
    }

    func request(_ outcome: Outcome) {
        requests.increment(labels + [MetricLabel("outcome", outcome.rawValue)])
    }

    func generated(_ tokens: Int) {
        if tokens > 0 { generatedTokens.increment(labels, by: Double(tokens)) }
    }

    func prompt(_ tokens: Int) {
        if tokens > 0 { promptTokens.increment(labels, by: Double(tokens)) }
    }

    func step(size: Int, seconds: Double) {
        stepBatchSize.observe(Double(size), labels)
        stepSeconds.observe(seconds, labels)
    }

    func prefill(seconds: Double) {
        prefillSeconds.observe(seconds, labels)
    }

    func decode(seconds: Double) {
        decodeSeconds.observe(seconds, labels)
    }

    func kvCache(usedTokens: Int, bytes: Int) {
        kvUsedTokens.set(Double(usedTokens), labels)
        kvBytes.set(Double(bytes), labels)
    }

    func sequences(active: Int, waiting: Int) {
        activeSequences.set(Double(active), labels)
        waitingSequences.set(Double(waiting), labels)
    }

    /// The current value of a counter or gauge of this model (for tests and summaries).
    func value(_ name: String, outcome: Outcome? = nil) -> Double {
        registry.value(name, labels + (outcome.map { [MetricLabel("outcome", $0.rawValue)] } ?? []))
    }
}
