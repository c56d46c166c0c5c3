import DaemonRuntime
import HTTP
import IPC
import Registry
import Services

extension Frontend {
    /// `GET /v1/cache/stats`: cached's own figures: size, bounds and every lookup it answered (idempotency
    /// record lookups included). 503 when cached is down.
    func cacheStats(_ c: RequestContext) async throws -> Int {
        let s: CacheProtocol.StatsReply
        do {
            s = try await cache.stats(timeout: dependencyTimeout)
        } catch {
            throw APIError.unavailable("the cache (cached) is unavailable")
        }
        try c.send(.ok, json: [
            "entries": .int(s.entries), "bytes": .int(s.bytes), "max_entries": .int(s.maxEntries), "max_bytes": .int(s.maxBytes),
            "hits": .int(s.hits), "misses": .int(s.misses), "evictions": .int(s.evictions),
            "hit_rate": .double(Self.rate(Double(s.hits), Double(s.misses))),
        ])
        return 200
    }

    /// `DELETE /v1/cache[?model=NAME]`: drops every cached entry (idempotency records included), or one
    /// model's responses. 503 when cached is down.
    func clearCache(_ c: RequestContext) async throws -> Int {
        let model = try QueryParameters(c.request.query)["model"]
        if let model, !ModelRegistry.isValidModelName(model) {
            throw APIError.unprocessable("model must be a model name", param: "model")
        }
        let removed: UInt64
        do {
            removed = try await cache.clear(model: model, timeout: dependencyTimeout)
        } catch {
            throw APIError.unavailable("the cache (cached) is unavailable")
        }
        c.logger(logger).info("cache cleared", ["model": model.map { .string($0) } ?? .null, "removed": LogValue(Int(removed))])
        try c.send(.ok, json: ["removed": .int(removed), "model": .optional(model)])
        return 200
    }
}
