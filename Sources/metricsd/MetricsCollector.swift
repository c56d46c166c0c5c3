import IPC
import Metrics
import Services

/// One gathering of every daemon's metrics: the scrape targets, then metricsd's own families. Shared by
/// the HTTP endpoint Prometheus scrapes and the `Collect` message frontd sends, so both see the same.
struct MetricsCollector: Sendable {
    let targets: ScrapeTargets
    /// metricsd's own metrics.
    let registry: MetricsRegistry
    /// How long one scrape waits for each daemon (`METRICS_SCRAPE_TIMEOUT_MS`).
    let timeout: Duration
    private let scrapes: MetricsRegistry.Counter
    private let duration: MetricsRegistry.Histogram

    init(targets: ScrapeTargets, registry: MetricsRegistry, timeout: Duration) {
        self.targets = targets
        self.registry = registry
        self.timeout = timeout
        scrapes = registry.counter("infer_metricsd_scrapes_total", help: "Scrapes served, by source (http: /metrics; ipc: Collect from frontd; status: the status page).")
        duration = registry.histogram("infer_metricsd_scrape_duration_seconds", help: "Time to gather and render one scrape.",
                                      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1])
    }

    /// Every daemon's families plus `infer_daemon_up` and metricsd's own, counted as one scrape from `source`.
    func gather(source: String) async -> [MetricFamily] {
        var families = await targets.scrape(timeout: timeout)
        scrapes.increment([MetricLabel("source", source)])
        families += registry.snapshot()
        return families
    }

    /// Records how long a scrape took.
    func observe(since started: ContinuousClock.Instant) {
        duration.observe(MetricsService.seconds(started.duration(to: .now)))
    }

    /// The shell of metricsd's socket: `Collect` from frontd, and the stats call (metricsd's own families).
    /// - Parameter enabled: `ENABLE_METRICS`: whether `Collect` may answer the rendered text.
    func shell(enabled: Bool) -> ServiceShell {
        var shell = ServiceShell(name: "metricsd", metrics: registry)
        shell.register(MetricsProtocol.Collect.self) { request, call in
            await answer(request, to: call, enabled: enabled)
        }
        return shell
    }

    /// Answers a `Collect` call: the text when asked for and `enabled`, the families when asked for.
    func answer(_ request: MetricsProtocol.Collect, to call: IPCCall, enabled: Bool) async {
        let started = ContinuousClock.now
        let families = await gather(source: "ipc")
        let text = request.text && enabled ? PrometheusText.render(families) : nil
        call.reply(MetricsProtocol.CollectReply(text: text, families: request.families ? families : []))
        observe(since: started)
    }
}
