import FoundationEssentials
import HTTP
import IPC
import Services

extension Frontend {
    /// `POST /v1/chat/completions`: OpenAI's chat completions, JSON or SSE, through limitd → cached → batchd;
    /// a non-stream request is idempotent by `Idempotency-Key`.
    func chatCompletions(_ c: RequestContext) async throws -> Int {
        let body = try JSONBody.object(c.request)
        let chat = try ChatRequest(body: body, rules: requestRules)
        let generate = chat.generate(requestID: c.requestID)
        let (plan, key) = try await prepareGeneration(c, route: "/v1/chat/completions", model: chat.model, body: body, generate)
        if chat.stream { return try await streamChat(chat, generate, plan: plan, c) }
        return try await answerOnce(c, key: key) {
            try await answerCompletion(c, generate, plan: plan, promptParam: "messages") { done, cost in
                JSONText.completion(id: "chatcmpl-" + c.requestID, created: Self.now(),
                                    model: c.answeredBy.model(requested: chat.model), done, cost: cost)
            }
        }
    }

    /// Seconds since the epoch, for `created`.
    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// A chat completion as SSE: the role chunk, content chunks, the finish chunk, the usage chunk when
    /// asked for, `[DONE]`. A cache hit is sent as one content chunk.
    private func streamChat(_ chat: ChatRequest, _ generate: GenerationProtocol.Generate, plan: CachePlan,
                            _ c: RequestContext) async throws -> Int {
        let id = "chatcmpl-" + c.requestID
        let created = Self.now()
        // Every chunk names the model that answers (a fallback's, once batchd's route says so).
        var model = chat.model
        func finish(_ sse: SSEWriter, _ done: CachedCompletion, cost: Double?) {
            sse.send(data: Self.chunkJSON(id, created, model, delta: [:], finish: done.finishReason))
            if chat.includeUsage {
                sse.send(data: JSONText.usageChunk(id: id, created: created, model: model, done, cost: cost))
            }
            sse.send(data: "[DONE]")
        }
        return try await streamGeneration(
            generate, plan: plan, c, promptParam: nil,
            replay: { sse, hit in
                // Replayed with a live stream's shapes: role chunk, the text, finish chunk, usage chunk, [DONE].
                sse.send(data: Self.chunkJSON(id, created, model, delta: ["role": "assistant", "content": ""], finish: nil))
                if !hit.content.isEmpty {
                    sse.send(data: Self.chunkJSON(id, created, model, delta: ["content": hit.content], finish: nil))
                }
                finish(sse, hit, cost: 0)
            },
            opening: {
                model = c.answeredBy.model(requested: chat.model)
                $0.send(data: Self.chunkJSON(id, created, model, delta: ["role": "assistant", "content": ""], finish: nil))
            },
            piece: { $0.send(data: Self.chunkJSON(id, created, model, delta: ["content": $1], finish: nil)) },
            finish: { finish($0, $1, cost: $2) })
    }

    static func chunkJSON(_ id: String, _ created: Int, _ model: String, delta: [String: String], finish: String?) -> String {
        let d = "{" + delta.sorted { $0.key > $1.key }.map { JSONText.string($0.key) + ":" + JSONText.string($0.value) }.joined(separator: ",") + "}"
        return JSONText.chunk(id: id, created: created, model: model, delta: d, finish: finish)
    }
}
