import Foundation

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

/// One model of the registry: one `infer-modeld@NAME` instance.
public struct ModelEntry: Sendable, Equatable {
    /// The model's name: what clients put in `"model"`, the modeld instance (`INFER_MODEL=NAME`) and its
    /// socket (`modeld-NAME.sock`). Lower-case letters, digits, `_` and `-`, at most 64 characters.
    public let name: String
    /// Chat or embedding.
    public let kind: ModelKind
    /// Built-in engine or upstream server.
    public let engine: ModelEngine
    /// The model file or directory for the built-in engine, absolute (a relative `path` in the file is
    /// resolved against `INFER_MODELS_DIR`, or else the registry file's directory); nil for `openai`.
    public let path: String?
    /// The upstream server's base URL (`http://127.0.0.1:8000/v1`) for `openai`; nil for `builtin`.
    public let url: URL?
    /// The model name sent upstream (`upstream_model`); the entry's own name when the file omits it.
    public let upstreamModel: String?
    /// The environment variable holding the upstream's API key (`api_key_env`), if it needs one; the key
    /// itself never goes in the registry.
    public let apiKeyEnvironmentVariable: String?
    /// USD per million input (prompt) tokens, for cost accounting and cost-aware routing.
    public let priceInputPer1M: Double
    /// USD per million output (generated) tokens.
    public let priceOutputPer1M: Double
    /// Models to try, in order, when this one is down or overloaded; each exists and has the same kind.
    public let fallbacks: [String]
    /// The most requests the model runs at once (`max_concurrency`); nil leaves it to batchd's defaults.
    public let maxConcurrency: Int?
    /// A line for people (`description`); not interpreted.
    public let summary: String?

    /// Makes an entry directly (tests, tools); ``ModelRegistry/load(path:environment:)`` validates the
    /// ones it reads.
    public init(
        name: String, kind: ModelKind, engine: ModelEngine, path: String? = nil, url: URL? = nil,
        upstreamModel: String? = nil, apiKeyEnvironmentVariable: String? = nil,
        priceInputPer1M: Double = 0, priceOutputPer1M: Double = 0, fallbacks: [String] = [],
        maxConcurrency: Int? = nil, summary: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.engine = engine
        self.path = path
        self.url = url
        self.upstreamModel = upstreamModel
        self.apiKeyEnvironmentVariable = apiKeyEnvironmentVariable
        self.priceInputPer1M = priceInputPer1M
        self.priceOutputPer1M = priceOutputPer1M
        self.fallbacks = fallbacks
        self.maxConcurrency = maxConcurrency
        self.summary = summary
    }

    /// What a request cost at this model's prices.
    /// - Parameters:
    ///   - inputTokens: Prompt tokens.
    ///   - outputTokens: Generated tokens.
    /// - Returns: USD.
    public func cost(inputTokens: Int, outputTokens: Int) -> Double {
        (Double(inputTokens) * priceInputPer1M + Double(outputTokens) * priceOutputPer1M) / 1_000_000
    }
}
