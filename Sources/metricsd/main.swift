// metricsd: gathers every daemon's metrics over its own socket on each scrape and serves them as
// Prometheus text on METRICS_PORT (default 9464).
import DaemonRuntime
import FoundationEssentials
import IPC

Daemon.run(
    name: "metricsd",
    settings: MetricsSettings.table,
    sockets: [.unix("metricsd"), .tcp("metrics-http", port: RuntimeSettings.metricsPort)]
) { context in
    try await MetricsService.start(context)
}
