import Services
import Testing
import TestKit

@testable import limitd

/// The arithmetic of every limit at its edges: tokens reserved and settled, concurrency, requests per
/// hour, the key-and-model scope, budgets and their periods, leases.
@Suite("Limit: reservations, budgets and leases")
struct LimitLedgerTests {
    /// A ledger with a generous default request rate, so only the limit under test refuses.
    static func ledger(tpm: Int = 0, rph: Int = 0, maxParallel: Int = 0) -> LimitLedger {
        LimitLedger(defaults: LimitDefaults(requestsPerMinute: 1_000_000, window: .seconds(60), requestsPerHour: rph,
                                            tokensPerMinute: tpm, maxParallel: maxParallel), maxKeys: 100)
    }

    static func reserve(_ key: String = "key:a", model: String = "m", tokens: UInt32 = 0, cost: UInt64 = 0,
                        budget: LimitProtocol.Budget = LimitProtocol.Budget(), modelLimits: LimitProtocol.Limits = .none,
                        leaseMs: UInt32 = 60_000) -> LimitProtocol.Reserve {
        LimitProtocol.Reserve(reservation: 0, key: key, model: model, route: "/v1/chat/completions", modelLimits: modelLimits, tokens: tokens,
                              costNanoUSD: cost, budget: budget, leaseMs: leaseMs)
    }

    /// Reserves with a fresh id.
    static func take(_ ledger: inout LimitLedger, _ request: LimitProtocol.Reserve, now: Int64) -> LimitProtocol.ReserveReply {
        ledger.reserve(request, id: UInt64.random(in: 1...UInt64.max), now: now).0
    }

    @Test("tokens per minute: a reservation holds prompt + max tokens; the next fits or waits exactly for its shortfall")
    func tokensReserved() {
        var ledger = Self.ledger(tpm: 1000)
        let now = 1000 * second
        let first = Self.take(&ledger, Self.reserve(tokens: 600), now: now)
        #expect(first.outcome == .allowed)
        #expect(first.tokens == LimitProtocol.LimitStatus(limit: 1000, remaining: 400, resetMs: 36_000))
        let short = Self.take(&ledger, Self.reserve(tokens: 500), now: now)
        // 100 tokens short, one token back every 60 ms: 6 s.
        #expect(short.outcome == .rateLimited && short.refusedBy == "tpm" && short.retryAfterMs == 6_000)
        #expect(short.reservation == 0)
        // The exact remainder fits, one more does not.
        #expect(Self.take(&ledger, Self.reserve(tokens: 400), now: now).outcome == .allowed)
        #expect(Self.take(&ledger, Self.reserve(tokens: 1), now: now).retryAfterMs == 60)
        // 6 s later the 500 fit.
        #expect(Self.take(&ledger, Self.reserve(tokens: 100), now: now + 6 * second - 1).outcome == .rateLimited)
        #expect(Self.take(&ledger, Self.reserve(tokens: 100), now: now + 6 * second).outcome == .allowed)
    }

    @Test("a request that alone exceeds the token limit is too large, not rate limited")
    func tooLarge() {
        var ledger = Self.ledger(tpm: 1000)
        #expect(Self.take(&ledger, Self.reserve(tokens: 1000), now: 0).outcome == .allowed)
        let huge = Self.take(&ledger, Self.reserve(tokens: 1001), now: 0)
        #expect(huge.outcome == .tooLarge && huge.refusedBy == "tpm" && huge.retryAfterMs == 0)
    }

    @Test("settlement gives back what a reservation held beyond the real count, and charges what went over")
    func settlement() {
        var ledger = Self.ledger(tpm: 1000)
        let held = Self.take(&ledger, Self.reserve(tokens: 600), now: 0)
        let (result, records) = ledger.commit(LimitProtocol.Commit(reservation: held.reservation, promptTokens: 40, completionTokens: 60), now: 0)
        #expect(result == .settled && !records.isEmpty)
        #expect(Self.take(&ledger, Self.reserve(tokens: 900), now: 0).outcome == .allowed)  // 100 used + 900 = the limit
        #expect(ledger.rates.record(for: "key:a")?.promptTokens == 40)
        // Settling again, or an unknown reservation: nothing happens.
        #expect(ledger.commit(LimitProtocol.Commit(reservation: held.reservation, completionTokens: 5), now: 0).0 == .unknown)

        var over = Self.ledger(tpm: 1000)
        let small = Self.take(&over, Self.reserve(tokens: 100), now: 0)
        _ = over.commit(LimitProtocol.Commit(reservation: small.reservation, completionTokens: 700), now: 0)
        // 700 used, not 100: 300 left.
        #expect(Self.take(&over, Self.reserve(tokens: 301), now: 0).outcome == .rateLimited)
        #expect(Self.take(&over, Self.reserve(tokens: 300), now: 0).outcome == .allowed)
    }

    @Test("concurrent reservations never hold more than the token limit, whatever their order")
    func noOvershoot() {
        var ledger = Self.ledger(tpm: 2000)
        var admitted: UInt32 = 0
        for i in 0..<32 {
            let tokens = UInt32(100 + 37 * i % 150)
            if Self.take(&ledger, Self.reserve(tokens: tokens), now: 0).outcome == .allowed { admitted += tokens }
        }
        #expect(admitted <= 2000 && admitted > 1700)
    }

    @Test("requests at once: a slot frees when its request settles or ends, and a refusal says 1 s")
    func concurrency() {
        var ledger = Self.ledger(maxParallel: 2)
        let a = Self.take(&ledger, Self.reserve(), now: 0)
        _ = Self.take(&ledger, Self.reserve(), now: 0)
        let third = Self.take(&ledger, Self.reserve(), now: 0)
        #expect(third.outcome == .rateLimited && third.refusedBy == "max_parallel" && third.retryAfterMs == 1000)
        #expect(Self.take(&ledger, Self.reserve("key:other"), now: 0).outcome == .allowed)
        _ = ledger.commit(LimitProtocol.Commit(reservation: a.reservation), now: 0)
        #expect(Self.take(&ledger, Self.reserve(), now: 0).outcome == .allowed)
        #expect(ledger.inFlight["key:a"] == 2)
        // A batch's partial settlements keep the slot.
        var batch = Self.ledger(maxParallel: 1)
        let b = Self.take(&batch, Self.reserve(), now: 0)
        _ = batch.commit(LimitProtocol.Commit(reservation: b.reservation, completionTokens: 3, final: false), now: 0)
        #expect(Self.take(&batch, Self.reserve(), now: 0).outcome == .rateLimited)
        _ = batch.commit(LimitProtocol.Commit(reservation: b.reservation, final: true), now: 0)
        #expect(Self.take(&batch, Self.reserve(), now: 0).outcome == .allowed)
    }

    @Test("requests per hour: the burst, then one every hour / limit, the wait exact")
    func perHour() {
        var ledger = Self.ledger(rph: 2)
        #expect(Self.take(&ledger, Self.reserve(), now: 0).outcome == .allowed)
        let last = Self.take(&ledger, Self.reserve(), now: 0)
        #expect(last.requests == LimitProtocol.LimitStatus(limit: 2, remaining: 0, resetMs: 3_600_000))
        let refused = Self.take(&ledger, Self.reserve(), now: 10 * second)
        #expect(refused.outcome == .rateLimited && refused.refusedBy == "rph" && refused.retryAfterMs == 1_790_000)
        #expect(Self.take(&ledger, Self.reserve(), now: 1800 * second).outcome == .allowed)
    }

    @Test("a key's limits for one model hold apart from its other models; headers report the tighter")
    func perModel() {
        var ledger = Self.ledger(tpm: 10_000)
        let modelLimits = LimitProtocol.Limits(tokensPerMinute: 100, maxParallel: 1)
        let first = Self.take(&ledger, Self.reserve(tokens: 80, modelLimits: modelLimits), now: 0)
        #expect(first.tokens.limit == 100 && first.tokens.remaining == 20)
        let refused = Self.take(&ledger, Self.reserve(tokens: 30, modelLimits: modelLimits), now: 0)
        #expect(refused.outcome == .rateLimited && ["model_tpm", "model_max_parallel"].contains(refused.refusedBy))
        #expect(Self.take(&ledger, Self.reserve(model: "other", tokens: 5000, modelLimits: .none), now: 0).outcome == .allowed)
        let tooMuch = Self.take(&ledger, Self.reserve(tokens: 101, modelLimits: modelLimits), now: 0)
        #expect(tooMuch.outcome == .tooLarge && tooMuch.refusedBy == "model_tpm")
    }

    @Test("a budget holds each request's worst case; at exactly the budget it admits, one nano-dollar more it refuses until the period ends")
    func budget() {
        var ledger = Self.ledger()
        let budget = LimitProtocol.Budget(maxNanoUSD: 1000, period: "1h", anchor: 0)
        let now = 100 * second
        let a = Self.take(&ledger, Self.reserve(cost: 600, budget: budget), now: now)
        #expect(a.outcome == .allowed && a.budget.reservedNanoUSD == 600 && a.budget.periodEnd == 3600)
        let refused = Self.take(&ledger, Self.reserve(cost: 401, budget: budget), now: now)
        #expect(refused.outcome == .budgetExceeded && refused.refusedBy == "budget")
        #expect(refused.retryAfterMs == 3_500_000)
        // The first settles at 100: 100 spent, 900 left, and exactly 900 fits.
        _ = ledger.commit(LimitProtocol.Commit(reservation: a.reservation, promptTokens: 1, costNanoUSD: 100), now: now)
        let exact = Self.take(&ledger, Self.reserve(cost: 900, budget: budget), now: now)
        #expect(exact.outcome == .allowed && exact.budget.spentNanoUSD == 100 && exact.budget.reservedNanoUSD == 900)
        _ = ledger.commit(LimitProtocol.Commit(reservation: exact.reservation, costNanoUSD: 900), now: now)
        #expect(Self.take(&ledger, Self.reserve(cost: 1, budget: budget), now: now).outcome == .budgetExceeded)
        #expect(Self.take(&ledger, Self.reserve(cost: 0, budget: budget), now: now).outcome == .allowed)
        // The next period starts at zero.
        let next = Self.take(&ledger, Self.reserve(cost: 1000, budget: budget), now: 3600 * second)
        #expect(next.outcome == .allowed && next.budget.spentNanoUSD == 0 && next.budget.periodEnd == 7200)
        #expect(ledger.spends["key:a"]?.total == 1000)
        // Client addresses have no spend kept.
        #expect(Self.take(&ledger, Self.reserve("ip:127.0.0.1", cost: 5, budget: budget), now: now).budget == LimitProtocol.BudgetStatus(maxNanoUSD: 1000))
    }

    @Test("a lease that runs out ends its reservation at the worst case: slot freed, tokens kept, cost charged")
    func leaseExpiry() {
        var ledger = Self.ledger(tpm: 1000, maxParallel: 1)
        let budget = LimitProtocol.Budget(maxNanoUSD: 10_000)
        let held = Self.take(&ledger, Self.reserve(tokens: 500, cost: 700, budget: budget, leaseMs: 2000), now: 0)
        _ = ledger.commit(LimitProtocol.Commit(reservation: held.reservation, completionTokens: 10, costNanoUSD: 200, final: false), now: 0)
        #expect(ledger.expire(now: 2 * second - 1).0 == 0)
        let (expired, records) = ledger.expire(now: 2 * second)
        #expect(expired == 1 && records.contains(.finished(held.reservation)))
        #expect(ledger.inFlight.isEmpty && ledger.reservations.isEmpty)
        #expect(ledger.spends["key:a"]?.spent == 700 && ledger.spends["key:a"]?.reserved == 0)
        // Only what was settled counts as used.
        #expect(ledger.rates.record(for: "key:a")?.completionTokens == 10)
        // All 500 tokens stay taken (less the 2 s of refill): 467 available at 2 s.
        #expect(Self.take(&ledger, Self.reserve(tokens: 534), now: 2 * second).outcome == .rateLimited)
        #expect(Self.take(&ledger, Self.reserve(tokens: 533), now: 2 * second).outcome == .allowed)
    }

    @Test("the version-1 Admit shares the request allowance with reservations (a rolling restart)")
    func versionOneShares() {
        var ledger = LimitLedger(defaults: LimitDefaults(requestsPerMinute: 2, window: .seconds(60)), maxKeys: 10)
        #expect(ledger.admit(key: "key:a", requestsPerMinute: 0, now: 0).0.allowed)
        #expect(Self.take(&ledger, Self.reserve(), now: 0).outcome == .allowed)
        #expect(!ledger.admit(key: "key:a", requestsPerMinute: 0, now: 0).0.allowed)
        #expect(Self.take(&ledger, Self.reserve(), now: 0).refusedBy == "rpm")
    }

    @Test("usage reports the key's standing without taking anything")
    func usage() {
        var ledger = Self.ledger(tpm: 1000)
        let held = Self.take(&ledger, Self.reserve(tokens: 250, cost: 40, budget: LimitProtocol.Budget(maxNanoUSD: 100)), now: 0)
        _ = ledger.commit(LimitProtocol.Commit(reservation: held.reservation, promptTokens: 20, completionTokens: 30, costNanoUSD: 25), now: 0)
        let report = ledger.usage(LimitProtocol.Usage(key: "key:a", budget: LimitProtocol.Budget(maxNanoUSD: 100)), now: 0)
        #expect(report.tokens == LimitProtocol.LimitStatus(limit: 1000, remaining: 950, resetMs: 3000))
        #expect(report.limits.tokensPerMinute == 1000 && report.limits.requestsPerMinute == 1_000_000)
        #expect(report.promptTokens == 20 && report.completionTokens == 30 && report.inFlight == 0)
        #expect(report.budget.spentNanoUSD == 25 && report.totalSpentNanoUSD == 25)
        #expect(ledger.usage(LimitProtocol.Usage(key: "key:a"), now: 0).tokens.remaining == 950)
    }

    @Test("a Reserve sent again with the same id takes nothing twice")
    func reserveAgain() {
        var ledger = Self.ledger(tpm: 1000, maxParallel: 1)
        let first = ledger.reserve(Self.reserve(tokens: 600), id: 42, now: 0).0
        let again = ledger.reserve(Self.reserve(tokens: 600), id: 42, now: 0)
        #expect(first.outcome == .allowed && again.0.outcome == .allowed && again.0.reservation == 42 && again.1.isEmpty)
        #expect(ledger.inFlight["key:a"] == 1 && ledger.reservations.count == 1)
    }

    @Test("a cache hit's admission (AdmitCached) is decided as its Reserve, counts in the requests limits and holds nothing")
    func admitCached() {
        // Each ledger gets the same requests: one holds and releases each as frontd did for a hit (Reserve,
        // then a final Commit of nothing), the other admits without holding. Replies and what follows agree.
        var held = Self.ledger(tpm: 1000, rph: 4, maxParallel: 1)
        var cached = Self.ledger(tpm: 1000, rph: 4, maxParallel: 1)
        let budget = LimitProtocol.Budget(maxNanoUSD: 100)
        let hit = Self.reserve(tokens: 600, cost: 60, budget: budget)
        for round in 0..<3 {
            let now = Int64(round) * second
            var reply = Self.take(&held, hit, now: now)
            _ = held.commit(LimitProtocol.Commit(reservation: reply.reservation), now: now)
            // The same reply, but for the reservation and the cost held (none).
            reply.reservation = 0
            reply.budget.reservedNanoUSD = 0
            let (answer, records) = cached.reserve(hit, id: 0, now: now, holding: false)
            #expect(answer == reply && answer.outcome == .allowed && answer.reservation == 0)
            #expect(!records.isEmpty && !records.contains { if case .reserved = $0 { true } else { false } })
            // Nothing held: no slot (max_parallel 1 would refuse a second), no tokens, no cost.
            #expect(cached.reservations.isEmpty && cached.inFlight.isEmpty && cached.spends["key:a"]?.reserved == 0)
            #expect(cached.rates.record(for: "key:a")?.hourArrival == held.rates.record(for: "key:a")?.hourArrival)
        }
        // The fourth request of the hour is the last; the fifth is refused by both, the same way.
        #expect(Self.take(&held, Self.reserve(tokens: 1000, cost: 100, budget: budget), now: 3 * second).outcome == .allowed)
        #expect(cached.reserve(Self.reserve(tokens: 1000, cost: 100, budget: budget), id: 7, now: 3 * second).0.outcome == .allowed)
        let refusedHeld = Self.take(&held, hit, now: 4 * second)
        let refusedCached = cached.reserve(hit, id: 0, now: 4 * second, holding: false)
        #expect(refusedCached.0 == refusedHeld && refusedCached.1.isEmpty)
        #expect(refusedHeld.outcome == .budgetExceeded)

        // A hit whose worst case the tokens limit or the budget cannot cover is refused as its Reserve is.
        var tight = Self.ledger(tpm: 1000)
        #expect(tight.reserve(Self.reserve(tokens: 1001), id: 0, now: 0, holding: false).0.outcome == .tooLarge)
        #expect(Self.take(&tight, Self.reserve(tokens: 900), now: 0).outcome == .allowed)
        let short = tight.reserve(Self.reserve(tokens: 200), id: 0, now: 0, holding: false)
        #expect(short.0.outcome == .rateLimited && short.0.refusedBy == "tpm" && short.1.isEmpty)
    }
}
