import HTTP
import IPC
import Services

extension Frontend {
    /// `POST /v1/completions`: OpenAI's legacy completions on the raw prompt, JSON or SSE, through
    /// limitd → cached → batchd; a non-stream request is idempotent by `Idempotency-Key`.
    func completions(_ c: RequestContext) async throws -> Int {
        let body = try JSONBody.object(c.request)
        let request = try CompletionRequest(body: body, rules: requestRules)
        let generate = request.generate(requestID: c.requestID)
        let (plan, key) = try await prepareGeneration(c, route: "/v1/completions", model: request.model, body: body, generate)
        let id = "cmpl-" + c.requestID
        if request.stream { return try await streamCompletion(request, generate, plan: plan, id: id, c) }
        return try await answerOnce(c, key: key) {
            try await answerCompletion(c, generate, plan: plan, promptParam: "prompt") { done, cost in
                CompletionJSON.completion(id: id, created: Self.now(), model: c.answeredBy.model(requested: request.model), done, cost: cost)
            }
        }
    }

    /// A completion as SSE: `text_completion` chunks with the new text, a last chunk with the finish
    /// reason, the usage chunk when `stream_options.include_usage`, then `[DONE]`.
    private func streamCompletion(_ request: CompletionRequest, _ generate: GenerationProtocol.Generate, plan: CachePlan,
                                  id: String, _ c: RequestContext) async throws -> Int {
        let created = Self.now()
        // Every chunk names the model that answers (a fallback's, once batchd's route says so).
        var model = request.model
        func finish(_ sse: SSEWriter, _ done: CachedCompletion, cost: Double?) {
            sse.send(data: CompletionJSON.chunk(id: id, created: created, model: model, text: "", finish: done.finishReason))
            if request.includeUsage { sse.send(data: CompletionJSON.usageChunk(id: id, created: created, model: model, done, cost: cost)) }
            sse.send(data: "[DONE]")
        }
        return try await streamGeneration(
            generate, plan: plan, c, promptParam: "prompt",
            replay: { sse, hit in
                if !hit.content.isEmpty {
                    sse.send(data: CompletionJSON.chunk(id: id, created: created, model: model, text: hit.content, finish: nil))
                }
                finish(sse, hit, cost: 0)
            },
            opening: { _ in model = c.answeredBy.model(requested: request.model) },
            piece: { $0.send(data: CompletionJSON.chunk(id: id, created: created, model: model, text: $1, finish: nil)) },
            finish: { finish($0, $1, cost: $2) })
    }
}

/// OpenAI's `text_completion` objects, written by hand like `JSONText`.
enum CompletionJSON {
    static func completion(id: String, created: Int, model: String, _ c: CachedCompletion, cost: Double?) -> String {
        #"{"id":\#(JSONText.string(id)),"object":"text_completion","created":\#(created),"model":\#(JSONText.string(model)),"choices":[{"text":\#(JSONText.string(c.content)),"index":0,"logprobs":null,"finish_reason":\#(JSONText.string(c.finishReason))}],"usage":\#(JSONText.usage(c, cost: cost))}"#
    }

    /// A stream chunk: new text, and the finish reason on the last one.
    static func chunk(id: String, created: Int, model: String, text: String, finish: String?) -> String {
        #"{"id":\#(JSONText.string(id)),"object":"text_completion","created":\#(created),"model":\#(JSONText.string(model)),"choices":[{"text":\#(JSONText.string(text)),"index":0,"logprobs":null,"finish_reason":\#(JSONText.optional(finish))}]}"#
    }

    /// The chunk with the usage, after the last one, when `stream_options.include_usage`.
    static func usageChunk(id: String, created: Int, model: String, _ c: CachedCompletion, cost: Double?) -> String {
        #"{"id":\#(JSONText.string(id)),"object":"text_completion","created":\#(created),"model":\#(JSONText.string(model)),"choices":[],"usage":\#(JSONText.usage(c, cost: cost))}"#
    }
}
