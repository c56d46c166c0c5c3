import Glibc
import IPC
import Testing
import TestKit

@testable import cached
import Services
import Metrics
import Wire

@Suite("Cache: cached over a real Unix socket")
struct CacheServiceTests {
    /// A cached service on a socket in a fresh directory, with a clock the test moves.
    final class Running {
        let directory: TemporaryDirectory
        let clock = ManualClock()
        let service: CacheService
        let path: String

        init(maxEntries: Int = 100, maxBytes: Int = 1 << 20, defaultTTL: Duration = .seconds(60)) throws {
            directory = try TemporaryDirectory()
            path = directory.file("cached.sock")
            let descriptor = try UnixSocket.listen(path: path)
            let clock = clock
            service = CacheService(
                listenFD: descriptor,
                cache: ResponseCache(maxEntries: maxEntries, maxBytes: maxBytes, defaultTTL: defaultTTL),
                logger: quietLogger, now: { clock.now })
            try service.start()
        }

        func drain() async {
            await service.drain(until: .now + .seconds(2))
        }
    }

    private static let timeout = Duration.seconds(5)

    /// One series' value in a stats snapshot.
    static func value(of name: String, _ labels: [MetricLabel] = [], in families: [MetricFamily]) -> Double? {
        families.first { $0.name == name }?.samples.first { $0.labels == labels }?.value
    }

    @Test("Put then Get hits with the value and its age; the default TTL and a per-entry TTL expire it")
    func putGetExpire() async throws {
        let running = try Running(defaultTTL: .seconds(60))
        let client = CacheClient(path: running.path)
        defer { client.client.close() }

        #expect(try await client.get("k", timeout: Self.timeout) == .init(value: nil, ageMs: 0, claimsSpanHosts: false))
        try await client.put(.init(key: "k", model: "smollm2", value: Array("hello".utf8)), timeout: Self.timeout)
        try await client.put(.init(key: "short", model: "smollm2", value: [1], ttlSeconds: 5), timeout: Self.timeout)
        running.clock.advance(by: 1_500 * millisecond)
        #expect(try await client.get("k", timeout: Self.timeout) == .init(value: Array("hello".utf8), ageMs: 1_500))

        running.clock.advance(by: 3_500 * millisecond)
        #expect(try await client.get("short", timeout: Self.timeout).value == nil)
        #expect(try await client.get("k", timeout: Self.timeout).value != nil)
        running.clock.advance(by: 55 * second)
        #expect(try await client.get("k", timeout: Self.timeout).value == nil)
        await running.drain()
    }

    @Test("Clear drops one model's entries or all, and says how many")
    func clear() async throws {
        let running = try Running()
        let client = CacheClient(path: running.path)
        defer { client.client.close() }
        for index in 0..<6 {
            try await client.put(.init(key: "k\(index)", model: index < 4 ? "a" : "b", value: [UInt8(index)]), timeout: Self.timeout)
        }
        #expect(try await client.clear(model: "a", timeout: Self.timeout) == 4)
        #expect(try await client.get("k0", timeout: Self.timeout).value == nil)
        #expect(try await client.get("k5", timeout: Self.timeout).value == [5])
        #expect(try await client.clear(model: nil, timeout: Self.timeout) == 2)
        #expect(try await client.get("k5", timeout: Self.timeout).value == nil)
        await running.drain()
    }

    @Test("stats carry hits, misses, stores, evictions by reason, entries and bytes")
    func stats() async throws {
        let running = try Running(maxEntries: 2, maxBytes: 1 << 20)
        let client = CacheClient(path: running.path)
        let stats = StatsClient(path: running.path, protocolName: ServiceName.cached)
        defer {
            client.client.close()
            stats.client.close()
        }
        try await client.put(.init(key: "a", model: "m", value: [1, 2, 3]), timeout: Self.timeout)
        try await client.put(.init(key: "b", model: "m", value: [1], ttlSeconds: 1), timeout: Self.timeout)
        _ = try await client.get("a", timeout: Self.timeout)
        _ = try await client.get("nope", timeout: Self.timeout)
        try await client.put(.init(key: "c", model: "m", value: [1, 2]), timeout: Self.timeout)  // evicts b (live)
        try await client.put(.init(key: "d", model: "m", value: [1], ttlSeconds: 1), timeout: Self.timeout)  // evicts a
        running.clock.advance(by: 2 * second)
        _ = try await client.get("d", timeout: Self.timeout)  // expired

        let families = try await stats.snapshot(timeout: Self.timeout)
        let value = { (name: String, labels: [MetricLabel]) in Self.value(of: name, labels, in: families) }
        #expect(value("infer_cached_requests_total", [MetricLabel("result", "hit")]) == 1)
        #expect(value("infer_cached_requests_total", [MetricLabel("result", "miss")]) == 2)
        #expect(value("infer_cached_stores_total", []) == 4)
        #expect(value("infer_cached_evictions_total", [MetricLabel("reason", "capacity")]) == 2)
        #expect(value("infer_cached_evictions_total", [MetricLabel("reason", "expired")]) == 1)
        #expect(value("infer_cached_entries", []) == 1)
        #expect(value("infer_cached_bytes", []) == 3)
        #expect(families.first { $0.name == "infer_cached_bytes" }?.kind == .gauge)
        // The same figures, with the bounds, as frontd's /v1/cache/stats asks for them.
        let figures = try await client.stats(timeout: Self.timeout)
        #expect(figures == CacheProtocol.StatsReply(entries: 1, bytes: 3, maxEntries: 2, maxBytes: 1 << 20, hits: 1, misses: 2, evictions: 3))
        await running.drain()
    }

    @Test("a value over CACHE_MAX_BYTES is accepted but not stored")
    func tooLargeNotStored() async throws {
        let running = try Running(maxBytes: 1_000)
        let client = CacheClient(path: running.path)
        defer { client.client.close() }
        try await client.put(.init(key: "big", model: "m", value: [UInt8](repeating: 7, count: 2_000)), timeout: Self.timeout)
        #expect(try await client.get("big", timeout: Self.timeout).value == nil)
        await running.drain()
    }

    @Test("an unknown message type and an undecodable payload get error replies")
    func errors() async throws {
        let running = try Running()
        let client = IPCClient(path: running.path, protocolName: ServiceName.cached, version: ServiceName.version)
        defer { client.close() }
        await #expect(throws: IPCError.remote(code: IPCErrorCode.unknownType, message: "cached does not know message type 9")) {
            _ = try await client.call(type: 9, payload: [], timeout: Self.timeout)
        }
        do {
            _ = try await client.call(type: CacheProtocol.Put.type, payload: [0, 0, 0, 9, 65], timeout: Self.timeout)
            Issue.record("a truncated Put was answered")
        } catch IPCError.remote(let code, _) {
            #expect(code == IPCErrorCode.badRequest)
        }
        let reply = try await client.call(CacheProtocol.Get(key: "x"), returning: CacheProtocol.GetReply.self, timeout: Self.timeout)
        #expect(reply.value == nil)
        // Memory alone: claims are this host's, which the miss says (frontd then skips its Claim).
        #expect(reply.claimsSpanHosts == false)
        await running.drain()
    }
}

extension CacheServiceTests {
    private static func axis(_ axis: Int, tilt: Double = 0) -> [Float] {
        var components = [Float](repeating: 0, count: 384)
        components[axis] = Float(cos(tilt))
        components[axis + 1] = Float(sin(tilt))
        return components
    }

    @Test("SemanticGet answers the closest entry of the group above the threshold; hits, misses, near misses and similarity are counted")
    func semanticGet() async throws {
        let running = try Running()
        let client = CacheClient(path: running.path)
        let stats = StatsClient(path: running.path, protocolName: ServiceName.cached)
        defer {
            client.client.close()
            stats.client.close()
        }
        let stored = CacheProtocol.SemanticKey(group: "scope/model/params", vector: Self.axis(0, tilt: 0.1))
        try await client.put(.init(key: "q1", model: "m", value: Array("answer".utf8), semantic: stored), timeout: Self.timeout)
        running.clock.advance(by: 2_000 * millisecond)

        let query = CacheProtocol.SemanticKey(group: "scope/model/params", vector: Self.axis(0))
        let hit = try await client.semanticGet(.init(key: query, threshold: 0.99), timeout: Self.timeout)
        #expect(hit.value == Array("answer".utf8))
        #expect(hit.ageMs == 2_000)
        #expect(abs(hit.similarity - Float(cos(0.1))) < 1e-5)
        // The same entry, exactly, by key.
        #expect(try await client.get("q1", timeout: Self.timeout).value == Array("answer".utf8))
        // Too young a max-age, another group, a stricter threshold (a near miss), an unrelated question.
        #expect(try await client.semanticGet(.init(key: query, threshold: 0.99, maxAgeMs: 1_000), timeout: Self.timeout).value == nil)
        let otherGroup = CacheProtocol.SemanticKey(group: "another key/model/params", vector: Self.axis(0))
        #expect(try await client.semanticGet(.init(key: otherGroup, threshold: 0.5), timeout: Self.timeout)
            == .init(value: nil, ageMs: 0, similarity: -1))
        let near = try await client.semanticGet(.init(key: query, threshold: 0.998), timeout: Self.timeout)
        #expect(near.value == nil)
        #expect(abs(near.similarity - Float(cos(0.1))) < 1e-5)
        let unrelated = CacheProtocol.SemanticKey(group: "scope/model/params", vector: Self.axis(7))
        #expect(try await client.semanticGet(.init(key: unrelated, threshold: 0.9), timeout: Self.timeout).value == nil)
        // A zero vector is a bad request, not a crash.
        do {
            _ = try await client.semanticGet(
                .init(key: .init(group: "g", vector: [0, 0]), threshold: 0.9), timeout: Self.timeout)
            Issue.record("a zero vector was answered")
        } catch IPCError.remote(let code, _) {
            #expect(code == IPCErrorCode.badRequest)
        }

        let families = try await stats.snapshot(timeout: Self.timeout)
        let value = { (name: String, labels: [MetricLabel]) in Self.value(of: name, labels, in: families) }
        #expect(value("infer_cached_semantic_requests_total", [MetricLabel("result", "hit")]) == 1)
        #expect(value("infer_cached_semantic_requests_total", [MetricLabel("result", "miss")]) == 4)
        // Near: the stricter threshold (0.995 vs 0.998) and the max-age miss (-1 is far from any threshold).
        #expect(value("infer_cached_semantic_near_misses_total", []) == 1)
        #expect(value("infer_cached_semantic_entries", []) == 1)
        let histogram = families.first { $0.name == "infer_cached_semantic_hit_similarity" }?.samples.first
        #expect(histogram?.count == 1)
        #expect(abs((histogram?.value ?? 0) - cos(0.1)) < 1e-5)
        await running.drain()
    }

    @Test("Claim is granted to one caller until the key is stored or the lease ends")
    func claims() async throws {
        let running = try Running()
        let client = CacheClient(path: running.path)
        defer { client.client.close() }
        #expect(try await client.claim("k", leaseMs: 5_000, timeout: Self.timeout) == .init(granted: true, heldForMs: 0))
        running.clock.advance(by: 1_000 * millisecond)
        #expect(try await client.claim("k", leaseMs: 5_000, timeout: Self.timeout) == .init(granted: false, heldForMs: 4_000))
        try await client.put(.init(key: "k", model: "m", value: [1]), timeout: Self.timeout)
        #expect(try await client.claim("k", leaseMs: 5_000, timeout: Self.timeout).granted)
        running.clock.advance(by: 5_000 * millisecond)
        #expect(try await client.claim("k", leaseMs: 5_000, timeout: Self.timeout).granted)
        await running.drain()
    }
}
