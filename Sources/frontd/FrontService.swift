import DaemonRuntime
import HTTP
import IPC
import Metrics
import Services
import Settings
import Wire

/// frontd's service: the HTTP server, the clients of the daemons it orchestrates, and its own
/// stats socket for metricsd.
final class FrontService: DaemonService {
    let http: HTTPServer
    let stats: IPCServer

    private init(http: HTTPServer, stats: IPCServer) {
        self.http = http
        self.stats = stats
    }

    static func start(_ context: DaemonContext) async throws -> FrontService {
        let httpSocket = try context.listener("http"), statsSocket = try context.listener("frontd")
        let metrics = MetricsRegistry()
        let router = Router(frontend: try Frontend(context: context, metrics: metrics), cors: context.settings[FrontSettings.corsOrigins])
        var limits = HTTPLimits()
        limits.maxBodyBytes = context.settings[FrontSettings.maxBody]
        limits.headerReadTimeout = context.settings[FrontSettings.headerTimeout]
        limits.bodyReadTimeout = context.settings[FrontSettings.bodyTimeout]
        limits.idleTimeout = context.settings[FrontSettings.idleTimeout]
        limits.maxConnections = context.settings[FrontSettings.maxConnections]
        limits.maxConnectionsPerClient = context.settings[FrontSettings.maxConnectionsPerClient]
        // Replies the HTTP layer writes itself (400/408/413/414/431 before a request reaches the router)
        // get an id from the same generator as the router's, and the API's error shape.
        let http = HTTPServer(listenFD: httpSocket.fileDescriptor, limits: limits, requestIDs: { Router.newRequestID() },
                              errorBody: APIError.serverReplyBody) { request, response in
            await router.handle(request, response)
        }
        // frontd's socket serves metricsd's stats call only: a shell with no handlers, which reads the HTTP
        // server's connection counters into gauges just before it answers.
        let connections = ConnectionMetrics(registry: metrics)
        let stats = ServiceShell(name: "frontd", metrics: metrics) { connections.update(http.stats) }.server(
            listenFD: statsSocket.fileDescriptor, protocolName: ServiceName.frontd)
        try http.start()
        try stats.start()
        return FrontService(http: http, stats: stats)
    }

    func drain(until deadline: ContinuousClock.Instant) async {
        let left = ContinuousClock.now.duration(to: deadline)
        async let a: Void = http.drain(timeout: left)
        async let b: Void = stats.drain(timeout: left)
        _ = await (a, b)
    }
}
