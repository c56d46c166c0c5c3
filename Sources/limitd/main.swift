// limitd: rate limits, concurrency, token limits and budgets per client key (and per key and model).
// frontd reserves what each request may use (GCRA over sliding windows, a slot, a worst-case cost) and
// settles what it used; the state is journaled so restarts forget nothing, or kept in Redis so every
// host shares it. See docs/limitd.md.
import DaemonRuntime
import IPC
import Redis
import Settings

Daemon.run(name: "limitd", settings: LimitSettings.table, sockets: [.unix("limitd")]) { context in
    let settings = context.settings
    let defaults = LimitDefaults(
        requestsPerMinute: settings[LimitSettings.requestsPerMinute], window: settings[LimitSettings.window],
        requestsPerHour: settings[LimitSettings.requestsPerHour], tokensPerMinute: settings[LimitSettings.tokensPerMinute],
        maxParallel: settings[LimitSettings.maxParallel])
    var redis: RedisClient?
    if settings[LimitSettings.backend] == .redis {
        guard let url = settings[LimitSettings.redisURL] else {
            throw ConfigError("LIMITS_BACKEND=redis needs REDIS_URL", variable: "REDIS_URL")
        }
        var configuration = RedisConfiguration(url: url)
        configuration.commandTimeout = settings[LimitSettings.redisTimeout]
        configuration.clientName = "infer-limitd"
        redis = try RedisClient(configuration: configuration)
    }
    let directory = RuntimeSettings.stateDirectory(settings) + "/limits"
    let journal = try StateJournal(directory: directory, deferFlush: IPCLoopTurn.deferFlush,
                                    answerAfterSync: IPCLoopTurn.onLoop)
    let (seconds, attoseconds) = settings[LimitSettings.snapshotInterval].components
    let limiter = RateLimiter(defaults: defaults, maxKeys: settings[LimitSettings.maxKeys], journal: journal,
                              snapshotInterval: seconds * 1_000_000_000 + attoseconds / 1_000_000_000, now: WallClock.nanoseconds())
    let report = try limiter.load()
    context.logger.info("state read back", [
        "directory": .string(directory), "records": LogValue(report.records), "journals": LogValue(report.journals),
        "dropped_bytes": LogValue(report.droppedBytes), "reservations": LogValue(limiter.heldReservations),
    ])
    let shared = try redis.map { client in
        let (host, policy, logger) = (try HostIdentity.read(directory: directory), settings[LimitSettings.redisFailure], context.logger)
        logger.info("limits are decided in Redis", ["redis": .string(client.configuration.url.description), "failure_policy": .string(policy.rawValue)])
        return { (metrics: LimitMetrics) -> any LimitBackend in
            SharedLimitBackend(store: RedisLimitStore(client: client, defaults: defaults), local: limiter, policy: policy, host: host,
                               metrics: metrics, logger: logger)
        }
    }
    let service = LimitService(listenFD: try context.listener("limitd").fileDescriptor, limiter: limiter, backend: shared, logger: context.logger)
    try service.start()
    return service
}
