import Basics
/// Hand-written JSON for the replies on the hot path. Foundation's JSONSerialization costs most of
/// a cache hit's CPU time (boxing every value, sorting keys), so the completion objects are written
/// directly; only string escaping needs care.
enum JSONText {
    /// `s` as a JSON string literal, quotes included.
    static func string(_ s: String) -> String { JSONString.quoted(s) }

    /// A string or `null`.
    static func optional(_ s: String?) -> String { JSONString.quoted(s) }

    static func usage(_ c: CachedCompletion) -> String {
        #"{"prompt_tokens":\#(c.promptTokens),"completion_tokens":\#(c.completionTokens),"total_tokens":\#(c.promptTokens + c.completionTokens)}"#
    }

    /// A `chat.completion` object.
    static func completion(id: String, created: Int, model: String, _ c: CachedCompletion) -> String {
        #"{"id":\#(string(id)),"object":"chat.completion","created":\#(created),"model":\#(string(model)),"choices":[{"index":0,"message":{"role":"assistant","content":\#(string(c.content))},"logprobs":null,"finish_reason":\#(string(c.finishReason))}],"usage":\#(usage(c))}"#
    }

    /// A `chat.completion.chunk` object; `delta` is already JSON.
    static func chunk(id: String, created: Int, model: String, delta: String, finish: String?) -> String {
        #"{"id":\#(string(id)),"object":"chat.completion.chunk","created":\#(created),"model":\#(string(model)),"choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(optional(finish))}]}"#
    }

    /// The last chunk of a stream with `stream_options.include_usage`.
    static func usageChunk(id: String, created: Int, model: String, _ c: CachedCompletion) -> String {
        #"{"id":\#(string(id)),"object":"chat.completion.chunk","created":\#(created),"model":\#(string(model)),"choices":[],"usage":\#(usage(c))}"#
    }
}
