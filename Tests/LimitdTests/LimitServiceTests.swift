import Glibc
import IPC
import Testing
import TestKit

@testable import limitd
import Services
import Wire
import Metrics

@Suite("Limit: limitd over a real Unix socket")
struct LimitServiceTests {
    /// A limitd service on a socket in a fresh directory, with a clock the test moves.
    final class Running {
        let directory: TemporaryDirectory
        let clock = ManualClock()
        let service: LimitService
        let path: String

        init(requestsPerMinute: Int = 3, window: Duration = .seconds(60), maxKeys: Int = 100) throws {
            directory = try TemporaryDirectory()
            path = directory.file("limitd.sock")
            let descriptor = try UnixSocket.listen(path: path)
            let clock = clock
            service = LimitService(
                listenFD: descriptor,
                limiter: RateLimiter(requestsPerMinute: requestsPerMinute, window: window, maxKeys: maxKeys),
                logger: quietLogger, now: { clock.now })
            try service.start()
        }

        func drain() async {
            await service.drain(until: .now + .seconds(2))
        }
    }

    private static let timeout = Duration.seconds(5)

    @Test("Admit answers allowed, limit, remaining, and a retry-after once refused")
    func admitOverSocket() async throws {
        let running = try Running(requestsPerMinute: 3)
        let client = LimitClient(path: running.path)
        defer { client.client.close() }

        for remaining in [UInt32(2), 1, 0] {
            let reply = try await client.admit(.init(key: "alice", route: "/v1/infer"), timeout: Self.timeout)
            #expect(reply == .init(allowed: true, limit: 3, remaining: remaining, retryAfterMs: 0))
        }
        running.clock.advance(by: 4 * second + 250 * millisecond)
        let refused = try await client.admit(.init(key: "alice", route: "/v1/infer"), timeout: Self.timeout)
        // One request every 20 s: 15.75 s to go.
        #expect(refused == .init(allowed: false, limit: 3, remaining: 0, retryAfterMs: 15_750))

        // Another key, and an override, are their own.
        let bob = try await client.admit(.init(key: "bob", route: "/v1/infer", requestsPerMinute: 10), timeout: Self.timeout)
        #expect(bob == .init(allowed: true, limit: 10, remaining: 9, retryAfterMs: 0))

        running.clock.advance(by: 15_750 * millisecond)
        #expect(try await client.admit(.init(key: "alice", route: "/v1/infer"), timeout: Self.timeout).allowed)
        await running.drain()
    }

    @Test("An API key's own rate below the default refuses that key early while other keys keep the default")
    func lowerPerKeyRate() async throws {
        let running = try Running(requestsPerMinute: 60)
        let client = LimitClient(path: running.path)
        defer { client.client.close() }
        // frontd sends a key's requests_per_minute from the keys file with every Admit of that key.
        let slow = LimitProtocol.Admit(key: "key:key_slow", route: "/v1/chat/completions", requestsPerMinute: 2)
        let first = try await client.admit(slow, timeout: Self.timeout)
        #expect(first == .init(allowed: true, limit: 2, remaining: 1, retryAfterMs: 0))
        #expect(try await client.admit(slow, timeout: Self.timeout).allowed)
        let refused = try await client.admit(slow, timeout: Self.timeout)
        // Two a minute: one every 30 s.
        #expect(refused == .init(allowed: false, limit: 2, remaining: 0, retryAfterMs: 30_000))
        for _ in 0..<10 {
            let other = try await client.admit(.init(key: "key:key_other", route: "/v1/chat/completions"), timeout: Self.timeout)
            #expect(other.allowed && other.limit == 60)
        }
        running.clock.advance(by: 30 * second)
        #expect(try await client.admit(slow, timeout: Self.timeout).allowed)
        await running.drain()
    }

    @Test("Settle is answered and counted; stats carry decisions, tokens and tracked keys")
    func settleAndStats() async throws {
        let running = try Running(requestsPerMinute: 1)
        let client = LimitClient(path: running.path)
        let stats = StatsClient(path: running.path, protocolName: ServiceName.limitd)
        defer {
            client.client.close()
            stats.client.close()
        }
        _ = try await client.admit(.init(key: "a", route: "/"), timeout: Self.timeout)
        _ = try await client.admit(.init(key: "a", route: "/"), timeout: Self.timeout)
        _ = try await client.admit(.init(key: "b", route: "/"), timeout: Self.timeout)
        try await client.settle(.init(key: "a", promptTokens: 12, completionTokens: 30), timeout: Self.timeout)
        try await client.settle(.init(key: "c", promptTokens: 1, completionTokens: 2), timeout: Self.timeout)
        #expect(running.service.limiter.record(for: "a")?.completionTokens == 30)

        let families = try await stats.snapshot(timeout: Self.timeout)
        func value(_ name: String, _ labels: [MetricLabel] = []) -> Double? {
            families.first { $0.name == name }?.samples.first { $0.labels == labels }?.value
        }
        #expect(value("infer_limitd_decisions_total", [MetricLabel("result", "allowed")]) == 2)
        #expect(value("infer_limitd_decisions_total", [MetricLabel("result", "refused")]) == 1)
        #expect(value("infer_limitd_tokens_total", [MetricLabel("kind", "prompt")]) == 13)
        #expect(value("infer_limitd_tokens_total", [MetricLabel("kind", "completion")]) == 32)
        #expect(value("infer_limitd_tracked_keys") == 3)
        #expect(families.first { $0.name == "infer_limitd_tracked_keys" }?.kind == .gauge)
        #expect(families.first { $0.name == "infer_limitd_decisions_total" }?.kind == .counter)
        await running.drain()
    }

    @Test("an unknown message type and an undecodable payload get error replies, not a dropped connection")
    func errors() async throws {
        let running = try Running()
        let client = IPCClient(path: running.path, protocolName: ServiceName.limitd, version: ServiceName.version)
        defer { client.close() }
        await #expect(throws: IPCError.remote(code: IPCErrorCode.unknownType, message: "limitd does not know message type 77")) {
            _ = try await client.call(type: 77, payload: [], timeout: Self.timeout)
        }
        do {
            _ = try await client.call(type: LimitProtocol.Admit.type, payload: [1, 2, 3], timeout: Self.timeout)
            Issue.record("a truncated Admit was answered")
        } catch IPCError.remote(let code, let message) {
            #expect(code == IPCErrorCode.badRequest)
            #expect(message.contains("Admit"))
        }
        // The same connection still serves.
        let reply = try await client.call(LimitProtocol.Admit(key: "k", route: "/"), returning: LimitProtocol.AdmitReply.self, timeout: Self.timeout)
        #expect(reply.allowed)
        await running.drain()
    }

    @Test("many concurrent admissions for one key allow exactly the limit")
    func concurrentAdmissions() async throws {
        let running = try Running(requestsPerMinute: 50)
        let client = LimitClient(path: running.path)
        defer { client.client.close() }
        let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 {
                group.addTask { try await client.admit(.init(key: "shared", route: "/"), timeout: Self.timeout).allowed }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(allowed == 50)
        await running.drain()
    }

    @Test("after draining, the socket takes no new calls")
    func drainStopsAccepting() async throws {
        let running = try Running()
        let client = LimitClient(path: running.path)
        _ = try await client.admit(.init(key: "k", route: "/"), timeout: Self.timeout)
        client.client.close()
        await running.drain()
        let late = LimitClient(path: running.path)
        defer { late.client.close() }
        await #expect(throws: IPCError.self) {
            _ = try await late.admit(.init(key: "k", route: "/"), timeout: .milliseconds(300))
        }
    }

    @Test("a limitd older than reservations answers Reserve with ERROR 7, the error frontd falls back to Admit on")
    func olderLimitdRefusesReserve() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("limitd.sock")
        let limiter = RateLimiter(requestsPerMinute: 60, window: .seconds(60), maxKeys: 10)
        // Version 1's shell: Admit and Settle only.
        let handlers = LimitHandlers(backend: limiter, metrics: LimitMetrics(registry: MetricsRegistry()), now: { 0 })
        var shell = ServiceShell(name: "limitd", metrics: MetricsRegistry())
        shell.register(LimitProtocol.Admit.self, handlers.admit)
        shell.register(LimitProtocol.Settle.self, handlers.settle)
        let server = shell.server(listenFD: try UnixSocket.listen(path: path), protocolName: ServiceName.limitd)
        try server.start()
        let client = LimitClient(path: path)
        defer { client.client.close() }
        await #expect(throws: IPCError.remote(code: IPCErrorCode.unknownType, message: "limitd does not know message type 3")) {
            _ = try await client.reserve(LimitProtocol.Reserve(reservation: 1, key: "k", model: "m", route: "/", leaseMs: 1000), timeout: Self.timeout)
        }
        #expect(try await client.admit(.init(key: "k", route: "/"), timeout: Self.timeout).allowed)
        await server.drain(timeout: .seconds(2))
        close(server.listenFD)
    }

    @Test("AdmitCached over the socket: counted in the requests limit and the decisions, nothing held, refused like a Reserve")
    func admitCachedOverSocket() async throws {
        let running = try Running(requestsPerMinute: 3)
        let client = LimitClient(path: running.path)
        defer { client.client.close() }
        let hit = LimitProtocol.AdmitCached(LimitProtocol.Reserve(reservation: 9, key: "key:a", model: "m", route: "/", tokens: 100, leaseMs: 60_000))
        for remaining in [UInt32(2), 1, 0] {
            let reply = try await client.admitCached(hit, timeout: Self.timeout)
            #expect(reply.outcome == .allowed && reply.reservation == 0 && reply.requests.remaining == remaining)
            #expect(running.service.backend.heldReservations == 0)
        }
        // The same allowance as a Reserve's: the fourth request of either kind is refused.
        let refused = try await client.admitCached(hit, timeout: Self.timeout)
        #expect(refused.outcome == .rateLimited && refused.refusedBy == "rpm" && refused.retryAfterMs == 20_000)
        #expect(try await client.reserve(hit.reserve, timeout: Self.timeout).outcome == .rateLimited)
        let allowed = running.service.metrics.registry.snapshot().first { $0.name == "infer_limitd_decisions_total" }?.samples.first { $0.labels == [MetricLabel("result", "allowed")] }
        #expect(allowed?.value == 3)
        await running.drain()
    }
}
