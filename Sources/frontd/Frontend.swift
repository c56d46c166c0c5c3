import DaemonRuntime
import FoundationEssentials
import HTTP
import IPC
import Metrics
import Registry
import Services

/// What frontd's handlers share: the clients of the daemons it orchestrates, its settings and its
/// metrics. One instance per process; handlers live in extensions, one file per group of routes.
final class Frontend: Sendable {
    let limit: LimitClient
    let cache: CacheClient
    let batch: GenerationClient
    /// metricsd, for /metrics and the /v1/metrics/* figures.
    let collector: MetricsClient
    let logger: Logger
    let runtimeDirectory: String
    let failOpen: Bool
    let requestTimeout: Duration
    let dependencyTimeout: Duration
    let defaultModel: String
    let metricsdTimeout: Duration
    /// IDEMPOTENCY_WINDOW_SEC, in seconds (the TTL of idempotency records in cached).
    let idempotencyWindowSeconds: Int
    /// Idempotency keys being answered now.
    let idempotency = IdempotencyInFlight()
    /// DEFAULT_MODEL and MAX_TOKENS_LIMIT, for every request parser.
    let requestRules: RequestRules
    /// CACHE_SCOPE: whose cached answers a request may read.
    let cacheScope: CacheScope
    /// SEMANTIC_CACHE_MODELS, SEMANTIC_CACHE_THRESHOLD, SEMANTIC_CACHE_EMBEDDING_MODEL.
    let semanticModels: Set<String>
    let semanticThreshold: Float
    let semanticEmbeddingModel: String
    /// Deterministic requests being answered now, which identical ones wait for.
    let fills = InFlightFills()
    /// The model registry, for /v1/models and model checks; nil when it could not be read.
    let registry: ModelRegistry?
    let authenticator: Authenticator
    let requests: MetricsRegistry.Counter
    let duration: MetricsRegistry.Histogram
    let cacheResults: MetricsRegistry.Counter
    let refusals: MetricsRegistry.Counter
    let tokens: MetricsRegistry.Counter
    /// USD charged per key name and model (the answering deployment's prices × usage).
    let spend: MetricsRegistry.Counter
    /// Generations sent to batchd again after its connection died before any output.
    let resends: MetricsRegistry.Counter
    /// Time to first token, inter-token latency, generation time and finish reasons per model.
    let serving: ServingMetrics
    /// Signed webhooks, their journal and the asynchronous jobs they start.
    let webhooks: Webhooks

    init(context: DaemonContext, metrics: MetricsRegistry) throws {
        let run = context.settings[RuntimeSettings.runtimeDirectory]
        runtimeDirectory = run
        limit = LimitClient(path: run + "/limitd.sock")
        cache = CacheClient(path: run + "/cached.sock")
        batch = GenerationClient(path: run + "/batchd.sock", protocolName: ServiceName.batchd)
        collector = MetricsClient(path: run + "/metricsd.sock")
        logger = context.logger
        failOpen = context.settings[FrontSettings.limitdFailOpen]
        requestTimeout = context.settings[FrontSettings.requestTimeout]
        dependencyTimeout = context.settings[FrontSettings.dependencyTimeout]
        defaultModel = context.settings[FrontSettings.defaultModel]
        metricsdTimeout = context.settings[FrontSettings.metricsdTimeout]
        idempotencyWindowSeconds = Int(context.settings[FrontSettings.idempotencyWindow].components.seconds)
        requestRules = RequestRules(defaultModel: defaultModel,
                                    maxTokensLimit: context.settings[FrontSettings.maxTokensLimit])
        cacheScope = context.settings[FrontSettings.cacheScope]
        semanticModels = Set(context.settings[FrontSettings.semanticModels])
        semanticThreshold = Float(context.settings[FrontSettings.semanticThreshold])
        semanticEmbeddingModel = context.settings[FrontSettings.semanticEmbeddingModel]
        registry = try? ModelRegistry.load(environment: ProcessInfo.processInfo.environment)
        authenticator = try Authenticator(context: context)
        requests = metrics.counter("infer_http_requests_total", help: "HTTP requests answered, by route and status.")
        duration = metrics.histogram("infer_http_request_duration_seconds", help: "Time from request to the end of the answer, by route.",
                                     buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
        cacheResults = metrics.counter("infer_frontd_cache_lookups_total", help: "Cache lookups by frontd, by result (hit, hit-semantic, coalesced, miss, bypass).")
        refusals = metrics.counter("infer_frontd_rate_limited_total", help: "Requests refused with 429.")
        tokens = metrics.counter("infer_frontd_tokens_total", help: "Tokens in answered requests, by kind (prompt, completion).")
        spend = metrics.counter("infer_frontd_cost_usd_total",
                                help: "USD of answered requests at the answering deployment's prices, by key name and model.")
        serving = ServingMetrics(registry: metrics)
        resends = metrics.counter("infer_frontd_resends_total",
                                  help: "Generations sent to batchd again because its connection died before any output (batchd restarted).")
        webhooks = try Webhooks(settings: context.settings, logger: logger, rules: requestRules,
                            chatModels: registry?.models(of: .chat).map(\.name))
        webhooks.start { [unowned self] generate in try await self.complete(generate) }
    }

    /// The names of the registry's models (the default model alone when there is no registry).
    var modelNames: [String] { registry?.names ?? [defaultModel] }
}
