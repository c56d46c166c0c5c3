// cached: the response cache. frontd looks each request up before queueing it (by key, or by meaning in a
// semantic group) and stores the answer after; entries go by LRU, TTL and a byte bound, survive restarts
// through a snapshot in the state directory, and may be shared by every host through Redis.
// See docs/cached.md.
import DaemonRuntime
import IPC
import Redis
import Settings

Daemon.run(name: "cached", settings: CacheSettings.table, sockets: [.unix("cached")]) { context in
    let settings = context.settings
    let backend = settings[CacheSettings.backend]
    var redis: RedisTier?
    if backend.usesRedis {
        guard let url = settings[CacheSettings.redisURL] else {
            throw ConfigError("CACHE_BACKEND=\(backend.rawValue) needs REDIS_URL", variable: "REDIS_URL")
        }
        var configuration = RedisConfiguration(url: url)
        configuration.commandTimeout = settings[CacheSettings.redisTimeout]
        configuration.clientName = "infer-cached"
        redis = RedisTier(client: try RedisClient(configuration: configuration), prefix: settings[CacheSettings.redisPrefix])
    }
    let cache = ResponseCache(
        maxEntries: settings[CacheSettings.maxEntries], maxBytes: settings[CacheSettings.maxBytes],
        defaultTTL: settings[CacheSettings.defaultTTL], maxIndexed: settings[CacheSettings.maxIndexed])
    let snapshot = (settings[CacheSettings.stateDirectory] ?? settings[CacheSettings.systemdStateDirectory]).map {
        SnapshotPlan(
            directory: $0, interval: settings[CacheSettings.snapshotInterval],
            maxSize: SnapshotPlan.maxSize(
                maxEntries: settings[CacheSettings.maxEntries], maxBytes: settings[CacheSettings.maxBytes],
                maxIndexed: settings[CacheSettings.maxIndexed]))
    }
    if snapshot == nil {
        context.logger.info("no state directory (CACHE_STATE_DIR, STATE_DIRECTORY): the cache starts empty after a restart")
    }
    let service = CacheService(
        listenFD: try context.listener("cached").fileDescriptor, cache: cache, backend: backend, redis: redis,
        groupRefresh: settings[CacheSettings.groupRefresh], logger: context.logger, snapshot: snapshot)
    try service.start()
    return service
}
