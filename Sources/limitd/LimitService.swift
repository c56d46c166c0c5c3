import Basics
import DaemonRuntime
import Glibc
import IPC
import Metrics
import Services

/// limitd as the runtime sees it: a ``ServiceShell`` on the `limitd` socket answering frontd's
/// reservations, settlements and questions from one ``LimitBackend`` (``LimitHandlers``), metricsd's
/// stats requests, and once a second the backend's housekeeping (expired leases, snapshots).
final class LimitService: DaemonService {
    /// The store in this process (its journal, snapshots and drain).
    let limiter: RateLimiter
    /// The store every call consults: `limiter`, or Redis with `limiter` standing in.
    let backend: any LimitBackend
    /// The daemon's metrics.
    let metrics: LimitMetrics
    private let server: IPCServer
    private let logger: Logger
    private let now: @Sendable () -> Int64
    private let housekeeping = HousekeepingTask()

    /// How often leases are checked and snapshots considered.
    static let housekeepingInterval = Duration.seconds(1)

    /// Builds the service on a listening socket; ``start()`` begins accepting.
    /// - Parameters:
    ///   - listenFD: The `limitd` socket (from the runtime, or ``UnixSocket/listen(path:backlog:permissions:)``
    ///     in tests); the service closes it when it drains.
    ///   - limiter: The store in this process.
    ///   - backend: The store calls go to (nil: `limiter`); made with ``metrics``'s registry.
    ///   - registry: Where the metrics live.
    ///   - logger: For requests that cannot be answered and journal failures.
    ///   - now: The clock, in nanoseconds since 1970 (tests pass their own).
    init(
        listenFD: Int32, limiter: RateLimiter, backend: ((LimitMetrics) -> any LimitBackend)? = nil,
        registry: MetricsRegistry = MetricsRegistry(), logger: Logger, now: @escaping @Sendable () -> Int64 = WallClock.nanoseconds
    ) {
        self.limiter = limiter
        self.logger = logger
        self.now = now
        metrics = LimitMetrics(registry: registry)
        self.backend = backend?(metrics) ?? limiter
        let handlers = LimitHandlers(backend: self.backend, metrics: metrics, now: now)
        server = handlers.shell(logger: logger).server(listenFD: listenFD, protocolName: ServiceName.limitd)
    }

    /// Starts accepting connections and the housekeeping.
    /// - Throws: ``SocketError`` when the socket cannot be watched.
    func start() throws {
        try server.start()
        let (limiter, backend, metrics, logger, now) = (limiter, backend, metrics, logger, now)
        housekeeping.start(every: Self.housekeepingInterval) {
            metrics.recordExpired(await backend.maintain(now: now()))
            if let failure = limiter.takeJournalFailure() {
                metrics.recordJournalError()
                logger.error("limitd state journal: \(failure); decisions go on in memory, a crash now may lose what was not written")
            }
        }
    }

    var readyStatus: String {
        "serving: \(limiter.defaultPolicy.limit) requests per \(limiter.window) per key"
            + (backend is SharedLimitBackend ? ", decided in Redis" : "")
    }

    /// Stops accepting, lets the calls in flight finish (each is microseconds), writes a last snapshot,
    /// then closes the socket.
    func drain(until deadline: ContinuousClock.Instant) async {
        await server.drain(timeout: deadline - ContinuousClock.now)
        await housekeeping.stop()
        do {
            try limiter.snapshot(now: now())
        } catch {
            logger.error("limitd could not write its last snapshot: \(error); the journal still holds every change")
        }
        close(server.listenFD)
    }
}

/// limitd's handlers: frontd's reservations, settlements, questions, and the version-1 messages (the
/// shell answers metricsd's stats).
struct LimitHandlers: Sendable {
    let backend: any LimitBackend
    let metrics: LimitMetrics
    let now: @Sendable () -> Int64

    /// The shell that routes limitd's calls here.
    /// - Parameter logger: Where refused calls are logged (at debug).
    func shell(logger: Logger) -> ServiceShell {
        var shell = ServiceShell(name: "limitd", metrics: metrics.registry) { [backend, metrics] in
            metrics.updateGauges(trackedKeys: backend.trackedKeys, reservations: backend.heldReservations)
        } onRefusal: { refusal in
            logger.debug("request refused", ["type": LogValue(refusal.type), "reason": .string(refusal.message)])
        }
        // Decisions are a lock and a few integer operations: they start on the socket's I/O thread (no
        // hand-off per call), and their replies go out once the loop turn's journal write is done (a
        // commit's once its fsync is, off that thread); every call of the Redis backend suspends at its
        // first call to Redis.
        shell.register(LimitProtocol.Admit.self, inline: true, admit)
        shell.register(LimitProtocol.Settle.self, inline: true, settle)
        shell.register(LimitProtocol.Reserve.self, inline: true, reserve)
        shell.register(LimitProtocol.Commit.self, inline: true, commit)
        shell.register(LimitProtocol.AdmitCached.self, inline: true, admitCached)
        shell.register(LimitProtocol.Usage.self, inline: true, usage)
        shell.register(LimitProtocol.SpendList.self, spendList)
        return shell
    }

    /// Version 1: decides one request by its requests-per-window limit and counts the decision.
    func admit(_ admit: LimitProtocol.Admit, _ call: IPCCall) async {
        let decision = await backend.admit(key: admit.key, requestsPerMinute: admit.requestsPerMinute, now: now())
        metrics.recordDecision(allowed: decision.allowed)
        let reply = LimitProtocol.AdmitReply(
            allowed: decision.allowed, limit: decision.limit, remaining: decision.remaining,
            retryAfterMs: decision.retryAfterMilliseconds)
        backend.whenRecorded(durable: false) { call.reply(reply) }
    }

    /// Version 1: adds a finished request's tokens to its key; the reply is empty.
    func settle(_ settle: LimitProtocol.Settle, _ call: IPCCall) async {
        await backend.settle(key: settle.key, promptTokens: settle.promptTokens, completionTokens: settle.completionTokens, now: now())
        metrics.recordTokens(prompt: settle.promptTokens, completion: settle.completionTokens)
        backend.whenRecorded(durable: false) { call.reply([]) }
    }

    /// Decides one request and holds what it may use.
    func reserve(_ request: LimitProtocol.Reserve, _ call: IPCCall) async {
        let reply = await backend.reserve(request, now: now())
        metrics.record(reply)
        backend.whenRecorded(durable: false) { call.reply(reply) }
    }

    /// Decides a request the cache answered: counted, nothing held, nothing to settle.
    func admitCached(_ request: LimitProtocol.AdmitCached, _ call: IPCCall) async {
        let (reply, durable) = await backend.admitCached(request.reserve, now: now())
        metrics.record(reply)
        backend.whenRecorded(durable: durable) { call.reply(reply) }
    }

    /// Settles a reservation; answered once the charge is on disk.
    func commit(_ commit: LimitProtocol.Commit, _ call: IPCCall) async {
        let result = await backend.commit(commit, now: now())
        metrics.record(commit, result: result)
        backend.whenRecorded(durable: true) { call.reply([]) }
    }

    /// Where a key stands.
    func usage(_ request: LimitProtocol.Usage, _ call: IPCCall) async {
        call.reply(await backend.usage(request, now: now()))
    }

    /// Every API key's spend.
    func spendList(_ request: LimitProtocol.SpendList, _ call: IPCCall) async {
        call.reply(await backend.spendList())
    }
}
