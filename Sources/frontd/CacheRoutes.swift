import DaemonRuntime
import Foundation
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
            "entries": Int(s.entries), "bytes": Int(s.bytes), "max_entries": Int(s.maxEntries), "max_bytes": Int(s.maxBytes),
            "hits": Int(s.hits), "misses": Int(s.misses), "evictions": Int(s.evictions),
            "hit_rate": Self.rate(Double(s.hits), Double(s.misses)),
        ] as [String: Any])
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
        try c.send(.ok, json: ["removed": Int(removed), "model": model ?? NSNull()] as [String: Any])
        return 200
    }
}
