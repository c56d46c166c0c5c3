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

    private static let hit = [MetricLabel("result", "hit")]
    private static let miss = [MetricLabel("result", "miss")]
    private static let capacity = [MetricLabel("reason", "capacity")]
    private static let expired = [MetricLabel("reason", "expired")]

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
    func updateSize(entries: Int, bytes: Int) {
        self.entries.set(Double(entries))
        self.bytes.set(Double(bytes))
    }
}
