import Basics
import DaemonRuntime
import Glibc
import IPC
import Metrics
import Services
import Wire

/// cached as the runtime sees it: a ``ServiceShell`` on the `cached` socket answering frontd's lookups,
/// stores and clears from one ``ResponseCache`` (``CacheHandlers``), and metricsd's stats requests.
final class CacheService: DaemonService {
    /// The cache every call consults.
    let cache: ResponseCache
    /// The daemon's metrics.
    let metrics: CacheMetrics
    /// Warm restarts, when cached has a state directory.
    let snapshots: SnapshotKeeper?
    private let snapshotMaxSize: Int
    private let server: IPCServer

    /// Builds the service on a listening socket; ``start()`` begins accepting.
    /// - Parameters:
    ///   - listenFD: The `cached` socket (from the runtime, or ``UnixSocket/listen(path:backlog:permissions:)``
    ///     in tests); the service closes it when it drains.
    ///   - cache: The cache.
    ///   - registry: Where the metrics live.
    ///   - logger: For requests that cannot be answered.
    ///   - now: The clock, in monotonic nanoseconds (tests pass their own).
    ///   - snapshot: Where and how often to keep a snapshot for warm restarts, or nil for none.
    init(
        listenFD: Int32, cache: ResponseCache, registry: MetricsRegistry = MetricsRegistry(), logger: Logger,
        now: @escaping @Sendable () -> Int64 = MonotonicClock.nowSigned, snapshot: SnapshotPlan? = nil
    ) {
        self.cache = cache
        let metrics = CacheMetrics(registry: registry)
        self.metrics = metrics
        snapshots = snapshot.map {
            SnapshotKeeper(directory: $0.directory, cache: cache, metrics: metrics, logger: logger, interval: $0.interval,
                           clocks: { ClockPair(monotonic: now(), wall: ClockPair.now().wall) })
        }
        snapshotMaxSize = snapshot?.maxSize ?? 0
        let handlers = CacheHandlers(cache: cache, metrics: metrics, logger: logger, now: now)
        server = handlers.shell().server(listenFD: listenFD, protocolName: ServiceName.cached)
    }

    /// Starts accepting connections.
    /// - Throws: ``SocketError`` when the socket cannot be watched.
    func start() throws {
        snapshots?.load(maxSize: snapshotMaxSize)
        snapshots?.start()
        try server.start()
    }

    var readyStatus: String { "serving from memory" }

    /// Stops accepting, lets the calls in flight finish, closes the socket, then writes the last snapshot
    /// (when there is a state directory): frontd bypasses the cache while it is away.
    func drain(until deadline: ContinuousClock.Instant) async {
        await server.drain(timeout: deadline - ContinuousClock.now)
        close(server.listenFD)
        await snapshots?.finish()
    }
}

/// Where and how often cached keeps its snapshot.
struct SnapshotPlan: Sendable {
    /// The state directory.
    var directory: String
    /// Between periodic snapshots (zero: only on drain).
    var interval: Duration
    /// The largest snapshot file believed at start.
    var maxSize: Int

    /// The largest file a snapshot can be under these bounds: every key and value byte, plus each record's
    /// framing, model name and times, plus a full semantic key (group and a vector of the largest
    /// dimension) per indexed entry. A larger file is dropped unread, so loading takes bounded time.
    static func maxSize(maxEntries: Int, maxBytes: Int, maxIndexed: Int) -> Int {
        let perEntry = 1 + 3 * 4 + 256 + 2 * 8
        let perIndexed = 1 + 4 + 1024 + 2 * 8 + 4 + 1024 + 4 + 4 * UnitVector.maxDimension
        let framing = SnapshotCodec.headerSize + SnapshotCodec.trailerSize
        let (entries, o1) = maxEntries.multipliedReportingOverflow(by: perEntry)
        let (indexed, o2) = maxIndexed.multipliedReportingOverflow(by: perIndexed)
        guard !o1, !o2 else { return .max }
        return framing.addingSaturating(maxBytes).addingSaturating(entries).addingSaturating(indexed)
    }
}

/// cached's handlers: lookups, stores, clears and figures from frontd (the shell answers metricsd's stats).
struct CacheHandlers: Sendable {
    let cache: ResponseCache
    let metrics: CacheMetrics
    let logger: Logger
    let now: @Sendable () -> Int64

    private static let nanosecondsPerMillisecond: Int64 = 1_000_000

    /// The shell that routes cached's calls here.
    func shell() -> ServiceShell {
        var shell = ServiceShell(name: "cached", metrics: metrics.registry) { [cache, metrics] in
            let size = cache.size
            metrics.updateSize(entries: size.entries, bytes: size.bytes, indexed: size.indexed)
        } onRefusal: { [logger] refusal in
            logger.debug("request refused", ["type": LogValue(refusal.type), "reason": .string(refusal.message)])
        }
        shell.register(CacheProtocol.Get.self, get)
        shell.register(CacheProtocol.Put.self, put)
        shell.register(CacheProtocol.Clear.self, clear)
        shell.register(CacheProtocol.Stats.self, stats)
        shell.register(CacheProtocol.SemanticGet.self, semanticGet)
        shell.register(CacheProtocol.Claim.self, claim)
        return shell
    }

    /// Looks a key up and counts the hit or miss.
    func get(_ get: CacheProtocol.Get, _ call: IPCCall) {
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
    }

    /// Stores a value (one too large for the byte bound is dropped quietly); the reply is empty.
    func put(_ put: CacheProtocol.Put, _ call: IPCCall) {
        let semantic = put.semantic.flatMap { key in UnitVector(key.vector).map { (group: key.group, vector: $0) } }
        if put.semantic != nil && semantic == nil {
            logger.debug("semantic key with an empty, zero or non-finite vector: stored for exact lookups only", [
                "model": .string(put.model), "dimension": LogValue(put.semantic?.vector.count ?? 0),
            ])
        }
        let stored = cache.put(
            key: put.key, model: put.model, value: put.value, ttlSeconds: put.ttlSeconds, semantic: semantic, now: now())
        if semantic != nil && !stored.indexed, case .stored = stored.outcome {
            logger.debug("semantic vector's dimension differs from its group's: stored for exact lookups only", [
                "model": .string(put.model), "dimension": LogValue(put.semantic?.vector.count ?? 0),
            ])
        }
        switch stored.outcome {
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
    }

    /// Drops every entry, or one model's.
    func clear(_ clear: CacheProtocol.Clear, _ call: IPCCall) {
        let removed = cache.clear(model: clear.model)
        logger.info("cache cleared", ["model": clear.model.map { .string($0) } ?? .null, "removed": LogValue(removed)])
        call.reply(CacheProtocol.ClearReply(removed: UInt64(removed)))
    }

    /// Finds the closest entry of a group, if close enough and young enough.
    func semanticGet(_ get: CacheProtocol.SemanticGet, _ call: IPCCall) {
        guard let vector = UnitVector(get.key.vector), !get.threshold.isNaN else {
            call.fail(code: IPCErrorCode.badRequest, message: "SemanticGet: the vector is empty, zero or not finite, or the threshold is NaN")
            return
        }
        let maxAge = Int64(clamping: get.maxAgeMs).multipliedReportingOverflow(by: Self.nanosecondsPerMillisecond)
        let found = cache.semanticGet(
            group: get.key.group, vector: vector, threshold: get.threshold,
            maxAge: maxAge.overflow ? 0 : maxAge.partialValue, now: now())
        metrics.recordSemanticLookup(hit: found.value != nil, similarity: found.search.best, threshold: get.threshold)
        call.reply(CacheProtocol.SemanticGetReply(
            value: found.value, ageMs: found.value == nil ? 0 : UInt64(found.search.age / Self.nanosecondsPerMillisecond),
            similarity: found.search.best))
    }

    /// Grants the right to fill a key unless another caller holds it.
    func claim(_ claim: CacheProtocol.Claim, _ call: IPCCall) {
        let lease = Int64(max(1, claim.leaseMs)) * Self.nanosecondsPerMillisecond
        let reply: CacheProtocol.ClaimReply
        switch cache.claim(claim.key, lease: lease, now: now()) {
        case .granted:
            reply = CacheProtocol.ClaimReply(granted: true, heldForMs: 0)
        case .heldBy(let remaining):
            let milliseconds = (remaining + Self.nanosecondsPerMillisecond - 1) / Self.nanosecondsPerMillisecond
            reply = CacheProtocol.ClaimReply(granted: false, heldForMs: UInt32(clamping: milliseconds))
        }
        metrics.recordClaim(granted: reply.granted)
        call.reply(reply)
    }

    /// cached's size, bounds and lookup counts.
    func stats(_: CacheProtocol.Stats, _ call: IPCCall) {
        let size = cache.size, bounds = cache.bounds, lookups = metrics.lookups
        call.reply(CacheProtocol.StatsReply(
            entries: UInt64(size.entries), bytes: UInt64(size.bytes), maxEntries: UInt64(bounds.entries),
            maxBytes: UInt64(bounds.bytes), hits: lookups.hits, misses: lookups.misses, evictions: lookups.evictions))
    }
}
