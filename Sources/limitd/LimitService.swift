import Basics
import DaemonRuntime
import Glibc
import IPC
import Metrics
import Services
import Wire

/// limitd as the runtime sees it: an ``IPCServer`` on the `limitd` socket answering frontd's admissions
/// and settlements from one ``RateLimiter``, and metricsd's stats requests.
final class LimitService: DaemonService {
    /// The limiter every call consults.
    let limiter: RateLimiter
    /// The daemon's metrics.
    let metrics: LimitMetrics
    private let server: IPCServer
    private let listenFD: Int32

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
        let metrics = LimitMetrics(registry: registry)
        let dispatcher = FrontdDispatcher(limiter: limiter, metrics: metrics, logger: logger, now: now)
        self.limiter = limiter
        self.metrics = metrics
        self.listenFD = listenFD
        self.server = IPCServer(listenFD: listenFD, protocolName: ServiceName.limitd, version: ServiceName.version) { call in
            dispatcher.dispatch(call)
        }
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
        close(listenFD)
    }
}

/// Answers the calls on limitd's socket: admissions and settlements from frontd, stats from metricsd.
struct FrontdDispatcher: Sendable {
    let limiter: RateLimiter
    let metrics: LimitMetrics
    let logger: Logger
    let now: @Sendable () -> Int64

    /// Answers one call; every call gets exactly one answer.
    /// - Parameter call: The call.
    func dispatch(_ call: IPCCall) {
        switch call.type {
        case LimitProtocol.Admit.type:
            guard let admit = decode(LimitProtocol.Admit.self, call) else { return }
            let decision = limiter.admit(key: admit.key, requestsPerMinute: admit.requestsPerMinute, now: now())
            metrics.recordDecision(allowed: decision.allowed)
            call.reply(LimitProtocol.AdmitReply(
                allowed: decision.allowed, limit: decision.limit, remaining: decision.remaining,
                retryAfterMs: decision.retryAfterMilliseconds))
        case LimitProtocol.Settle.type:
            guard let settle = decode(LimitProtocol.Settle.self, call) else { return }
            limiter.settle(key: settle.key, promptTokens: settle.promptTokens, completionTokens: settle.completionTokens)
            metrics.recordTokens(prompt: settle.promptTokens, completion: settle.completionTokens)
            call.reply([])
        case StatsProtocol.statsType:
            metrics.updateTrackedKeys(limiter.trackedKeys)
            _ = call.answerStats(from: metrics.registry)
        default:
            call.fail(code: IPCErrorCode.unknownType, message: "limitd does not know message type \(call.type)")
        }
    }

    /// Decodes the call's payload, or answers it with a bad-request error.
    private func decode<Message: WireCodable>(_ type: Message.Type, _ call: IPCCall) -> Message? {
        do {
            return try call.decode(type)
        } catch {
            logger.debug("undecodable request", ["type": LogValue(call.type), "error": .string("\(error)")])
            call.fail(code: IPCErrorCode.badRequest, message: "undecodable \(type): \(error)")
            return nil
        }
    }
}
