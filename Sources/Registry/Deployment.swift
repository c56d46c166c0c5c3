import FoundationEssentials

/// How batchd picks among a model's healthy deployments (`"routing"` in the registry).
public enum RoutingStrategy: String, Sendable, CaseIterable {
    /// The cheapest expected cost of this request: prompt tokens × input price + max tokens × output
    /// price; ties go to the least busy. The default: with one deployment, or equal prices, it is
    /// least-busy.
    case cost
    /// The fewest requests in flight, relative to the deployment's concurrency.
    case leastBusy = "least-busy"
    /// The lowest moving average of time to first token.
    case latency
    /// At random, in proportion to each deployment's `weight`.
    case weighted
}

/// One place a public model is served: a built-in engine instance or an OpenAI-compatible upstream,
/// each its own modeld instance (`infer-modeld@NAME`, socket `modeld-NAME.sock`).
public struct Deployment: Sendable, Equatable {
    /// The instance's name: modeld's `INFER_MODEL` and its socket. A one-deployment model's deployment
    /// is named after the model.
    public let name: String
    /// The public model it serves.
    public let model: String
    /// Built-in engine or upstream server.
    public let engine: ModelEngine
    /// The model file or directory for the built-in engine, absolute; nil for `openai`.
    public let path: String?
    /// The upstream's base URL, up to and including `/v1`; nil for `builtin`.
    public let url: URL?
    /// The model name sent upstream; the public model's name when the registry omits it.
    public let upstreamModel: String
    /// The environment variable holding the upstream's API key (`api_key_env`).
    public let apiKeyEnvironmentVariable: String?
    /// A file holding the upstream's API key (`api_key_file`), for keys kept out of the environment.
    public let apiKeyFile: String?
    /// A CA bundle that signs the upstream's certificate (`ca_file`), for private CAs.
    public let caFile: String?
    /// USD per million input tokens.
    public let priceInputPer1M: Double
    /// USD per million output tokens.
    public let priceOutputPer1M: Double
    /// Share of traffic under the `weighted` strategy (`weight`, default 1).
    public let weight: Double
    /// Requests per minute this deployment may take (`rpm`); nil: no cap.
    public let requestsPerMinute: Int?
    /// Tokens per minute this deployment may take (`tpm`); nil: no cap.
    public let tokensPerMinute: Int?
    /// Requests in flight at once (`max_concurrency`); nil: batchd's default.
    public let maxConcurrency: Int?
    /// The longest prompt plus completion, in tokens (`context_length`); nil: unknown (not checked).
    public let contextLength: Int?

    /// Makes a deployment directly (tests, tools); the registry validates the ones it reads.
    public init(
        name: String, model: String, engine: ModelEngine, path: String? = nil, url: URL? = nil,
        upstreamModel: String? = nil, apiKeyEnvironmentVariable: String? = nil, apiKeyFile: String? = nil,
        caFile: String? = nil, priceInputPer1M: Double = 0, priceOutputPer1M: Double = 0, weight: Double = 1,
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, maxConcurrency: Int? = nil,
        contextLength: Int? = nil
    ) {
        self.name = name
        self.model = model
        self.engine = engine
        self.path = path
        self.url = url
        self.upstreamModel = upstreamModel ?? model
        self.apiKeyEnvironmentVariable = apiKeyEnvironmentVariable
        self.apiKeyFile = apiKeyFile
        self.caFile = caFile
        self.priceInputPer1M = priceInputPer1M
        self.priceOutputPer1M = priceOutputPer1M
        self.weight = weight
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.maxConcurrency = maxConcurrency
        self.contextLength = contextLength
    }

    /// What a request cost at this deployment's prices, in USD.
    /// - Parameters:
    ///   - inputTokens: Prompt tokens.
    ///   - outputTokens: Generated tokens.
    public func cost(inputTokens: Int, outputTokens: Int) -> Double {
        (Double(inputTokens) * priceInputPer1M + Double(outputTokens) * priceOutputPer1M) / 1_000_000
    }
}
