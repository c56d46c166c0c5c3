import HTTP

/// Every route frontd serves, in one place: method, path, who may call it, handler.
/// Handlers live in extensions of `Frontend`, one file per group of routes.
enum RouteTable {
    static func routes(_ f: Frontend) -> [Route] {
        [
            Route(.get, .exact("/health"), .open) { try f.health($0) },
            Route(.get, .exact("/health/live"), .open) { try f.health($0) },
            Route(.get, .exact("/ready"), .open) { try await f.ready($0) },
            Route(.get, .exact("/health/ready"), .open) { try await f.ready($0) },
            Route(.get, .exact("/v1/models"), .anyKey) { try f.models($0) },
            Route(.post, .exact("/v1/chat/completions"), .scope(.infer)) { try await f.chatCompletions($0) },
            Route(.post, .exact("/v1/embeddings"), .scope(.embed)) { try await f.embeddings($0) },
            Route(.post, .exact("/webhooks/ingest"), .signed) { try await f.ingestWebhook($0) },
            Route(.get, .prefixed("/v1/jobs/"), .scope(.infer)) { try f.job($0) },
        ]
    }
}
