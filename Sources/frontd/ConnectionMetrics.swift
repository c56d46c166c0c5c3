import HTTP
import Metrics

/// frontd's client connections as metrics, read from the HTTP server's counters at each scrape: open
/// now, and refused by the caps (HTTP_MAX_CONNECTIONS, HTTP_MAX_CONNECTIONS_PER_CLIENT).
struct ConnectionMetrics: Sendable {
    private let open: MetricsRegistry.Gauge
    private let refused: MetricsRegistry.Gauge

    init(registry: MetricsRegistry) {
        open = registry.gauge("infer_frontd_open_connections", help: "Client connections open now.")
        // A gauge set from the server's own cumulative counter: it only grows while frontd runs.
        refused = registry.gauge("infer_frontd_refused_connections",
                                 help: "Connections answered 503 and closed since frontd started, by reason (capacity, per_client).")
    }

    func update(_ stats: HTTPServerStats) {
        open.set(Double(stats.openConnections))
        refused.set(Double(stats.rejectedConnections), [MetricLabel("reason", "capacity")])
        refused.set(Double(stats.rejectedPerClient), [MetricLabel("reason", "per_client")])
    }
}
