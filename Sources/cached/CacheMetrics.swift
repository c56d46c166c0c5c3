import IPC
import Metrics

/// cached's metrics, registered once; metricsd collects them through the stats message.
struct CacheMetrics: Sendable {
    /// The registry the families live in.
    let registry: MetricsRegistry
    private let requests: MetricsRegistry.Counter
    private let stores: MetricsRegistry.Counter
    private let evictions: MetricsRegistry.Counter
    private let entries: MetricsRegistry.Gauge
    private let bytes: MetricsRegistry.Gauge
    private let semanticRequests: MetricsRegistry.Counter
    private let semanticNearMisses: MetricsRegistry.Counter
    private let semanticSimilarity: MetricsRegistry.Histogram
    private let semanticEntries: MetricsRegistry.Gauge
    private let claims: MetricsRegistry.Counter
    private let snapshots: MetricsRegistry.Counter
    private let redisErrors: MetricsRegistry.Counter
    private let redisUp: MetricsRegistry.Gauge
    private let tierHits: MetricsRegistry.Counter
    private let snapshotEntries: MetricsRegistry.Gauge

    /// What happened to a snapshot.
    enum SnapshotResult: String {
        /// Written (periodically or on drain).
        case written
        /// Not written (disk full, directory gone); the previous one stays.
        case failed
        /// Found at start torn or corrupt, set aside and not loaded.
        case dropped
    }

    /// How far below the threshold a semantic miss's best similarity may be and still count as a near
    /// miss: the misses a slightly lower SEMANTIC_CACHE_THRESHOLD would have turned into hits (MiniLM's
    /// paraphrases and unrelated questions are usually further apart than this).
    static let nearMissMargin: Float = 0.05
    /// The hit-similarity histogram's buckets: thresholds worth considering are between 0.8 and 1.
    static let similarityBuckets: [Double] = [0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0]

    private static let hit = [MetricLabel("result", "hit")]
    private static let miss = [MetricLabel("result", "miss")]
    private static let capacity = [MetricLabel("reason", "capacity")]
    private static let expired = [MetricLabel("reason", "expired")]
    private static let granted = [MetricLabel("result", "granted")]
    private static let held = [MetricLabel("result", "held")]

    /// Registers cached's families in `registry`.
    /// - Parameter registry: The daemon's registry.
    init(registry: MetricsRegistry) {
        self.registry = registry
        requests = registry.counter(
            "infer_cached_requests_total", help: "Lookups, by result (hit or miss).", series: [Self.hit, Self.miss])
        stores = registry.counter("infer_cached_stores_total", help: "Entries stored (new or replaced).", series: [[]])
        evictions = registry.counter(
            "infer_cached_evictions_total",
            help: "Entries dropped by the cache itself, by reason (capacity: to fit the bounds; expired: past their TTL).",
            series: [Self.capacity, Self.expired])
        entries = registry.gauge("infer_cached_entries", help: "Entries held now.", series: [[]])
        bytes = registry.gauge("infer_cached_bytes", help: "Key and value bytes held now.", series: [[]])
        semanticRequests = registry.counter(
            "infer_cached_semantic_requests_total", help: "Semantic lookups, by result (hit or miss).",
            series: [Self.hit, Self.miss])
        semanticNearMisses = registry.counter(
            "infer_cached_semantic_near_misses_total",
            help: "Semantic misses whose best similarity was within 0.05 below the request's threshold.", series: [[]])
        semanticSimilarity = registry.histogram(
            "infer_cached_semantic_hit_similarity", help: "Cosine similarity of each semantic hit.",
            buckets: Self.similarityBuckets)
        semanticEntries = registry.gauge("infer_cached_semantic_entries", help: "Entries in the semantic index now.", series: [[]])
        claims = registry.counter(
            "infer_cached_claims_total",
            help: "Claims to fill a key, by result (granted: the caller computes; held: another caller does).",
            series: [Self.granted, Self.held])
        snapshots = registry.counter(
            "infer_cached_snapshots_total",
            help: "Snapshots for warm restarts, by result (written; failed: not written; dropped: found corrupt at start, not loaded).",
            series: ["written", "failed", "dropped"].map { [MetricLabel("result", $0)] })
        redisErrors = registry.counter(
            "infer_cached_redis_errors_total",
            help: "Redis calls that failed (down, timed out, refused) and were answered from memory instead, by operation.",
            series: [])
        redisUp = registry.gauge(
            "infer_cached_redis_up", help: "1 when the last Redis call succeeded, 0 when Redis is unreachable; absent with CACHE_BACKEND=memory.")
        tierHits = registry.counter(
            "infer_cached_tier_hits_total", help: "Hits (exact and semantic) by the tier that held the value (memory or redis).",
            series: [[MetricLabel("tier", "memory")], [MetricLabel("tier", "redis")]])
        snapshotEntries = registry.gauge(
            "infer_cached_snapshot_entries", help: "Entries in the last snapshot written (or loaded at start).", series: [[]])
    }

    /// Counts a Redis call that failed.
    func recordRedisError(_ operation: String) {
        redisErrors.increment([MetricLabel("operation", operation)])
    }

    /// Sets whether Redis answers.
    func setRedisUp(_ up: Bool) {
        redisUp.set(up ? 1 : 0)
    }

    /// Counts a hit by the tier that held it.
    func recordTierHit(_ tier: CacheTiers.Tier) {
        tierHits.increment([MetricLabel("tier", tier.rawValue)])
    }

    /// Counts a snapshot written, failed or dropped.
    func recordSnapshot(_ result: SnapshotResult) {
        snapshots.increment([MetricLabel("result", result.rawValue)])
    }

    /// Sets the entries of the last snapshot written or loaded.
    func recordSnapshotSize(entries: Int) {
        snapshotEntries.set(Double(entries))
    }

    /// Counts one semantic lookup: a hit and its similarity, or a miss (and whether it was near).
    /// - Parameters:
    ///   - hit: Whether an entry matched.
    ///   - similarity: The best similarity found (-1 for an empty group).
    ///   - threshold: The request's threshold.
    func recordSemanticLookup(hit: Bool, similarity: Float, threshold: Float) {
        semanticRequests.increment(hit ? Self.hit : Self.miss)
        if hit {
            semanticSimilarity.observe(Double(similarity))
        } else if similarity >= threshold - Self.nearMissMargin {
            semanticNearMisses.increment()
        }
    }

    /// Counts one claim.
    /// - Parameter granted: Whether the caller got it.
    func recordClaim(granted: Bool) {
        claims.increment(granted ? Self.granted : Self.held)
    }

    /// Counts one lookup.
    /// - Parameter hit: Whether it found a live entry.
    func recordLookup(hit: Bool) {
        requests.increment(hit ? Self.hit : Self.miss)
    }

    /// Counts one stored entry.
    func recordStore() {
        stores.increment()
    }

    /// Counts entries dropped by the cache.
    /// - Parameters:
    ///   - capacity: Dropped to fit the bounds while still live.
    ///   - expired: Dropped because their TTL had passed.
    func recordEvictions(capacity: Int, expired: Int) {
        if capacity > 0 { evictions.increment(Self.capacity, by: Double(capacity)) }
        if expired > 0 { evictions.increment(Self.expired, by: Double(expired)) }
    }

    /// Lookups that hit and missed, and entries evicted (capacity and expiry), since the daemon started.
    var lookups: (hits: UInt64, misses: UInt64, evictions: UInt64) {
        let name = "infer_cached_evictions_total"
        let evicted = registry.value(name, Self.capacity) + registry.value(name, Self.expired)
        return (UInt64(registry.value("infer_cached_requests_total", Self.hit)),
                UInt64(registry.value("infer_cached_requests_total", Self.miss)), UInt64(evicted))
    }

    /// Sets the size gauges (done just before a snapshot, so they cost nothing per call).
    /// - Parameters:
    ///   - entries: Entries held now.
    ///   - bytes: Bytes held now.
    ///   - indexed: Entries in the semantic index now.
    func updateSize(entries: Int, bytes: Int, indexed: Int) {
        self.entries.set(Double(entries))
        self.bytes.set(Double(bytes))
        semanticEntries.set(Double(indexed))
    }
}
