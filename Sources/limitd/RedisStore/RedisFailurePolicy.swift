/// What limitd does while Redis cannot answer (`LIMITS_REDIS_FAILURE`).
enum RedisFailurePolicy: String, Sendable, CaseIterable {
    /// Decide on this host's own limits (the memory store, journaled), and replay the spend charged
    /// meanwhile into Redis when it returns.
    case open
    /// Refuse every admission as unavailable (frontd: 503 with Retry-After).
    case closed
}

/// Where limitd decides and keeps its state (`LIMITS_BACKEND`).
enum LimitsBackendKind: String, Sendable, CaseIterable {
    /// This process, journaled to its state directory: limits per host.
    case memory
    /// Redis (`REDIS_URL`), shared by every host; the memory store stands in while it is away.
    case redis
}
