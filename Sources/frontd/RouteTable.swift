import HTTP

/// Every route frontd serves, in one place: method, path, who may call it, handler.
/// Handlers live in extensions of `Frontend`, one file per group of routes.
enum RouteTable {
    static func routes(_ f: Frontend) -> [Route] {
        [
            Route(.get, .exact("/"), .open) { try f.root($0) },
            Route(.get, .exact("/health"), .open) { try f.health($0) },
            Route(.get, .exact("/health/live"), .open) { try f.health($0) },
            Route(.get, .exact("/ready"), .open) { try await f.ready($0) },
            Route(.get, .exact("/health/ready"), .open) { try await f.ready($0) },
            Route(.get, .exact("/v1/models"), .anyKey) { try f.models($0) },
            Route(.post, .exact("/v1/chat/completions"), .scope(.infer)) { try await f.chatCompletions($0) },
            Route(.post, .exact("/v1/embeddings"), .scope(.embed)) { try await f.embeddings($0) },
            Route(.post, .exact("/webhooks/ingest"), .signed) { try await f.ingestWebhook($0) },
            Route(.get, .prefixed("/v1/jobs/"), .scope(.infer)) { try f.job($0) },
            Route(.get, .exact("/metrics"), .open) { try await f.prometheusMetrics($0) },
            Route(.post, .exact("/v1/infer"), .scope(.infer)) { try await f.infer($0) },
            Route(.post, .exact("/v1/infer/stream"), .scope(.infer)) { try await f.inferStream($0) },
            Route(.post, .exact("/v1/batch"), .scope(.infer)) { try await f.batchInfer($0) },
            Route(.post, .exact("/v1/completions"), .scope(.infer)) { try await f.completions($0) },
            Route(.get, .exact("/v1/usage"), .anyKey) { try await f.usage($0) },
            Route(.get, .exact("/v1/metrics/summary"), .anyKey) { try await f.metricsSummary($0) },
            Route(.get, .exact("/v1/metrics/cache"), .anyKey) { try await f.metricsCache($0) },
            Route(.get, .exact("/v1/metrics/cost"), .anyKey) { try await f.metricsCost($0) },
            Route(.get, .exact("/v1/cache/stats"), .anyKey) { try await f.cacheStats($0) },
            Route(.delete, .exact("/v1/cache"), .scope(.admin)) { try await f.clearCache($0) },
        ]
    }
}
