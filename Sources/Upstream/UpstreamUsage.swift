/// Token counts an upstream reported (`"usage"` of an answer, or of a stream's final chunk).
public struct UpstreamUsage: Sendable, Equatable, CustomStringConvertible {
    /// Tokens of the prompt (or of the embedded inputs).
    public let promptTokens: Int
    /// Tokens generated (0 for embeddings).
    public let completionTokens: Int
    /// Their sum as the upstream reported it (computed when it did not).
    public let totalTokens: Int

    /// Creates a usage record.
    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens ?? promptTokens + completionTokens
    }

    /// The usage in an OpenAI answer object, or nil when it has none (or `"usage": null`, as stream
    /// chunks before the last carry) or its counts are not non-negative integers.
    /// - Parameter answer: a parsed answer or stream chunk.
    public init?(answer: [String: Any]) {
        guard let usage = answer["usage"] as? [String: Any] else { return nil }
        func count(_ key: String) -> Int? {
            guard let value = usage[key] else { return nil }
            if let int = value as? Int, int >= 0 { return int }
            if let double = value as? Double, double >= 0, double.rounded() == double, double < 1e15 { return Int(double) }
            return nil
        }
        guard let prompt = count("prompt_tokens") else { return nil }
        let completion = count("completion_tokens") ?? 0
        self.init(promptTokens: prompt, completionTokens: completion, totalTokens: count("total_tokens"))
    }

    public var description: String {
        "\(promptTokens) prompt + \(completionTokens) completion = \(totalTokens) tokens"
    }
}
