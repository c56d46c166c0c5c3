import Testing
import TestKit

@testable import limitd

@Suite("Limit: GCRA policy and rate limiter")
struct RateLimiterTests {
    @Test("the limit per window is RPM × window / 60, at least 1", arguments: [
        (60, 60, UInt32(60)), (10, 60, 10), (120, 30, 60), (1, 1, 1), (30, 1, 1), (90, 2, 3), (1_000_000, 86_400, 1_440_000_000),
    ])
    func limitPerWindow(rpm: Int, windowSeconds: Int, expected: UInt32) {
        let policy = RateLimitPolicy(requestsPerMinute: UInt64(rpm), window: .seconds(windowSeconds))
        #expect(policy.limit == expected)
        #expect(policy.window == Int64(windowSeconds) * second)
        #expect(policy.interval == policy.window / Int64(expected))
    }

    @Test("a quiet key gets exactly N requests at once, remaining counting down to 0", arguments: [
        (60, 60), (10, 60), (7, 60), (1, 60), (6_000, 60), (3, 1),
    ])
    func limitReachedExactlyAtN(rpm: Int, windowSeconds: Int) {
        let limiter = RateLimiter(requestsPerMinute: rpm, window: .seconds(windowSeconds), maxKeys: 10)
        let limit = Int(limiter.defaultPolicy.limit)
        let now: Int64 = 5 * second
        for made in 1...limit {
            let decision = limiter.admit(key: "k", now: now)
            #expect(decision.allowed, "request \(made) of \(limit)")
            #expect(decision.limit == UInt32(limit))
            #expect(decision.remaining == UInt32(limit - made))
            #expect(decision.retryAfterMilliseconds == 0)
        }
        let refused = limiter.admit(key: "k", now: now)
        #expect(!refused.allowed)
        #expect(refused.remaining == 0)
        #expect(refused.limit == UInt32(limit))
    }

    @Test("a refusal says exactly when the next request is allowed")
    func retryAfterIsCorrect() {
        // 3 per minute: one every 20 s once the burst is spent.
        let limiter = RateLimiter(requestsPerMinute: 3, window: .seconds(60), maxKeys: 10)
        let start: Int64 = 100 * second
        for _ in 0..<3 { #expect(limiter.admit(key: "k", now: start).allowed) }

        let refused = limiter.admit(key: "k", now: start + 5 * second)
        #expect(!refused.allowed)
        #expect(refused.retryAfter == 15 * second)
        #expect(refused.retryAfterMilliseconds == 15_000)

        // One nanosecond early is still refused, and asks for at least 1 ms more (never 0).
        let early = limiter.admit(key: "k", now: start + 20 * second - 1)
        #expect(!early.allowed)
        #expect(early.retryAfter == 1)
        #expect(early.retryAfterMilliseconds == 1)

        // Waiting exactly as told is enough, and it frees exactly one request.
        let onTime = limiter.admit(key: "k", now: start + 20 * second)
        #expect(onTime.allowed)
        #expect(onTime.remaining == 0)
        #expect(!limiter.admit(key: "k", now: start + 20 * second).allowed)
    }

    /// Nanoseconds to wait, and the milliseconds a client is told.
    static let roundings: [(Int64, UInt32)] = [
        (1, 1), (1_000_000, 1), (1_000_001, 2), (1_500_000_000, 1_500), (1_500_000_007, 1_501),
    ]

    @Test("retry-after in milliseconds is rounded up", arguments: roundings)
    func retryAfterRoundsUp(nanoseconds: Int64, milliseconds: UInt32) {
        let decision = RateDecision(allowed: false, limit: 1, remaining: 0, retryAfter: nanoseconds)
        #expect(decision.retryAfterMilliseconds == milliseconds)
    }

    @Test("refused requests do not push the wait further out")
    func refusalsAreNotCounted() {
        let limiter = RateLimiter(requestsPerMinute: 1, window: .seconds(60), maxKeys: 10)
        #expect(limiter.admit(key: "k", now: 0).allowed)
        for elapsed in 1..<60 {
            #expect(!limiter.admit(key: "k", now: Int64(elapsed) * second).allowed)
        }
        #expect(limiter.admit(key: "k", now: 60 * second).allowed)
    }

    @Test("the window slides: allowance comes back at the steady rate, a whole window restores the burst")
    func windowSlides() {
        // 60 per minute: a burst of 60, then one a second.
        let limiter = RateLimiter(requestsPerMinute: 60, window: .seconds(60), maxKeys: 10)
        let start: Int64 = 1_000 * second
        for _ in 0..<60 { #expect(limiter.admit(key: "k", now: start).allowed) }
        #expect(!limiter.admit(key: "k", now: start).allowed)

        // Ten seconds later, ten requests (and not eleven).
        let later = start + 10 * second
        for _ in 0..<10 { #expect(limiter.admit(key: "k", now: later).allowed) }
        #expect(!limiter.admit(key: "k", now: later).allowed)

        // Half a window of quiet gives half the burst back.
        let halfWindow = later + 30 * second
        let first = limiter.admit(key: "k", now: halfWindow)
        #expect(first.allowed)
        #expect(first.remaining == 29)

        // A whole window of quiet gives the whole burst back.
        let rested = halfWindow + 60 * second
        let fresh = limiter.admit(key: "k", now: rested)
        #expect(fresh.allowed)
        #expect(fresh.remaining == 59)
    }

    @Test("over any span d a key gets at most limit + d / interval requests, and at full demand that many")
    func conformanceBound() {
        var generator = SeededRandom(seed: 42)
        let limiter = RateLimiter(requestsPerMinute: 20, window: .seconds(10), maxKeys: 10)
        let policy = limiter.defaultPolicy
        var now: Int64 = 0
        var allowedTimes: [Int64] = []
        for _ in 0..<3_000 {
            // Bursty arrivals: mostly close together, sometimes long gaps.
            let gap = generator.next() % 4 == 0 ? generator.next() % UInt64(3 * second) : generator.next() % UInt64(50 * millisecond)
            now += Int64(gap)
            if limiter.admit(key: "k", now: now).allowed { allowedTimes.append(now) }
        }
        #expect(allowedTimes.count > 100)
        var worst = 0
        for first in allowedTimes.indices {
            for last in first..<min(allowedTimes.count, first + 3 * Int(policy.limit)) {
                let span = allowedTimes[last] - allowedTimes[first]
                let bound = Int(policy.limit) + Int(span / policy.interval)
                worst = max(worst, last - first + 1 - bound)
            }
        }
        #expect(worst <= 0)

        // A client asking every millisecond for ten windows gets the burst plus one per interval, no more, no less.
        let greedy = RateLimiter(requestsPerMinute: 20, window: .seconds(10), maxKeys: 10)
        let horizon = 10 * policy.window
        var granted = 0
        var time: Int64 = 0
        while time <= horizon {
            if greedy.admit(key: "k", now: time).allowed { granted += 1 }
            time += millisecond
        }
        #expect(granted == Int(policy.limit) + Int(horizon / policy.interval))
    }

    @Test("a per-key rate replaces the default for that key only")
    func perKeyOverride() {
        let limiter = RateLimiter(requestsPerMinute: 2, window: .seconds(60), maxKeys: 10)
        for made in 1...5 {
            let decision = limiter.admit(key: "premium", requestsPerMinute: 5, now: 0)
            #expect(decision.allowed)
            #expect(decision.limit == 5)
            #expect(decision.remaining == UInt32(5 - made))
        }
        let refused = limiter.admit(key: "premium", requestsPerMinute: 5, now: 0)
        #expect(!refused.allowed)
        #expect(refused.retryAfter == 12 * second)

        // The default key is untouched by the other key's use.
        #expect(limiter.admit(key: "basic", now: 0).limit == 2)
        #expect(limiter.admit(key: "basic", now: 0).allowed)
        #expect(!limiter.admit(key: "basic", now: 0).allowed)
        // 0 means the default; the override scales with the window like the default.
        #expect(limiter.policy(requestsPerMinute: 0) == limiter.defaultPolicy)
        let halfMinute = RateLimiter(requestsPerMinute: 60, window: .seconds(30), maxKeys: 10)
        #expect(halfMinute.policy(requestsPerMinute: 600).limit == 300)
    }

    @Test("an override larger than the reply can carry is capped, not wrapped")
    func hugeOverride() {
        let limiter = RateLimiter(requestsPerMinute: 60, window: .seconds(86_400), maxKeys: 10)
        let policy = limiter.policy(requestsPerMinute: UInt32.max)
        #expect(policy.limit == UInt32.max)
        #expect(policy.interval >= 1)
        #expect(limiter.admit(key: "k", requestsPerMinute: UInt32.max, now: 0).allowed)
    }

    @Test("beyond the key bound the least recently seen key is forgotten")
    func keyBound() {
        let limiter = RateLimiter(requestsPerMinute: 1, window: .seconds(60), maxKeys: 3)
        for key in ["a", "b", "c"] { #expect(limiter.admit(key: key, now: 0).allowed) }
        // Seeing "a" again (even refused) makes "b" the least recently seen.
        #expect(!limiter.admit(key: "a", now: 0).allowed)
        #expect(limiter.admit(key: "d", now: 0).allowed)
        #expect(limiter.trackedKeys == 3)
        #expect(limiter.forgottenKeys == 1)
        #expect(limiter.record(for: "b") == nil)
        #expect(limiter.record(for: "a") != nil)
        // A forgotten key starts afresh; a remembered one is still limited.
        #expect(limiter.admit(key: "b", now: 0).allowed)
        #expect(limiter.record(for: "c") == nil)
        #expect(!limiter.admit(key: "a", now: 0).allowed)
        #expect(!limiter.admit(key: "d", now: 0).allowed)
    }

    @Test("the key table keeps recency order and reuses slots")
    func keyTableOrder() {
        var table = RecentKeyTable(capacity: 3)
        for key in ["a", "b", "c"] { table.withRecord(for: key) { $0.promptTokens += 1 } }
        #expect(table.keysByRecency == ["c", "b", "a"])
        table.withRecord(for: "a") { _ in }
        #expect(table.keysByRecency == ["a", "c", "b"])
        table.withRecord(for: "c") { _ in }
        #expect(table.keysByRecency == ["c", "a", "b"])
        table.withRecord(for: "d") { _ in }
        #expect(table.keysByRecency == ["d", "c", "a"])
        #expect(table.record(for: "d") == KeyRecord())
        #expect(table.record(for: "a")?.promptTokens == 1)
        #expect(table.count == 3)
        // A capacity of one keeps only the latest key.
        var single = RecentKeyTable(capacity: 1)
        single.withRecord(for: "x") { _ in }
        single.withRecord(for: "y") { _ in }
        #expect(single.keysByRecency == ["y"])
        #expect(single.forgottenCount == 1)
    }

    @Test("settling adds tokens to the key's totals")
    func settleAccumulates() {
        let limiter = RateLimiter(requestsPerMinute: 60, window: .seconds(60), maxKeys: 10)
        limiter.settle(key: "k", promptTokens: 10, completionTokens: 5, now: 0)
        limiter.settle(key: "k", promptTokens: 3, completionTokens: 0, now: 0)
        #expect(limiter.record(for: "k")?.promptTokens == 13)
        #expect(limiter.record(for: "k")?.completionTokens == 5)
        // Settling does not use up the key's requests.
        #expect(limiter.admit(key: "k", now: 0).remaining == 59)
    }
}
