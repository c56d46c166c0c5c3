import DaemonRuntime
import APIKeys
import IPC
import Registry
import Settings

/// frontd's settings, each defined once with its default and meaning.
enum FrontSettings {
    static let limitdFailOpen = Setting<Bool>(
        name: "LIMITD_FAIL_OPEN", default: true,
        meaning: "When limitd cannot be reached: true admits the request (logged), false answers 503.")
    static let requestTimeout = Setting<Duration>(
        name: "REQUEST_TIMEOUT_SEC", default: .seconds(120),
        meaning: "Longest a generation may take end to end before frontd answers 504.",
        unit: .seconds, range: .seconds(1)...(.seconds(3600)))
    static let dependencyTimeout = Setting<Duration>(
        name: "DEPENDENCY_TIMEOUT_MS", default: .milliseconds(250),
        meaning: "How long frontd waits for limitd or cached before applying their down policy.",
        unit: .milliseconds, range: .milliseconds(5)...(.seconds(10)))
    static let defaultModel = Setting<String>(
        name: "DEFAULT_MODEL", default: "smollm2",
        meaning: "Model used when a request names none.",
        expected: "a model name", isValid: { ModelRegistry.isValidModelName($0) })
    static let maxBody = Setting<Int>(
        name: "MAX_BODY_BYTES", default: 1 << 20, meaning: "Largest request body accepted (413 beyond).",
        range: 1024...(64 << 20))
    static let maxTokensLimit = Setting<Int>(
        name: "MAX_TOKENS_LIMIT", default: 4096,
        meaning: "Most tokens a request may ask to generate (max_tokens, max_completion_tokens, max_new_tokens: 422 beyond); "
            + "a request naming none gets its route's default, or this limit when lower.",
        range: 1...1_000_000)

    static let corsOrigins = Setting<CORSPolicy>(
        name: "CORS_ORIGINS", default: .off,
        meaning: "Browser origins allowed to call the API: exact origins (https://app.example.com), comma-separated, or * for any; empty turns CORS off.",
        expected: CORSPolicy.expected, describeDefault: { _ in "" }, parse: CORSPolicy.parse)
    static let headerTimeout = Setting<Duration>(
        name: "HTTP_HEADER_TIMEOUT_SEC", default: .seconds(10),
        meaning: "Time a client has from a request's first byte to the end of its headers (beyond: 408 and close); a new connection that sends nothing is closed after it too.",
        unit: .seconds, range: .milliseconds(100)...(.seconds(600)))
    static let bodyTimeout = Setting<Duration>(
        name: "HTTP_BODY_TIMEOUT_SEC", default: .seconds(30),
        meaning: "Time a client has from the end of its headers to the end of its body; beyond: 408 and close.",
        unit: .seconds, range: .milliseconds(100)...(.seconds(600)))
    static let idleTimeout = Setting<Duration>(
        name: "HTTP_IDLE_TIMEOUT_SEC", default: .seconds(60),
        meaning: "Time a kept-alive connection may wait for its next request before it is closed.",
        unit: .seconds, range: .milliseconds(100)...(.seconds(3600)))

    static let cacheScope = Setting<CacheScope>(
        name: "CACHE_SCOPE", default: .key,
        meaning: "Whose cached answers a request may read: key (each API key its own, the default), namespace (keys naming the same cache.namespace share it), or global (every key shares one cache; single-tenant stacks only).")
    static let semanticModels = Setting<[String]>(
        name: "SEMANTIC_CACHE_MODELS", default: [],
        meaning: "Chat models whose deterministic requests are also looked up by meaning (a request's cache.semantic overrides); empty: only requests that ask.",
        itemExpected: "model names", isValidItem: { ModelRegistry.isValidModelName($0) })
    static let semanticThreshold = Setting<Double>(
        name: "SEMANTIC_CACHE_THRESHOLD", default: 0.95,
        meaning: "Least cosine similarity between two last user messages for one's cached answer to serve the other.",
        range: 0.5...1.0)
    static let semanticEmbeddingModel = Setting<String>(
        name: "SEMANTIC_CACHE_EMBEDDING_MODEL", default: "minilm",
        meaning: "Embedding model that turns the last user message into the semantic cache's vector (through batchd, like /v1/embeddings).",
        expected: "a model name", isValid: { ModelRegistry.isValidModelName($0) })

    static let maxConnections = Setting<Int>(
        name: "HTTP_MAX_CONNECTIONS", default: 10_000,
        meaning: "Most client connections open at once; a further one is answered 503 (Retry-After: 1) and closed, and counted.",
        range: 16...1_000_000)
    static let maxConnectionsPerClient = Setting<Int>(
        name: "HTTP_MAX_CONNECTIONS_PER_CLIENT", default: 1_024,
        meaning: "Most connections open at once from one client address (0: no cap); a further one is answered 503 and closed, and counted. Raise it, or set 0, when a load balancer is the only client.",
        range: 0...1_000_000)

    /// `API_KEYS_FILE` and `AUTH_DISABLED` are defined beside the keys file, since `inferctl up` reads them too.
    static let apiKeysFile = APIKeyFile.fileSetting
    static let authDisabled = APIKeyFile.authDisabledSetting

    /// The rules across frontd's settings (`Daemon.run`'s `check`, so `--check-config` applies them
    /// too): a webhook secret rotation needs its end and its new secret.
    static func check(_ settings: Settings) throws(ConfigError) {
        _ = try SecretRotation.configured(settings)
    }

    static let table: [AnySetting] = [limitdFailOpen, requestTimeout, dependencyTimeout, defaultModel, maxBody, maxTokensLimit,
                                      corsOrigins, headerTimeout, bodyTimeout, idleTimeout, maxConnections, maxConnectionsPerClient,
                                      apiKeysFile, authDisabled,
                                      idempotencyWindow, metricsdTimeout, cacheScope, semanticModels, semanticThreshold,
                                      semanticEmbeddingModel] + webhookTable
}

// MARK: - Webhooks, jobs and the state directory (docs/webhooks.md)

extension FrontSettings {
    static let webhookSecret = Setting<String?>(
        name: "WEBHOOK_HMAC_SECRET",
        meaning: "Key of the HMAC-SHA256 signatures on POST /webhooks/ingest; unset, the route answers 503 and accepts nothing.",
        secret: true, minimumLength: 16)
    static let webhookPreviousSecret = Setting<String?>(
        name: "WEBHOOK_HMAC_SECRET_PREVIOUS",
        meaning: "The secret being replaced during a rotation: signatures made with it are accepted too, until WEBHOOK_HMAC_PREVIOUS_UNTIL (required with it); WEBHOOK_HMAC_SECRET is always accepted.",
        secret: true, minimumLength: 16)
    static let webhookPreviousUntil = Setting<Int?>.optional(
        name: "WEBHOOK_HMAC_PREVIOUS_UNTIL",
        meaning: "When WEBHOOK_HMAC_SECRET_PREVIOUS stops being accepted, by frontd's clock: a UTC time (2026-12-31T23:59:59Z) or seconds since the Unix epoch; an absolute time, so a restart never extends it.",
        expected: SecretRotation.expectedTime, parse: SecretRotation.parseTime)
    static let webhookWindow = Setting<Int>(
        name: "WEBHOOK_TIMESTAMP_WINDOW",
        default: 300,
        meaning: "Seconds a webhook's X-Infer-Timestamp may differ from now (either way); event ids are remembered as long, to refuse replays.",
        range: 1...86_400)
    static let webhookMaxBody = Setting<Int>(
        name: "WEBHOOK_MAX_BODY_BYTES", default: 256 << 10,
        meaning: "Largest webhook body accepted (413 beyond); MAX_BODY_BYTES still caps every request.",
        range: 64...(64 << 20))
    static let webhookMaxEvents = Setting<Int>(
        name: "WEBHOOK_MAX_TRACKED_EVENTS", default: 100_000,
        meaning: "Most event ids remembered for replay checks; when that many arrived within the window, new events get 503.",
        range: 1...10_000_000)
    static let jobsMax = Setting<Int>(
        name: "JOBS_MAX", default: 1000,
        meaning: "Most asynchronous jobs kept (queued, running and finished); the oldest finished is forgotten first.",
        range: 1...1_000_000)
    static let jobsMaxRunning = Setting<Int>(
        name: "JOBS_MAX_RUNNING", default: 2,
        meaning: "Most asynchronous jobs generating at once; the others wait in order.",
        range: 1...1024)

    static let webhookTable: [AnySetting] = [
        webhookSecret, webhookPreviousSecret, webhookPreviousUntil, webhookWindow, webhookMaxBody, webhookMaxEvents, jobsMax, jobsMaxRunning,
    ] + RuntimeSettings.stateDirectorySettings
    static let idempotencyWindow = Setting<Duration>(
        name: "IDEMPOTENCY_WINDOW_SEC", default: .seconds(600),
        meaning: "How long a reply is kept for its Idempotency-Key (or native request_id): a repeat within it gets the same reply.",
        unit: .seconds, range: .seconds(1)...(.seconds(604_800)))
    static let metricsdTimeout = Setting<Duration>(
        name: "METRICSD_TIMEOUT_MS", default: .milliseconds(2000),
        meaning: "How long /metrics and /v1/metrics/* wait for metricsd to gather every daemon's figures (longer than its METRICS_SCRAPE_TIMEOUT_MS).",
        unit: .milliseconds, range: .milliseconds(10)...(.seconds(60)))

}
