/// Hand-written JSON for the replies on the hot path. Foundation's JSONSerialization costs most of
/// a cache hit's CPU time (boxing every value, sorting keys), so the completion objects are written
/// directly; only string escaping needs care.
enum JSONText {
    /// `s` as a JSON string literal, quotes included (RFC 8259 escaping; control characters as \u00XX).
    static func string(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// A string or `null`.
    static func optional(_ s: String?) -> String { s.map(string) ?? "null" }

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
