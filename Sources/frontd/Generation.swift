import IPC

extension Frontend {
    /// Runs a generation through batchd to the end and returns the whole completion.
    func complete(_ generate: GenerationProtocol.Generate) async throws -> CachedCompletion {
        var text = ""
        for try await e in batch.generate(generate, timeout: requestTimeout) {
            switch e {
            case .chunk(let c): text += c.text
            case .done(let d):
                return CachedCompletion(content: text, finishReason: d.finishReason, promptTokens: Int(d.promptTokens),
                                        completionTokens: Int(d.completionTokens))
            }
        }
        throw APIError.unavailable("the model ended without finishing")
    }

    /// A generation through the cache: a deterministic request is looked up first and stored after.
    /// Returns the completion and the X-Cache value (HIT, MISS or BYPASS).
    func completeCached(_ generate: GenerationProtocol.Generate, cacheKey: String?) async throws -> (CachedCompletion, String) {
        if let cacheKey, let hit = await lookup(cacheKey) {
            cacheResults.increment([MetricLabel("result", "hit")])
            return (hit, "HIT")
        }
        cacheResults.increment([MetricLabel("result", cacheKey == nil ? "bypass" : "miss")])
        let completion = try await complete(generate)
        if let cacheKey { await store(cacheKey, model: generate.model, completion) }
        return (completion, cacheKey == nil ? "BYPASS" : "MISS")
    }
}
