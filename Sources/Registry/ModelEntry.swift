import FoundationEssentials

/// What a model does: which OpenAI-compatible routes it serves.
public enum ModelKind: String, Sendable, CaseIterable {
    /// Text generation: `/v1/chat/completions`, `/v1/completions`, `/v1/infer`.
    case chat
    /// Sentence embeddings: `/v1/embeddings`.
    case embedding
}

/// Who runs a model.
public enum ModelEngine: String, Sendable, CaseIterable {
    /// The built-in CPU engine, from a model file or directory on this machine.
    case builtin
    /// An OpenAI-compatible upstream server (vLLM, TGI, llama.cpp's server, Ollama, OpenAI).
    case openai
}

/// One public model of the registry: what clients put in `"model"`, served by one or more
/// ``Deployment``s that batchd routes among by the model's ``RoutingStrategy``.
public struct ModelEntry: Sendable, Equatable {
    /// The model's name: what clients put in `"model"`. Lower-case letters, digits, `_` and `-`, at most
    /// 64 characters (``ModelRegistry/isValidModelName(_:)``).
    public let name: String
    /// Chat or embedding.
    public let kind: ModelKind
    /// Where the model is served, in registry order; never empty.
    public let deployments: [Deployment]
    /// How batchd picks a deployment (`routing`, default ``RoutingStrategy/cost``).
    public let routing: RoutingStrategy
    /// Models to try, in order, when every deployment of this one is down or refuses; each exists, has the
    /// same kind, and no chain of fallbacks comes back to this model.
    public let fallbacks: [String]
    /// A line for people (`description`); not interpreted.
    public let summary: String?

    /// Makes a model served by `deployments`.
    public init(name: String, kind: ModelKind, deployments: [Deployment], routing: RoutingStrategy = .cost,
                fallbacks: [String] = [], summary: String? = nil) {
        self.name = name
        self.kind = kind
        self.deployments = deployments
        self.routing = routing
        self.fallbacks = fallbacks
        self.summary = summary
    }

    /// Makes a model with one deployment named after it (tests, tools; the registry's short form).
    public init(
        name: String, kind: ModelKind, engine: ModelEngine, path: String? = nil, url: URL? = nil,
        upstreamModel: String? = nil, apiKeyEnvironmentVariable: String? = nil,
        priceInputPer1M: Double = 0, priceOutputPer1M: Double = 0, fallbacks: [String] = [],
        maxConcurrency: Int? = nil, contextLength: Int? = nil, summary: String? = nil
    ) {
        self.init(
            name: name, kind: kind,
            deployments: [Deployment(
                name: name, model: name, engine: engine, path: path, url: url, upstreamModel: upstreamModel,
                apiKeyEnvironmentVariable: apiKeyEnvironmentVariable, priceInputPer1M: priceInputPer1M,
                priceOutputPer1M: priceOutputPer1M, maxConcurrency: maxConcurrency, contextLength: contextLength)],
            fallbacks: fallbacks, summary: summary)
    }

    // The first deployment's fields: what a one-deployment model has, and what callers that do not route
    // (modeld's own checks, listings) read.

    /// The first deployment's engine.
    public var engine: ModelEngine { deployments[0].engine }
    /// The first deployment's model file or directory.
    public var path: String? { deployments[0].path }
    /// The first deployment's upstream URL.
    public var url: URL? { deployments[0].url }
    /// The first deployment's price per million input tokens.
    public var priceInputPer1M: Double { deployments[0].priceInputPer1M }
    /// The first deployment's price per million output tokens.
    public var priceOutputPer1M: Double { deployments[0].priceOutputPer1M }

    /// What a request cost at the first deployment's prices.
    /// - Parameters:
    ///   - inputTokens: Prompt tokens.
    ///   - outputTokens: Generated tokens.
    /// - Returns: USD.
    public func cost(inputTokens: Int, outputTokens: Int) -> Double {
        deployments[0].cost(inputTokens: inputTokens, outputTokens: outputTokens)
    }
}
