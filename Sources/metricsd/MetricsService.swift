import DaemonRuntime
import Foundation
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
        let http = HTTPServer(listenFD: httpSocket.fileDescriptor) { request, response in
            guard request.path == "/metrics", enabled else {
                try? response.respond(status: .notFound, headers: ["Content-Type": "text/plain"], body: "not found\n")
                return
            }
            guard request.method == .get || request.method == .head else {
                try? response.respond(status: HTTPStatus(code: 405), headers: ["Allow": "GET, HEAD"], body: "")
                return
            }
            let started = ContinuousClock.now
            let text = PrometheusText.render(await collector.gather(source: "http"))
            try? response.respond(status: .ok, headers: ["Content-Type": PrometheusText.contentType], body: text)
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
