import Basics
import DaemonRuntime
import Glibc
import IPC
import Metrics
import Services
import Synchronization

/// cached as the runtime sees it: a ``ServiceShell`` on the `cached` socket answering frontd's calls
/// through ``CacheTiers`` (``CacheHandlers``), metricsd's stats requests, the snapshot for warm restarts,
/// and (with Redis) a watch on other hosts' clears.
final class CacheService: DaemonService {
    /// The memory tier.
    let cache: ResponseCache
    /// Memory and/or Redis, by `CACHE_BACKEND`.
    let tiers: CacheTiers
    /// The daemon's metrics.
    let metrics: CacheMetrics
    /// Warm restarts, when cached has a state directory.
    let snapshots: SnapshotKeeper?
    private let snapshotMaxSize: Int
    private let server: IPCServer
    private let watcher = Mutex<Task<Void, Never>?>(nil)

    /// How often a cached with Redis reads the clears counter.
    static let watchInterval: Duration = .seconds(1)

    /// Builds the service on a listening socket; ``start()`` begins accepting.
    /// - Parameters:
    ///   - listenFD: The `cached` socket (from the runtime, or ``UnixSocket/listen(path:backlog:permissions:)``
    ///     in tests); the service closes it when it drains.
    ///   - cache: The memory tier.
    ///   - backend: `CACHE_BACKEND`.
    ///   - redis: The Redis tier of `redis` and `tiered`.
    ///   - groupRefresh: Least time between two reloads of a semantic group from Redis.
    ///   - registry: Where the metrics live.
    ///   - logger: For requests that cannot be answered.
    ///   - now: The clock, in monotonic nanoseconds (tests pass their own).
    ///   - snapshot: Where and how often to keep a snapshot for warm restarts, or nil for none.
    init(
        listenFD: Int32, cache: ResponseCache, backend: CacheBackend = .memory, redis: RedisTier? = nil,
        groupRefresh: Duration = .seconds(1), registry: MetricsRegistry = MetricsRegistry(), logger: Logger,
        now: @escaping @Sendable () -> Int64 = MonotonicClock.nowSigned, snapshot: SnapshotPlan? = nil
    ) {
        self.cache = cache
        let metrics = CacheMetrics(registry: registry)
        self.metrics = metrics
        let clocks: @Sendable () -> ClockPair = { ClockPair(monotonic: now(), wall: ClockPair.now().wall) }
        tiers = CacheTiers(
            backend: backend, memory: cache, shared: redis, metrics: metrics, logger: logger, groupRefreshInterval: groupRefresh,
            clocks: clocks)
        snapshots = snapshot.map {
            SnapshotKeeper(directory: $0.directory, cache: cache, metrics: metrics, logger: logger, interval: $0.interval, clocks: clocks)
        }
        snapshotMaxSize = snapshot?.maxSize ?? 0
        let handlers = CacheHandlers(tiers: tiers, metrics: metrics, logger: logger)
        server = handlers.shell().server(listenFD: listenFD, protocolName: ServiceName.cached)
    }

    /// Loads the snapshot, starts the periodic tasks, then accepts connections.
    /// - Throws: ``SocketError`` when the socket cannot be watched.
    func start() throws {
        snapshots?.load(maxSize: snapshotMaxSize)
        snapshots?.start()
        if tiers.shared != nil {
            let task = Task { [tiers] in
                while !Task.isCancelled {
                    await tiers.watchClears()
                    try? await Task.sleep(for: Self.watchInterval)
                }
            }
            watcher.withLock { $0 = task }
        }
        try server.start()
    }

    var readyStatus: String {
        switch tiers.backend {
        case .memory: "serving from memory"
        case .redis: "serving from Redis"
        case .tiered: "serving from memory in front of Redis"
        }
    }

    /// Stops accepting, lets the calls in flight finish, closes the socket, then writes the last snapshot
    /// (when there is a state directory): frontd bypasses the cache while it is away.
    func drain(until deadline: ContinuousClock.Instant) async {
        watcher.withLock { $0?.cancel() }
        await server.drain(timeout: deadline - ContinuousClock.now)
        close(server.listenFD)
        await snapshots?.finish()
        tiers.shared?.client.close()
    }
}
