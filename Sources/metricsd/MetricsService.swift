import DaemonRuntime
import FoundationEssentials
import Glibc
import HTTP
import IPC
import Metrics
import Registry
import Services
import Settings
import Wire

/// metricsd's service: the HTTP endpoint Prometheus scrapes, and its socket (stats, and `Collect` for frontd).
final class MetricsService: DaemonService {
    let http: HTTPServer
    let ipc: IPCServer
    let registry: MetricsRegistry

    private init(http: HTTPServer, ipc: IPCServer, registry: MetricsRegistry) {
        self.http = http
        self.ipc = ipc
        self.registry = registry
    }

    static func start(_ context: DaemonContext) async throws -> MetricsService {
        let settings = context.settings
        let registry = MetricsRegistry()
        // One modeld per deployment (a one-deployment model's deployment has the model's name).
        let models = (try? ModelRegistry.load(environment: ProcessInfo.processInfo.environment).deployments.map(\.name)) ?? []
        if models.isEmpty { context.logger.warn("no model registry readable: modeld instances are not scraped") }
        _ = ScrapeTargets.processStart  // read now: the static is lazy
        let targets = ScrapeTargets(runtimeDirectory: settings[RuntimeSettings.runtimeDirectory], models: models)
        let collector = MetricsCollector(targets: targets, registry: registry, timeout: settings[MetricsSettings.scrapeTimeout])
        let enabled = settings[MetricsSettings.enabled]
        let httpSocket = try context.listener("metrics-http"), ipcSocket = try context.listener("metricsd")
        let history = StatusHistory()
        let http = HTTPServer(listenFD: httpSocket.fileDescriptor) { request, response in
            let known = ["/metrics", "/status", "/status.json"].contains(request.path)
            guard known, enabled else {
                try? response.respond(status: .notFound, headers: ["Content-Type": "text/plain"], body: "not found\n")
                return
            }
            guard request.method == .get || request.method == .head else {
                try? response.respond(status: HTTPStatus(code: 405), headers: ["Allow": "GET, HEAD"], body: "")
                return
            }
            if request.path == "/status" {
                try? response.respond(status: .ok, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"],
                                      body: StatusPage.html)
                return
            }
            if request.path == "/status.json" {
                var now = timespec()
                clock_gettime(CLOCK_REALTIME, &now)
                let families = await collector.gather(source: "status")
                let time = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
                var figures = StatusFigures.json(families: families, roster: targets.roster.snapshot, now: time)
                history.record(StatusFigures.historyEntry(figures), time: time)
                figures["history"] = history.all
                try? response.respond(status: .ok, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                                      body: StatusFigures.encoded(figures))
                return
            }
            let started = ContinuousClock.now
            // Prometheus asks for OpenMetrics first when it stores exemplars; plain text otherwise.
            let families = await collector.gather(source: "http")
            if OpenMetricsText.isAccepted(by: request.headers["Accept"]) {
                try? response.respond(status: .ok, headers: ["Content-Type": OpenMetricsText.contentType],
                                      body: OpenMetricsText.render(families))
            } else {
                try? response.respond(status: .ok, headers: ["Content-Type": PrometheusText.contentType],
                                      body: PrometheusText.render(families))
            }
            collector.observe(since: started)
        }
        let ipc = collector.shell(enabled: enabled).server(listenFD: ipcSocket.fileDescriptor, protocolName: ServiceName.metricsd)
        try http.start()
        try ipc.start()
        return MetricsService(http: http, ipc: ipc, registry: registry)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func drain(until deadline: ContinuousClock.Instant) async {
        let left = ContinuousClock.now.duration(to: deadline)
        async let a: Void = http.drain(timeout: left)
        async let b: Void = ipc.drain(timeout: left)
        _ = await (a, b)
    }
}
