import Foundation

/// A finished completion: what cached keeps for a deterministic request (JSON), enough to answer it
/// again in any of the API's shapes.
struct CachedCompletion: Sendable, Equatable {
    var content: String
    var finishReason: String
    var promptTokens: Int
    var completionTokens: Int

    init(content: String, finishReason: String, promptTokens: Int, completionTokens: Int) {
        self.content = content
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    init?(decoding bytes: [UInt8]) {
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let c = o["content"] as? String, let f = o["finish_reason"] as? String,
              let p = o["prompt_tokens"] as? Int, let n = o["completion_tokens"] as? Int else { return nil }
        self.init(content: c, finishReason: f, promptTokens: p, completionTokens: n)
    }

    func encoded() -> [UInt8] {
        JSON.encode(["content": content, "finish_reason": finishReason, "prompt_tokens": promptTokens, "completion_tokens": completionTokens])
    }
}
