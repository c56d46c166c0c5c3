/// How a sequence picks its next token and when it stops, with OpenAI's meanings.
public struct GenerationParameters: Sendable, Equatable {
    /// 0 picks the most likely token (greedy); higher values flatten the distribution. 0...2.
    public var temperature: Float = 1
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to this. (0, 1].
    public var topP: Float = 1
    /// Keep only the k most likely tokens; 0 turns the filter off.
    public var topK: Int = 0
    /// Same seed, same prompt, same parameters → same output. nil draws a random seed.
    public var seed: UInt64?
    /// Subtracted from a token's logit once per time it has been generated. -2...2.
    public var frequencyPenalty: Float = 0
    /// Subtracted from a token's logit if it has been generated at all. -2...2.
    public var presencePenalty: Float = 0
    /// Most tokens to generate.
    public var maxTokens: Int = 256
    /// Generation ends before any of these strings; the string is not part of the output. At most 4.
    public var stop: [String] = []
    /// Keep generating through end-of-text tokens until `maxTokens` (for benchmarks, like
    /// llama.cpp's `ignore_eos`).
    public var ignoreEndTokens = false

    public init(temperature: Float = 1, topP: Float = 1, topK: Int = 0, seed: UInt64? = nil,
                frequencyPenalty: Float = 0, presencePenalty: Float = 0, maxTokens: Int = 256, stop: [String] = []) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.seed = seed
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.maxTokens = maxTokens
        self.stop = stop
    }

    /// Greedy decoding of up to `maxTokens` tokens.
    public static func greedy(maxTokens: Int) -> GenerationParameters {
        GenerationParameters(temperature: 0, maxTokens: maxTokens)
    }

    /// Checks every value against its range.
    /// - Throws: `ParameterError` naming the first parameter out of range.
    public func validate() throws {
        guard temperature.isFinite, (0...2).contains(temperature) else { throw ParameterError("temperature", "must be between 0 and 2") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw ParameterError("top_p", "must be greater than 0 and at most 1") }
        guard topK >= 0 else { throw ParameterError("top_k", "must be 0 (off) or positive") }
        guard frequencyPenalty.isFinite, (-2...2).contains(frequencyPenalty) else { throw ParameterError("frequency_penalty", "must be between -2 and 2") }
        guard presencePenalty.isFinite, (-2...2).contains(presencePenalty) else { throw ParameterError("presence_penalty", "must be between -2 and 2") }
        guard maxTokens >= 1 else { throw ParameterError("max_tokens", "must be at least 1") }
        guard stop.count <= 4 else { throw ParameterError("stop", "at most 4 stop sequences") }
        guard !stop.contains(where: \.isEmpty) else { throw ParameterError("stop", "stop sequences must not be empty") }
    }
}

/// A generation parameter out of range; `parameter` uses the API's field name.
public struct ParameterError: Error, CustomStringConvertible, Equatable {
    public let parameter: String
    public let message: String
    public init(_ parameter: String, _ message: String) {
        self.parameter = parameter
        self.message = message
    }
    public var description: String { "\(parameter) \(message)" }
}

/// Why a sequence stopped.
public enum FinishReason: String, Sendable, Equatable {
    /// End of turn/text token or a stop sequence.
    case stop
    /// `maxTokens` reached, or the model's context is full.
    case length
    /// Cancelled by the caller.
    case cancelled
}
