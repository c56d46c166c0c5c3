import Basics
import DaemonRuntime
import Glibc
import IPC
import Metrics
import Services

/// limitd as the runtime sees it: a ``ServiceShell`` on the `limitd` socket answering frontd's admissions
/// and settlements from one ``RateLimiter`` (``LimitHandlers``), and metricsd's stats requests.
final class LimitService: DaemonService {
    /// The limiter every call consults.
    let limiter: RateLimiter
    /// The daemon's metrics.
    let metrics: LimitMetrics
    private let server: IPCServer

    /// Builds the service on a listening socket; ``start()`` begins accepting.
    /// - Parameters:
    ///   - listenFD: The `limitd` socket (from the runtime, or ``UnixSocket/listen(path:backlog:permissions:)``
    ///     in tests); the service closes it when it drains.
    ///   - limiter: The limiter.
    ///   - registry: Where the metrics live.
    ///   - logger: For requests that cannot be answered.
    ///   - now: The clock, in monotonic nanoseconds (tests pass their own).
    init(
        listenFD: Int32, limiter: RateLimiter, registry: MetricsRegistry = MetricsRegistry(), logger: Logger,
        now: @escaping @Sendable () -> Int64 = MonotonicClock.nowSigned
    ) {
        self.limiter = limiter
        metrics = LimitMetrics(registry: registry)
        let handlers = LimitHandlers(limiter: limiter, metrics: metrics, now: now)
        server = handlers.shell(logger: logger).server(listenFD: listenFD, protocolName: ServiceName.limitd)
    }

    /// Starts accepting connections.
    /// - Throws: ``SocketError`` when the socket cannot be watched.
    func start() throws {
        try server.start()
    }

    var readyStatus: String {
        "serving: \(limiter.defaultPolicy.limit) requests per \(limiter.window) per key"
    }

    /// Stops accepting, lets the calls in flight finish (each is microseconds), then closes the socket.
    func drain(until deadline: ContinuousClock.Instant) async {
        await server.drain(timeout: deadline - ContinuousClock.now)
        close(server.listenFD)
    }
}

/// limitd's handlers: frontd's admissions and settlements (the shell answers metricsd's stats).
struct LimitHandlers: Sendable {
    let limiter: RateLimiter
    let metrics: LimitMetrics
    let now: @Sendable () -> Int64

    /// The shell that routes limitd's calls here.
    /// - Parameter logger: Where refused calls are logged (at debug).
    func shell(logger: Logger) -> ServiceShell {
        var shell = ServiceShell(name: "limitd", metrics: metrics.registry) {
            metrics.updateTrackedKeys(limiter.trackedKeys)
        } onRefusal: { refusal in
            logger.debug("request refused", ["type": LogValue(refusal.type), "reason": .string(refusal.message)])
        }
        shell.register(LimitProtocol.Admit.self, admit)
        shell.register(LimitProtocol.Settle.self, settle)
        return shell
    }

    /// Decides one request and counts the decision.
    func admit(_ admit: LimitProtocol.Admit, _ call: IPCCall) {
        let decision = limiter.admit(key: admit.key, requestsPerMinute: admit.requestsPerMinute, now: now())
        metrics.recordDecision(allowed: decision.allowed)
        call.reply(LimitProtocol.AdmitReply(
            allowed: decision.allowed, limit: decision.limit, remaining: decision.remaining,
            retryAfterMs: decision.retryAfterMilliseconds))
    }

    /// Adds a finished request's tokens to its key; the reply is empty.
    func settle(_ settle: LimitProtocol.Settle, _ call: IPCCall) {
        limiter.settle(key: settle.key, promptTokens: settle.promptTokens, completionTokens: settle.completionTokens)
        metrics.recordTokens(prompt: settle.promptTokens, completion: settle.completionTokens)
        call.reply([])
    }
}
