import Basics
import DaemonRuntime
import Glibc
import IPC
import Metrics
import Services
import Wire

/// cached as the runtime sees it: an ``IPCServer`` on the `cached` socket answering frontd's lookups,
/// stores and clears from one ``ResponseCache``, and metricsd's stats requests.
final class CacheService: DaemonService {
    /// The cache every call consults.
    let cache: ResponseCache
    /// The daemon's metrics.
    let metrics: CacheMetrics
    private let server: IPCServer
    private let listenFD: Int32

    /// Builds the service on a listening socket; ``start()`` begins accepting.
    /// - Parameters:
    ///   - listenFD: The `cached` socket (from the runtime, or ``UnixSocket/listen(path:backlog:permissions:)``
    ///     in tests); the service closes it when it drains.
    ///   - cache: The cache.
    ///   - registry: Where the metrics live.
    ///   - logger: For requests that cannot be answered.
    ///   - now: The clock, in monotonic nanoseconds (tests pass their own).
    init(
        listenFD: Int32, cache: ResponseCache, registry: MetricsRegistry = MetricsRegistry(), logger: Logger,
        now: @escaping @Sendable () -> Int64 = MonotonicClock.nowSigned
    ) {
        let metrics = CacheMetrics(registry: registry)
        let dispatcher = FrontdDispatcher(cache: cache, metrics: metrics, logger: logger, now: now)
        self.cache = cache
        self.metrics = metrics
        self.listenFD = listenFD
        self.server = IPCServer(listenFD: listenFD, protocolName: ServiceName.cached, version: ServiceName.version) { call in
            dispatcher.dispatch(call)
        }
    }

    /// Starts accepting connections.
    /// - Throws: ``SocketError`` when the socket cannot be watched.
    func start() throws {
        try server.start()
    }

    var readyStatus: String { "serving from memory" }

    /// Stops accepting, lets the calls in flight finish, then closes the socket. Nothing is flushed: the
    /// memory backend is lost on restart by design, and frontd bypasses the cache while it is away.
    func drain(until deadline: ContinuousClock.Instant) async {
        await server.drain(timeout: deadline - ContinuousClock.now)
        close(listenFD)
    }
}

/// Answers the calls on cached's socket: lookups, stores, clears and figures from frontd, stats from metricsd.
struct FrontdDispatcher: Sendable {
    let cache: ResponseCache
    let metrics: CacheMetrics
    let logger: Logger
    let now: @Sendable () -> Int64

    private static let nanosecondsPerMillisecond: Int64 = 1_000_000

    /// Answers one call; every call gets exactly one answer.
    /// - Parameter call: The call.
    func dispatch(_ call: IPCCall) {
        switch call.type {
        case CacheProtocol.Get.type:
            guard let get = decode(CacheProtocol.Get.self, call) else { return }
            let reply: CacheProtocol.GetReply
            switch cache.get(get.key, now: now()) {
            case .hit(let value, let age):
                metrics.recordLookup(hit: true)
                reply = CacheProtocol.GetReply(value: value, ageMs: UInt64(age / Self.nanosecondsPerMillisecond))
            case .miss:
                metrics.recordLookup(hit: false)
                reply = CacheProtocol.GetReply(value: nil, ageMs: 0)
            case .expired:
                metrics.recordLookup(hit: false)
                metrics.recordEvictions(capacity: 0, expired: 1)
                reply = CacheProtocol.GetReply(value: nil, ageMs: 0)
            }
            call.reply(reply)
        case CacheProtocol.Put.type:
            guard let put = decode(CacheProtocol.Put.self, call) else { return }
            let outcome = cache.put(
                key: put.key, model: put.model, value: put.value, ttlSeconds: put.ttlSeconds, now: now())
            switch outcome {
            case .stored(let evicted, let expired):
                metrics.recordStore()
                metrics.recordEvictions(capacity: evicted - expired, expired: expired)
            case .tooLarge:
                // Not an error for the caller: the response was served; it just will not be cached.
                logger.debug("entry larger than CACHE_MAX_BYTES not stored", [
                    "bytes": LogValue(put.key.utf8.count + put.value.count), "model": .string(put.model),
                ])
            }
            call.reply([])
        case CacheProtocol.Clear.type:
            guard let clear = decode(CacheProtocol.Clear.self, call) else { return }
            let removed = cache.clear(model: clear.model)
            logger.info("cache cleared", ["model": clear.model.map { .string($0) } ?? .null, "removed": LogValue(removed)])
            call.reply(CacheProtocol.ClearReply(removed: UInt64(removed)))
        case CacheProtocol.Stats.type:
            let size = cache.size, bounds = cache.bounds, lookups = metrics.lookups
            call.reply(CacheProtocol.StatsReply(
                entries: UInt64(size.entries), bytes: UInt64(size.bytes), maxEntries: UInt64(bounds.entries),
                maxBytes: UInt64(bounds.bytes), hits: lookups.hits, misses: lookups.misses, evictions: lookups.evictions))
        case StatsProtocol.statsType:
            let size = cache.size
            metrics.updateSize(entries: size.entries, bytes: size.bytes)
            _ = call.answerStats(from: metrics.registry)
        default:
            call.fail(code: IPCErrorCode.unknownType, message: "cached does not know message type \(call.type)")
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
