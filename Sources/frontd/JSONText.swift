import Basics
/// Hand-written JSON for the replies on the hot path. Foundation's JSONSerialization costs most of
/// a cache hit's CPU time (boxing every value, sorting keys), so the completion objects are written
/// directly; only string escaping needs care.
enum JSONText {
    /// `s` as a JSON string literal, quotes included.
    static func string(_ s: String) -> String { JSONString.quoted(s) }

    /// A string or `null`.
    static func optional(_ s: String?) -> String { JSONString.quoted(s) }

    /// A `usage` object; `cost` (USD, see ``AnsweringDeployment/cost(registry:hit:_:)``) is added
    /// after OpenAI's three fields when known, as OpenRouter does, so a client can sum what it spent.
    static func usage(_ c: CachedCompletion, cost: Double? = nil) -> String {
        let costField = cost.map { #","cost":"# + AnsweringDeployment.format($0) } ?? ""
        return #"{"prompt_tokens":\#(c.promptTokens),"completion_tokens":\#(c.completionTokens),"total_tokens":\#(c.promptTokens + c.completionTokens)\#(costField)}"#
    }

    /// A `chat.completion` object.
    static func completion(id: String, created: Int, model: String, _ c: CachedCompletion, cost: Double?) -> String {
        #"{"id":\#(string(id)),"object":"chat.completion","created":\#(created),"model":\#(string(model)),"choices":[{"index":0,"message":{"role":"assistant","content":\#(string(c.content))},"logprobs":null,"finish_reason":\#(string(c.finishReason))}],"usage":\#(usage(c, cost: cost))}"#
    }

    /// A `chat.completion.chunk` object; `delta` is already JSON.
    static func chunk(id: String, created: Int, model: String, delta: String, finish: String?) -> String {
        #"{"id":\#(string(id)),"object":"chat.completion.chunk","created":\#(created),"model":\#(string(model)),"choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(optional(finish))}]}"#
    }

    /// The last chunk of a stream with `stream_options.include_usage`.
    static func usageChunk(id: String, created: Int, model: String, _ c: CachedCompletion, cost: Double?) -> String {
        #"{"id":\#(string(id)),"object":"chat.completion.chunk","created":\#(created),"model":\#(string(model)),"choices":[],"usage":\#(usage(c, cost: cost))}"#
    }
}
