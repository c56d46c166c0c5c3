import Foundation
import Glibc
import IPC
import Metrics
import Redis
import Services
import Testing
import TestKit

/// cached with a real redis-server (Debian's), started by each test: two cached processes sharing it, its
/// data as Redis holds it, and Redis going away and coming back. Serialized: they start processes and
/// depend on timing, and the machine has two cores.
@Suite("Cache: the shared Redis tier, against a real redis-server", .serialized)
struct SharedTierTests {
    private static let timeout = Duration.seconds(10)

    /// One cached process on its own runtime directory.
    final class Cached {
        let runtime: TemporaryDirectory
        let process: ProcessRun
        let client: CacheClient
        let stats: StatsClient

        init(backend: String, redis: RedisServer, extra: [String: String] = [:]) throws {
            runtime = try TemporaryDirectory()
            process = try ProcessRun(product: "cached", environment: [
                "INFER_RUNTIME_DIR": runtime.path, "CACHE_BACKEND": backend, "REDIS_URL": redis.tcpURL,
                "CACHE_REDIS_PREFIX": "test:", "CACHE_SEMANTIC_REFRESH_MS": "0", "LOG_LEVEL": "debug",
            ].merging(extra) { $1 })
            let path = runtime.file("cached.sock")
            client = CacheClient(path: path)
            stats = StatsClient(path: path, protocolName: ServiceName.cached)
        }

        /// One series' value now.
        func metric(_ name: String, _ labels: [MetricLabel] = []) async throws -> Double? {
            let families = try await stats.snapshot(timeout: SharedTierTests.timeout)
            return families.first { $0.name == name }?.samples.first { $0.labels == labels }?.value
        }

        /// SIGTERM, and its stderr.
        func stop() -> String {
            client.client.close()
            stats.client.close()
            _ = process.child.signal(SIGTERM)
            let (status, stderr) = process.finish()
            #expect(status == .exited(0), "\(stderr.suffix(2000))")
            return stderr
        }
    }

    private static func vector(_ axis: Int) -> [Float] {
        (0..<384).map { $0 == axis ? 1 : 0 }
    }

    @Test("two tiered cached share one Redis: entries, semantic entries, claims and clears made on one are seen on the other")
    func twoInstancesShare() async throws {
        let redis = try RedisServer.start()
        defer { redis.stop() }
        let a = try Cached(backend: "tiered", redis: redis)
        let b = try Cached(backend: "tiered", redis: redis)

        try await a.client.put(.init(key: "k", model: "m", value: Array("from a".utf8)), timeout: Self.timeout)
        let first = try await b.client.get("k", timeout: Self.timeout)
        #expect(first.value == Array("from a".utf8))
        // The second lookup on b comes from its memory, filled by the first.
        #expect(try await b.client.get("k", timeout: Self.timeout).value == Array("from a".utf8))
        #expect(try await b.metric("infer_cached_tier_hits_total", [MetricLabel("tier", "redis")]) == 1)
        #expect(try await b.metric("infer_cached_tier_hits_total", [MetricLabel("tier", "memory")]) == 1)

        // A semantic entry stored through a is found by meaning on b.
        try await a.client.put(
            .init(key: "q", model: "m", value: Array("semantic from a".utf8), semantic: .init(group: "g", vector: Self.vector(1))),
            timeout: Self.timeout)
        let semantic = try await b.client.semanticGet(.init(key: .init(group: "g", vector: Self.vector(1)), threshold: 0.99), timeout: Self.timeout)
        #expect(semantic.value == Array("semantic from a".utf8))
        #expect(semantic.similarity > 0.99)

        // One fill cluster-wide: a's claim holds b off until a stores the key.
        #expect(try await a.client.claim("fill", leaseMs: 10_000, timeout: Self.timeout).granted)
        let held = try await b.client.claim("fill", leaseMs: 10_000, timeout: Self.timeout)
        #expect(!held.granted)
        #expect(held.heldForMs > 9_000 && held.heldForMs <= 10_000)
        try await a.client.put(.init(key: "fill", model: "m", value: [1]), timeout: Self.timeout)
        #expect(try await b.client.claim("fill", leaseMs: 10_000, timeout: Self.timeout).granted)

        // A clear on a empties Redis and, within a watch tick, b's memory too.
        #expect(try await a.client.clear(model: "m", timeout: Self.timeout) == 3)
        let cleared = try await eventually(within: .seconds(6)) { try await b.client.get("k", timeout: Self.timeout).value == nil }
        #expect(cleared, "b still answers an entry cleared on a")
        _ = a.stop()
        let stderr = b.stop()
        #expect(stderr.contains("a clear on another host"))
    }

    @Test("with CACHE_BACKEND=redis the data is in Redis: binary values, the TTL kept by Redis, keys under the prefix, a model index")
    func dataInRedis() async throws {
        let redis = try RedisServer.start()
        defer { redis.stop() }
        let cached = try Cached(backend: "redis", redis: redis)
        let binary = (0..<256).map { UInt8($0) } + [0, 13, 10, 0]
        try await cached.client.put(.init(key: "bin", model: "m", value: binary, ttlSeconds: 120), timeout: Self.timeout)
        try await cached.client.put(.init(key: "other", model: "n", value: [1]), timeout: Self.timeout)
        let reply = try await cached.client.get("bin", timeout: Self.timeout)
        #expect(reply.value == binary)
        #expect(try await cached.metric("infer_cached_tier_hits_total", [MetricLabel("tier", "redis")]) == 1)
        // Nothing in memory with redis: Redis is the store.
        #expect(try await cached.client.stats(timeout: Self.timeout).entries == 0)

        let raw = try RedisClient(configuration: RedisConfiguration(url: redis.tcpURL))
        defer { raw.close() }
        guard case .expiresIn(let ttl) = try await raw.pttl("test:{bin}") else {
            Issue.record("the entry has no TTL in Redis")
            return
        }
        #expect(ttl > 110_000 && ttl <= 120_000)
        let keys = try await raw.send("KEYS", "*").array?.compactMap(\.string).sorted() ?? []
        #expect(keys.allSatisfy { $0.hasPrefix("test:") }, "\(keys)")
        #expect(keys.contains("test:model:m") && keys.contains("test:models"))
        #expect(try await raw.send("ZRANGE", "test:model:m", 0, -1).array?.compactMap(\.string) == ["bin"])

        // Clear(model) removes that model's entries only, in Redis.
        #expect(try await cached.client.clear(model: "m", timeout: Self.timeout) == 1)
        #expect(try await raw.get("test:{bin}") == nil)
        #expect(try await cached.client.get("other", timeout: Self.timeout).value == [1])
        #expect(try await cached.client.clear(model: nil, timeout: Self.timeout) == 1)
        #expect(try await raw.send("EXISTS", "test:{other}").integer == 0)
        _ = cached.stop()
    }

    @Test("Redis stopped: cached serves from memory, counted and logged; Redis back: shared again")
    func redisDownAndBack() async throws {
        let redis = try RedisServer.start()
        defer { redis.stop() }
        let a = try Cached(backend: "tiered", redis: redis)
        let b = try Cached(backend: "tiered", redis: redis)
        try await a.client.put(.init(key: "before", model: "m", value: [1]), timeout: Self.timeout)
        #expect(try await b.client.get("before", timeout: Self.timeout).value == [1])

        redis.kill()
        // a still answers what it holds, and stores and answers new entries, from memory.
        #expect(try await a.client.get("before", timeout: Self.timeout).value == [1])
        try await a.client.put(.init(key: "during", model: "m", value: [2]), timeout: Self.timeout)
        #expect(try await a.client.get("during", timeout: Self.timeout).value == [2])
        #expect(try await a.client.claim("during-claim", leaseMs: 5_000, timeout: Self.timeout).granted)
        #expect(try await a.client.claim("during-claim", leaseMs: 5_000, timeout: Self.timeout).granted == false)
        // ... but b never saw "during".
        #expect(try await b.client.get("during", timeout: Self.timeout).value == nil)
        let errors = try await a.metric("infer_cached_redis_errors_total", [MetricLabel("operation", "put")]) ?? 0
        #expect(errors >= 1)
        #expect(try await a.metric("infer_cached_redis_up") == 0)

        try redis.start()
        // Once the client has reconnected, a store on one is seen on the other again.
        var attempt = 0
        let shared = try await eventually(within: .seconds(10)) {
            attempt += 1
            try await a.client.put(.init(key: "after\(attempt)", model: "m", value: [3]), timeout: Self.timeout)
            return try await b.client.get("after\(attempt)", timeout: Self.timeout).value == [3]
        }
        #expect(shared, "the instances did not share entries again after Redis came back")
        #expect(try await a.metric("infer_cached_redis_up") == 1)
        let stderr = a.stop()
        _ = b.stop()
        #expect(stderr.contains("Redis unreachable: serving from memory only"))
        #expect(stderr.contains("Redis reachable again"))
    }
}

extension SharedTierTests {
    @Test("with CACHE_BACKEND=redis, what a host kept in memory while Redis was down goes when another host clears")
    func clearReachesStandInMemory() async throws {
        let redis = try RedisServer.start()
        defer { redis.stop() }
        let a = try Cached(backend: "redis", redis: redis)
        let b = try Cached(backend: "redis", redis: redis)
        redis.kill()
        try await b.client.put(.init(key: "k", model: "m", value: [1]), timeout: Self.timeout)
        #expect(try await b.client.get("k", timeout: Self.timeout).value == [1], "the stand-in memory answers")
        try redis.start()
        // Wait until both see Redis again (and b's watch has read the clears counter once).
        let up = try await eventually(within: .seconds(10)) {
            let aUp = try await a.metric("infer_cached_redis_up") == 1
            return try await b.metric("infer_cached_redis_up") == 1 && aUp
        }
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(up)
        #expect(try await b.client.get("k", timeout: Self.timeout).value == [1], "Redis misses it, memory still has it")
        _ = try await a.client.clear(model: nil, timeout: Self.timeout)
        let gone = try await eventually(within: .seconds(5)) { try await b.client.get("k", timeout: Self.timeout).value == nil }
        #expect(gone, "a clear on another host left b's stand-in entry")
        _ = a.stop()
        _ = b.stop()
    }
}
