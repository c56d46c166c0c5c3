import Redis
import Services
import Testing
import TestKit

@testable import limitd

/// The Redis store's scripts against ``LimitLedger``, the in-memory truth: the same operations at the
/// same instants, on a real redis-server, must give the same replies (and the same standing after each
/// step), at every limit's edges. Times are real ones (about 2^60 ns since 1970), which Lua's doubles
/// cannot hold whole: the scripts' split times must still be exact to the nanosecond.
@Suite("Limit: the Redis store's scripts do what the ledger does", .serialized)
struct RedisStoreTests {
    /// 2026-12-07 plus an odd fraction of a second.
    static let start: Int64 = 1_796_601_600 * 1_000_000_000 + 123_456_789
    static let second: Int64 = 1_000_000_000

    /// A ledger and a store with the same defaults, stepped together.
    final class Pair {
        var ledger: LimitLedger
        let store: RedisLimitStore
        let server: RedisServer
        let client: RedisClient
        var nextID: UInt64 = 1

        init(_ defaults: LimitDefaults) throws {
            server = try RedisServer.start()
            client = try RedisClient(configuration: RedisConfiguration(url: server.tcpURL))
            ledger = LimitLedger(defaults: defaults, maxKeys: 1000)
            store = RedisLimitStore(client: client, defaults: defaults, redisClock: false)
        }

        deinit {
            client.close()
            server.stop()
        }

        /// Reserves on both with one id; the replies must agree.
        @discardableResult
        func reserve(_ request: LimitProtocol.Reserve, at now: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws
            -> LimitProtocol.ReserveReply
        {
            var request = request
            if request.reservation == 0 {
                request.reservation = nextID
                nextID += 1
            }
            let expected = ledger.reserve(request, id: request.reservation, now: now).0
            let got = try await store.reserve(request, now: now)
            #expect(got == expected, sourceLocation: sourceLocation)
            try await compareUsage(request.key, limits: request.limits, budget: request.budget, at: now, sourceLocation: sourceLocation)
            return expected
        }

        func commit(_ commit: LimitProtocol.Commit, key: String, at now: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let expected = ledger.commit(commit, now: now).0
            #expect(try await store.commit(commit, now: now) == expected, sourceLocation: sourceLocation)
            try await compareUsage(key, at: now, sourceLocation: sourceLocation)
        }

        func expire(at now: Int64, key: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            // The lease index is noted just after each admission, without the admission waiting for it.
            let noted = try await eventually(within: .seconds(5)) {
                try await self.client.send("ZSCORE", RedisLimitKeys.leaseIndex, key).isNull == false
            }
            #expect(noted, "the key's leases never reached the index", sourceLocation: sourceLocation)
            let expected = ledger.expire(now: now).0
            #expect(try await store.expire(now: now) == expected, sourceLocation: sourceLocation)
            try await compareUsage(key, at: now, sourceLocation: sourceLocation)
        }

        func compareUsage(_ key: String, limits: LimitProtocol.Limits = .none, budget: LimitProtocol.Budget = LimitProtocol.Budget(),
                          at now: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let request = LimitProtocol.Usage(key: key, limits: limits, budget: budget)
            #expect(try await store.usage(request, now: now) == ledger.usage(request, now: now), sourceLocation: sourceLocation)
        }
    }

    static func reserve(_ key: String = "key:a", model: String = "m", tokens: UInt32 = 0, cost: UInt64 = 0,
                        limits: LimitProtocol.Limits = .none, modelLimits: LimitProtocol.Limits = .none,
                        budget: LimitProtocol.Budget = LimitProtocol.Budget(), leaseMs: UInt32 = 60_000) -> LimitProtocol.Reserve {
        LimitProtocol.Reserve(reservation: 0, key: key, model: model, route: "/v1/chat/completions", limits: limits, modelLimits: modelLimits,
                              tokens: tokens, costNanoUSD: cost, budget: budget, leaseMs: leaseMs)
    }

    @Test("requests per window: the burst, the refusal's exact wait, one nanosecond early and on time")
    func requestsPerWindow() async throws {
        let pair = try Pair(LimitDefaults(requestsPerMinute: 7, window: .seconds(60)))
        let t = Self.start
        for _ in 0..<7 { #expect(try await pair.reserve(Self.reserve(), at: t).outcome == .allowed) }
        let refused = try await pair.reserve(Self.reserve(), at: t)
        #expect(refused.outcome == .rateLimited && refused.refusedBy == "rpm" && refused.retryAfterMs == 8572)
        // 60 s / 7 = 8 571 428 571 ns: refused one nanosecond before, admitted on the dot.
        #expect(try await pair.reserve(Self.reserve(), at: t + 8_571_428_570).outcome == .rateLimited)
        #expect(try await pair.reserve(Self.reserve(), at: t + 8_571_428_571).outcome == .allowed)
        // A key's own rate and requests per hour.
        let own = LimitProtocol.Limits(requestsPerMinute: 2, requestsPerHour: 3)
        for step in 0..<5 { try await pair.reserve(Self.reserve("key:b", limits: own), at: t + Int64(step) * 31 * Self.second) }
    }

    @Test("tokens per minute: held at admission, too large, given back and charged on top at settlement")
    func tokens() async throws {
        let pair = try Pair(LimitDefaults(requestsPerMinute: 1_000_000, window: .seconds(60), tokensPerMinute: 1000))
        let t = Self.start
        let first = try await pair.reserve(Self.reserve(tokens: 600), at: t)
        #expect(first.tokens == LimitProtocol.LimitStatus(limit: 1000, remaining: 400, resetMs: 36_000))
        #expect(try await pair.reserve(Self.reserve(tokens: 500), at: t).retryAfterMs == 6_000)
        #expect(try await pair.reserve(Self.reserve(tokens: 1001), at: t).outcome == .tooLarge)
        let second = try await pair.reserve(Self.reserve(tokens: 400), at: t)
        #expect(try await pair.reserve(Self.reserve(tokens: 1), at: t).retryAfterMs == 60)
        // Used less than held: given back; used more: charged on top.
        try await pair.commit(LimitProtocol.Commit(reservation: first.reservation, promptTokens: 40, completionTokens: 60), key: "key:a", at: t + 1)
        try await pair.commit(LimitProtocol.Commit(reservation: second.reservation, promptTokens: 300, completionTokens: 200), key: "key:a", at: t + 2)
        try await pair.reserve(Self.reserve(tokens: 450), at: t + 3)
        try await pair.reserve(Self.reserve(tokens: 1), at: t + 4)
        // A settlement again, of an ended reservation: unknown on both.
        try await pair.commit(LimitProtocol.Commit(reservation: first.reservation, promptTokens: 1), key: "key:a", at: t + 5)
    }

    @Test("a batch's partial settlements, a key-and-model scope and its own concurrency limit")
    func modelScopeAndConcurrency() async throws {
        let pair = try Pair(LimitDefaults(requestsPerMinute: 1_000_000, window: .seconds(60), tokensPerMinute: 5000, maxParallel: 2))
        let t = Self.start
        let model = LimitProtocol.Limits(requestsPerMinute: 3, tokensPerMinute: 800, maxParallel: 1)
        let a = try await pair.reserve(Self.reserve(tokens: 300, modelLimits: model), at: t)
        let refused = try await pair.reserve(Self.reserve(tokens: 10, modelLimits: model), at: t)
        #expect(refused.refusedBy == "model_max_parallel" && refused.retryAfterMs == 1000)
        let other = try await pair.reserve(Self.reserve(model: "other", tokens: 10), at: t)
        #expect(try await pair.reserve(Self.reserve(model: "third", tokens: 10), at: t).refusedBy == "max_parallel")
        try await pair.commit(LimitProtocol.Commit(reservation: a.reservation, promptTokens: 10, completionTokens: 20, final: false), key: "key:a", at: t + 1)
        try await pair.commit(LimitProtocol.Commit(reservation: a.reservation, promptTokens: 5, completionTokens: 5, final: false), key: "key:a", at: t + 2)
        try await pair.commit(LimitProtocol.Commit(reservation: a.reservation, final: true), key: "key:a", at: t + 3)
        try await pair.commit(LimitProtocol.Commit(reservation: other.reservation, promptTokens: 4, completionTokens: 4), key: "key:a", at: t + 3)
        #expect(try await pair.reserve(Self.reserve(tokens: 801, modelLimits: model), at: t + 4).outcome == .tooLarge)
        try await pair.reserve(Self.reserve(tokens: 700, modelLimits: model), at: t + 5)
        // The same Reserve again (its reply lost) is answered from the reservation.
        var again = Self.reserve(tokens: 100)
        again.reservation = 999
        try await pair.reserve(again, at: t + 6)
        try await pair.reserve(again, at: t + 7)
    }

    @Test("budgets: equality admits, a cent more is refused until the period's end; a new period starts at zero")
    func budgets() async throws {
        let pair = try Pair(LimitDefaults(requestsPerMinute: 1_000_000, window: .seconds(60)))
        let anchor = Self.start / Self.second - 600
        let budget = LimitProtocol.Budget(maxNanoUSD: 10_000_000, period: "1h", anchor: anchor)
        let t = Self.start
        let a = try await pair.reserve(Self.reserve(cost: 6_000_000, budget: budget), at: t)
        let over = try await pair.reserve(Self.reserve(cost: 4_000_001, budget: budget), at: t)
        #expect(over.outcome == .budgetExceeded && over.retryAfterMs == 3_000_000 - 123)
        #expect(try await pair.reserve(Self.reserve(cost: 4_000_000, budget: budget), at: t).outcome == .allowed)
        try await pair.commit(LimitProtocol.Commit(reservation: a.reservation, costNanoUSD: 2_500_000), key: "key:a", at: t + Self.second)
        try await pair.reserve(Self.reserve(cost: 3_500_000, budget: budget), at: t + 2 * Self.second)
        try await pair.reserve(Self.reserve(cost: 1, budget: budget), at: t + 2 * Self.second)
        // The next period: spend starts at zero (what is still held stays held).
        let next = t + 3000 * Self.second
        try await pair.reserve(Self.reserve(cost: 1_000_000, budget: budget), at: next)
        // Client addresses keep no spend.
        try await pair.reserve(Self.reserve("ip:10.0.0.1", cost: 5, budget: budget), at: next)
        #expect(try await pair.store.spendList() == pair.ledger.spendList())
    }

    @Test("a lease that runs out ends the reservation at its worst case: tokens stay taken, the held cost is charged")
    func leases() async throws {
        let pair = try Pair(LimitDefaults(requestsPerMinute: 1_000_000, window: .seconds(60), tokensPerMinute: 1000))
        let t = Self.start
        let budget = LimitProtocol.Budget(maxNanoUSD: 1_000_000_000)
        let a = try await pair.reserve(Self.reserve(tokens: 500, cost: 7000, budget: budget, leaseMs: 2000), at: t)
        try await pair.commit(LimitProtocol.Commit(reservation: a.reservation, promptTokens: 10, costNanoUSD: 1000, final: false), key: "key:a", at: t + 1)
        try await pair.reserve(Self.reserve(tokens: 100, cost: 10, budget: budget, leaseMs: 9000), at: t + 2)
        try await pair.expire(at: t + 2 * Self.second - 1, key: "key:a")
        try await pair.expire(at: t + 2 * Self.second, key: "key:a")
        try await pair.commit(LimitProtocol.Commit(reservation: a.reservation, promptTokens: 10), key: "key:a", at: t + 3 * Self.second)
        try await pair.expire(at: t + 10 * Self.second, key: "key:a")
        #expect(try await pair.store.spendList() == pair.ledger.spendList())
        // Nothing is left in the lease index once every lease ended.
        #expect(try await pair.client.send("ZCARD", RedisLimitKeys.leaseIndex).integer == 0)
    }

    @Test("version 1: Admit counts against the requests-per-window limit, Settle charges a default token limit after the fact")
    func versionOne() async throws {
        let pair = try Pair(LimitDefaults(requestsPerMinute: 2, window: .seconds(10), tokensPerMinute: 100))
        let t = Self.start
        for step: Int64 in [0, 0, 0, 4_999_999_999, 5_000_000_000] {
            let expected = pair.ledger.admit(key: "key:v1", requestsPerMinute: 0, now: t + step).0
            #expect(try await pair.store.admit(key: "key:v1", requestsPerMinute: 0, now: t + step) == expected)
        }
        _ = pair.ledger.settle(key: "key:v1", promptTokens: 30, completionTokens: 40, now: t)
        try await pair.store.settle(key: "key:v1", promptTokens: 30, completionTokens: 40, now: t)
        try await pair.compareUsage("key:v1", at: t + 1)
        try await pair.reserve(Self.reserve("key:v1", tokens: 40), at: t + 2)
    }
}
