/// The native routes' reply objects, written by hand like `JSONText` (they are on the same hot path).
enum InferJSON {
    /// A `/v1/infer` result (also each successful `/v1/batch` item, after its `index`).
    static func result(id: String, model: String, _ c: CachedCompletion, cost: Double?, latencyMs: Double, cached: Bool) -> String {
        #"{"id":\#(JSONText.string(id)),"model":\#(JSONText.string(model)),"output":\#(JSONText.string(c.content)),"finish_reason":\#(JSONText.string(c.finishReason)),"usage":\#(JSONText.usage(c, cost: cost)),"latency_ms":\#(milliseconds(latencyMs)),"cached":\#(cached)}"#
    }

    /// The `data` of `/v1/infer/stream`'s `done` event: the result without its output.
    static func done(id: String, model: String, _ c: CachedCompletion, cost: Double?, latencyMs: Double, cached: Bool) -> String {
        #"{"id":\#(JSONText.string(id)),"model":\#(JSONText.string(model)),"finish_reason":\#(JSONText.string(c.finishReason)),"usage":\#(JSONText.usage(c, cost: cost)),"latency_ms":\#(milliseconds(latencyMs)),"cached":\#(cached)}"#
    }

    /// The `data` of a `token` event.
    static func token(_ text: String) -> String { #"{"text":\#(JSONText.string(text))}"# }

    /// A successful batch item: `{"index": i, ...result}`. `result` is an object written by `result(...)`.
    static func item(index: Int, result: String) -> String {
        #"{"index":\#(index),"# + result.dropFirst()
    }

    /// A failed batch item: `{"index": i, "status": s, "error": {...}}`; `errorBody` is `APIError.body`'s
    /// `{"error": {...}}`.
    static func failedItem(index: Int, status: Int, errorBody: String) -> String {
        #"{"index":\#(index),"status":\#(status),"# + errorBody.dropFirst()
    }

    /// Milliseconds with three decimals (microseconds), as a JSON number.
    static func milliseconds(_ ms: Double) -> String {
        guard ms.isFinite, ms >= 0 else { return "0" }
        let micros = Int64((ms * 1000).rounded())
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
