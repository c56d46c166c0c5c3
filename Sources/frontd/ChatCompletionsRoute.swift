import Foundation
import HTTP
import IPC
import Services

extension Frontend {
    /// `POST /v1/chat/completions`: OpenAI's chat completions, JSON or SSE, through limitd → cached → batchd;
    /// a non-stream request is idempotent by `Idempotency-Key`.
    func chatCompletions(_ c: RequestContext) async throws -> Int {
        let chat = try ChatRequest(body: JSONBody.object(c.request), rules: requestRules)
        let generate = chat.generate(requestID: c.requestID)
        let (cacheKey, key) = try await prepareGeneration(c, route: "/v1/chat/completions", model: chat.model, generate)
        if chat.stream { return try await streamChat(chat, generate, cacheKey: cacheKey, c) }
        return try await answerOnce(c, key: key) {
            let (done, cacheStatus) = try await completeCached(generate, cacheKey: cacheKey, answeredBy: c.answeredBy)
            if cacheStatus != "HIT" { await settle(c, promptTokens: done.promptTokens, completionTokens: done.completionTokens) }
            let body = JSONText.completion(id: "chatcmpl-" + c.requestID, created: Self.now(),
                                           model: c.answeredBy.model(requested: chat.model), done,
                                           cost: usageCost(c, cacheStatus: cacheStatus, done))
            return RouteReply(headers: answerHeaders(c, cacheStatus: cacheStatus, done), body: Array(body.utf8))
        }
    }

    /// Seconds since the epoch, for `created`.
    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// A chat completion as SSE: the role chunk, content chunks, the finish chunk, the usage chunk when
    /// asked for, `[DONE]`. A cache hit is sent as one content chunk.
    private func streamChat(_ chat: ChatRequest, _ generate: GenerationProtocol.Generate, cacheKey: String?,
                            _ c: RequestContext) async throws -> Int {
        let id = "chatcmpl-" + c.requestID
        let created = Self.now()
        if let hit = await cachedCompletion(for: cacheKey) {
            let sse = try c.startEvents(["X-Cache": "HIT"])
            sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["role": "assistant", "content": ""], finish: nil))
            if !hit.content.isEmpty { sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["content": hit.content], finish: nil)) }
            finishChatStream(sse, chat, id, created, hit, model: chat.model, cost: 0)
            return 200
        }
        // Every chunk names the model that answers (a fallback's, once batchd's route says so).
        var model = chat.model
        let (sse, done) = try await relayEvents(
            generate, cacheKey: cacheKey, c, promptParam: nil,
            opening: {
                model = c.answeredBy.model(requested: chat.model)
                $0.send(data: Self.chunkJSON(id, created, model, delta: ["role": "assistant", "content": ""], finish: nil))
            },
            piece: { $0.send(data: Self.chunkJSON(id, created, model, delta: ["content": $1], finish: nil)) })
        finishChatStream(sse, chat, id, created, done, model: model, cost: usageCost(c, cacheStatus: "MISS", done))
        if let cacheKey { await store(cacheKey, model: chat.model, done) }
        await settle(c, promptTokens: done.promptTokens, completionTokens: done.completionTokens)
        return 200
    }

    private func finishChatStream(_ sse: SSEWriter, _ chat: ChatRequest, _ id: String, _ created: Int, _ done: CachedCompletion,
                                  model: String, cost: Double?) {
        sse.send(data: Self.chunkJSON(id, created, model, delta: [:], finish: done.finishReason))
        if chat.includeUsage {
            sse.send(data: JSONText.usageChunk(id: id, created: created, model: model, done, cost: cost))
        }
        sse.send(data: "[DONE]")
        sse.end()
    }

    static func chunkJSON(_ id: String, _ created: Int, _ model: String, delta: [String: String], finish: String?) -> String {
        let d = "{" + delta.sorted { $0.key > $1.key }.map { JSONText.string($0.key) + ":" + JSONText.string($0.value) }.joined(separator: ",") + "}"
        return JSONText.chunk(id: id, created: created, model: model, delta: d, finish: finish)
    }
}
