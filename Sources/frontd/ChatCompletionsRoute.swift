import Foundation
import HTTP
import IPC

extension Frontend {
    /// `POST /v1/chat/completions`: OpenAI's chat completions, JSON or SSE, through limitd → cached → batchd.
    func chatCompletions(_ c: RequestContext) async throws -> Int {
        let chat = try ChatRequest(body: JSONBody.object(c.request), defaultModel: defaultModel, maxTokensLimit: maxTokensLimit)
        try requireModel(chat.model, kind: .chat)
        try await admit(c, route: "/v1/chat/completions")
        let cacheKey = chat.isDeterministic ? chat.cacheKey : nil
        let generate = GenerationProtocol.Generate(requestID: c.requestID, model: chat.model, messages: chat.messages, parameters: chat.parameters)
        let completion: CachedCompletion
        if chat.stream {
            if let cacheKey, let hit = await lookup(cacheKey) {
                cacheResults.increment([MetricLabel("result", "hit")])
                try replayChatStream(chat, hit, c)
                return 200
            }
            cacheResults.increment([MetricLabel("result", cacheKey == nil ? "bypass" : "miss")])
            completion = try await streamChat(chat, batch.generate(generate, timeout: requestTimeout), c)
            if let cacheKey { await store(cacheKey, model: chat.model, completion) }
        } else {
            let (done, cacheStatus) = try await completeCached(generate, cacheKey: cacheKey)
            completion = done
            let body = JSONText.completion(id: "chatcmpl-" + c.requestID, created: Self.now(), model: chat.model, completion)
            try c.send(.ok, Array(body.utf8), extra: ["X-Cache": cacheStatus])
            if cacheStatus == "HIT" { return 200 }
        }
        await settle(c, promptTokens: completion.promptTokens, completionTokens: completion.completionTokens)
        return 200
    }

    /// Seconds since the epoch, for `created`.
    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// A cached completion sent as a stream: the role chunk, the whole content, the end.
    private func replayChatStream(_ chat: ChatRequest, _ done: CachedCompletion, _ c: RequestContext) throws {
        let id = "chatcmpl-" + c.requestID
        let created = Self.now()
        let sse = try c.startEvents(["X-Cache": "HIT"])
        sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["role": "assistant", "content": ""], finish: nil))
        if !done.content.isEmpty { sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["content": done.content], finish: nil)) }
        finishChatStream(sse, chat, id, created, done)
    }

    private func streamChat(_ chat: ChatRequest, _ events: AsyncThrowingStream<GenerationProtocol.Event, any Error>,
                            _ c: RequestContext) async throws -> CachedCompletion {
        let id = "chatcmpl-" + c.requestID
        let created = Self.now()
        var iterator = events.makeAsyncIterator()
        // Wait for the first event before committing to 200, so early failures get a proper status.
        var event = try await iterator.next()
        let sse = try c.startEvents(["X-Cache": chat.isDeterministic ? "MISS" : "BYPASS"])
        sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["role": "assistant", "content": ""], finish: nil))
        var text = ""
        do {
            while let e = event {
                switch e {
                case .chunk(let chunk):
                    text += chunk.text
                    if !sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["content": chunk.text], finish: nil)) { throw CancellationError() }
                case .done(let d):
                    let done = CachedCompletion(content: text, finishReason: d.finishReason, promptTokens: Int(d.promptTokens), completionTokens: Int(d.completionTokens))
                    finishChatStream(sse, chat, id, created, done)
                    return done
                }
                event = try await iterator.next()
            }
        } catch {
            // Headers are sent: report in-band, as OpenAI does, then end the stream.
            sse.send(data: String(decoding: APIError.from(error).body(requestID: c.requestID), as: UTF8.self))
            sse.end()
            throw error
        }
        sse.end()
        throw APIError.unavailable("the model ended without finishing")
    }

    private func finishChatStream(_ sse: SSEWriter, _ chat: ChatRequest, _ id: String, _ created: Int, _ done: CachedCompletion) {
        sse.send(data: Self.chunkJSON(id, created, chat.model, delta: [:], finish: done.finishReason))
        if chat.includeUsage {
            sse.send(data: JSONText.usageChunk(id: id, created: created, model: chat.model, done))
        }
        sse.send(data: "[DONE]")
        sse.end()
    }

    static func chunkJSON(_ id: String, _ created: Int, _ model: String, delta: [String: String], finish: String?) -> String {
        let d = "{" + delta.sorted { $0.key > $1.key }.map { JSONText.string($0.key) + ":" + JSONText.string($0.value) }.joined(separator: ",") + "}"
        return JSONText.chunk(id: id, created: created, model: model, delta: d, finish: finish)
    }
}
