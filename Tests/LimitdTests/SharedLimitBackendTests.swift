import DaemonRuntime
import Metrics
import Redis
import Services
import Testing
import TestKit

@testable import limitd

/// `LIMITS_BACKEND=redis` while Redis goes away and comes back, on a real redis-server: each
/// `LIMITS_REDIS_FAILURE` policy, the settlements held meanwhile, the replay of local spend (once), and
/// a log line per change.
@Suite("Limit: the Redis backend's failure policies", .serialized)
struct SharedLimitBackendTests {
    static let second: Int64 = 1_000_000_000
    static let budget = LimitProtocol.Budget(maxNanoUSD: 1_000_000_000)

    struct Setup {
        let server: RedisServer
        let client: RedisClient
        let backend: SharedLimitBackend
        let registry: MetricsRegistry
        let log: LogCapture

        init(_ policy: RedisFailurePolicy) throws {
            server = try RedisServer.start()
            var configuration = try RedisConfiguration(url: server.tcpURL)
            configuration.commandTimeout = .milliseconds(100)
            client = try RedisClient(configuration: configuration)
            let defaults = LimitDefaults(requestsPerMinute: 1000, window: .seconds(60))
            registry = MetricsRegistry()
            log = LogCapture()
            backend = SharedLimitBackend(
                store: RedisLimitStore(client: client, defaults: defaults), local: RateLimiter(defaults: defaults, maxKeys: 100),
                policy: policy, host: "test-host", metrics: LimitMetrics(registry: registry),
                logger: Logger(daemon: "limitd", level: .info, output: log.output))
        }

        func stop() {
            client.close()
            server.stop()
        }

        func reserve(_ id: UInt64, cost: UInt64) async -> LimitProtocol.ReserveReply {
            await backend.reserve(LimitProtocol.Reserve(reservation: id, key: "key:a", model: "m", route: "/v1/chat/completions",
                                                        tokens: 100, costNanoUSD: cost, budget: SharedLimitBackendTests.budget, leaseMs: 60_000),
                                  now: WallClock.nanoseconds())
        }

        /// What Redis holds for the key.
        func spend() async throws -> (spent: UInt64, held: UInt64, inFlight: UInt32) {
            let usage = try await backend.store.usage(LimitProtocol.Usage(key: "key:a", budget: SharedLimitBackendTests.budget), now: WallClock.nanoseconds())
            return (usage.budget.spentNanoUSD, usage.budget.reservedNanoUSD, usage.inFlight)
        }

        func messages() -> [String] { log.objects.compactMap { $0?["msg"] as? String } }

        func metricsText() -> String { PrometheusText.render(registry.snapshot()) }
    }

    @Test("open: Redis hung, admissions are decided here; when it answers, the held settlement is sent, the local spend replayed once, the reservation a timed-out script made ended")
    func open() async throws {
        let setup = try Setup(.open)
        defer { setup.stop() }
        let now = WallClock.nanoseconds()
        #expect(await setup.reserve(1, cost: 700).outcome == .allowed)
        setup.server.suspend()
        // Hung: the Reserve times out (its script runs when Redis wakes up) and is decided locally.
        #expect(await setup.reserve(2, cost: 500).outcome == .allowed)
        #expect(await setup.backend.commit(LimitProtocol.Commit(reservation: 1, costNanoUSD: 300), now: now) == .settled)
        #expect(await setup.backend.commit(LimitProtocol.Commit(reservation: 2, costNanoUSD: 200), now: now) == .settled)
        _ = await setup.backend.maintain(now: now)
        #expect(setup.messages().filter { $0.hasPrefix("Redis does not answer") }.count == 1, "\(setup.messages())")
        #expect(setup.metricsText().contains("infer_limitd_redis_up 0"))

        setup.server.resume()
        let replayed = try await eventually(within: .seconds(10)) {
            _ = await setup.backend.maintain(now: WallClock.nanoseconds())
            return try await setup.spend().spent == 500
        }
        // Settled A (300) and replayed B's local charge (200); nothing held, nothing in flight: the
        // reservation B's late script made in Redis was ended, taking nothing.
        let after = try await setup.spend()
        #expect(replayed, "\(after)")
        #expect(after.held == 0 && after.inFlight == 0, "\(after)")
        #expect(setup.messages().contains { $0.hasPrefix("Redis answers again") })
        _ = await setup.backend.maintain(now: WallClock.nanoseconds())
        #expect(try await setup.spend().spent == 500, "a replay is counted once")
        #expect(setup.metricsText().contains("infer_limitd_redis_unavailable_total 1"))
    }

    @Test("a cache hit's admission in Redis: admitted, counted, and nothing left held or in flight")
    func admitCached() async throws {
        let setup = try Setup(.open)
        defer { setup.stop() }
        let hit = LimitProtocol.Reserve(reservation: 5, key: "key:a", model: "m", route: "/v1/chat/completions",
                                        tokens: 100, costNanoUSD: 400, budget: Self.budget, leaseMs: 60_000)
        let (reply, durable) = await setup.backend.admitCached(hit, now: WallClock.nanoseconds())
        #expect(reply.outcome == .allowed && reply.reservation == 0 && durable)
        #expect(reply.requests.limit == 1000 && reply.requests.remaining == 999)
        let after = try await setup.spend()
        #expect(after.spent == 0 && after.held == 0 && after.inFlight == 0, "\(after)")
    }

    @Test("closed: Redis gone, admissions are refused as unavailable; when it is back, decided in Redis again")
    func closed() async throws {
        let setup = try Setup(.closed)
        defer { setup.stop() }
        #expect(await setup.reserve(1, cost: 10).outcome == .allowed)
        setup.server.kill()
        let refused = await setup.reserve(2, cost: 10)
        #expect(refused.outcome == .unavailable && refused.retryAfterMs == 1000)
        #expect(await setup.reserve(3, cost: 10).outcome == .unavailable)
        #expect(setup.messages().filter { $0.hasPrefix("Redis does not answer") }.count == 1, "\(setup.messages())")
        #expect(setup.metricsText().contains("infer_limitd_redis_unavailable_total 2"), "\(setup.metricsText())")
        try setup.server.start()
        #expect(try await eventually(within: .seconds(10)) { await setup.reserve(UInt64.random(in: 10...UInt64.max), cost: 10).outcome == .allowed })
        #expect(setup.metricsText().contains("infer_limitd_redis_up 1"))
    }
}
