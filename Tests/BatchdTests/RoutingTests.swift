import Registry
import Testing
@testable import batchd

/// The pieces batchd routes with: breakers, the deployment chooser, backoff.
@Suite("Circuit breakers, deployment choice and backoff")
struct RoutingTests {
    private let second: Int64 = 1_000_000_000

    @Test("closed → open after the threshold of failures in a row; a success in between resets the count")
    func opensAfterThreshold() {
        var breaker = CircuitBreaker(failureThreshold: 3, openDuration: 30 * second)
        #expect(breaker.recordFailure(now: 0, reason: "refused") == nil)
        #expect(breaker.recordFailure(now: 1, reason: "refused") == nil)
        #expect(breaker.recordSuccess() == nil)
        #expect(breaker.recordFailure(now: 2, reason: "refused") == nil)
        #expect(breaker.recordFailure(now: 3, reason: "refused") == nil)
        let opened = breaker.recordFailure(now: 4, reason: "HTTP 502")
        #expect(opened?.from == .closed && opened?.to == .open)
        #expect(opened?.reason.contains("3 failure(s) in a row: HTTP 502") == true)
        #expect(breaker.state == .open)
        #expect(breaker.admit(now: 5).0 == .refused(until: 4 + 30 * second))
        #expect(!breaker.isAvailable(now: 5))
        #expect(breaker.isAvailable(now: 4 + 30 * second))
    }

    @Test("open → half-open after the timeout admits exactly one probe; its success closes the breaker")
    func halfOpenProbeSucceeds() {
        var breaker = CircuitBreaker(failureThreshold: 1, openDuration: 10 * second)
        _ = breaker.recordFailure(now: 0, reason: "timeout")
        let (first, transition) = breaker.admit(now: 10 * second)
        #expect(first == .probe)
        #expect(transition == CircuitBreaker.Transition(from: .open, to: .halfOpen, reason: "open period over; one probe admitted"))
        guard case .refused = breaker.admit(now: 10 * second + 1).0 else {
            Issue.record("a second request went while the probe was out")
            return
        }
        #expect(breaker.recordSuccess()?.to == .closed)
        #expect(breaker.admit(now: 10 * second + 2).0 == .allowed)
    }

    @Test("a failed probe opens the breaker for another full period; a released probe lets the next one go")
    func halfOpenProbeFails() {
        var breaker = CircuitBreaker(failureThreshold: 1, openDuration: 10 * second)
        _ = breaker.recordFailure(now: 0, reason: "reset")
        #expect(breaker.admit(now: 10 * second).0 == .probe)
        breaker.releaseProbe()
        #expect(breaker.admit(now: 10 * second + 1).0 == .probe)
        let reopened = breaker.recordFailure(now: 11 * second, reason: "reset")
        #expect(reopened?.from == .halfOpen && reopened?.to == .open)
        #expect(breaker.admit(now: 20 * second).0 == .refused(until: 21 * second))
    }

    @Test("a 429's Retry-After opens the breaker at once, for at least that long")
    func retryAfterOpens() {
        var breaker = CircuitBreaker(failureThreshold: 5, openDuration: 2 * second)
        let opened = breaker.recordFailure(now: 0, retryAfter: 7 * second, reason: "HTTP 429")
        #expect(opened?.to == .open)
        #expect(breaker.admit(now: 6 * second).0 == .refused(until: 7 * second))
        #expect(breaker.admit(now: 7 * second).0 == .probe)
        #expect(CircuitBreaker.State.halfOpen.gaugeValue == 2)
    }

    private func status(_ name: String, input: Double, output: Double, inFlight: Int = 0, capacity: Int = 4,
                        available: Bool = true, ttft: Double? = nil, weight: Double = 1) -> DeploymentStatus {
        DeploymentStatus(
            deployment: Deployment(name: name, model: "m", engine: .openai, priceInputPer1M: input,
                                   priceOutputPer1M: output, weight: weight),
            available: available, inFlight: inFlight, capacity: capacity, averageFirstToken: ttft)
    }

    @Test("cost picks the cheapest for this request's tokens, skips unavailable ones, puts full ones last")
    func costStrategy() {
        let cheapInput = status("a", input: 0.1, output: 10)
        let cheapOutput = status("b", input: 10, output: 0.1)
        // A long prompt and a short answer: input price dominates.
        #expect(DeploymentChooser.order([cheapInput, cheapOutput], strategy: .cost, promptTokens: 2000, maxTokens: 10,
                                        random: 0) == [0, 1])
        // A short prompt and a long answer: output price dominates.
        #expect(DeploymentChooser.order([cheapInput, cheapOutput], strategy: .cost, promptTokens: 10, maxTokens: 2000,
                                        random: 0) == [1, 0])
        let broken = status("c", input: 0, output: 0, available: false)
        let busy = status("d", input: 0, output: 0, inFlight: 4, capacity: 4)
        #expect(DeploymentChooser.order([broken, busy, cheapInput], strategy: .cost, promptTokens: 1, maxTokens: 1,
                                        random: 0) == [2, 1])
        // Equal prices: the least busy first.
        let loaded = status("e", input: 1, output: 1, inFlight: 3)
        let idle = status("f", input: 1, output: 1, inFlight: 0)
        #expect(DeploymentChooser.order([loaded, idle], strategy: .cost, promptTokens: 5, maxTokens: 5, random: 0) == [1, 0])
    }

    @Test("least-busy, latency (unmeasured first) and weighted (in proportion to weight)")
    func otherStrategies() {
        let a = status("a", input: 0, output: 0, inFlight: 2, ttft: 0.5)
        let b = status("b", input: 0, output: 0, inFlight: 1, ttft: 0.9)
        let c = status("c", input: 0, output: 0, inFlight: 3, ttft: nil)
        #expect(DeploymentChooser.order([a, b, c], strategy: .leastBusy, promptTokens: 1, maxTokens: 1, random: 0) == [1, 0, 2])
        #expect(DeploymentChooser.order([a, b, c], strategy: .latency, promptTokens: 1, maxTokens: 1, random: 0) == [2, 0, 1])
        let light = status("l", input: 0, output: 0, weight: 1)
        let heavy = status("h", input: 0, output: 0, weight: 3)
        var firsts = [0, 0]
        for step in 0..<100 {
            let order = DeploymentChooser.order([light, heavy], strategy: .weighted, promptTokens: 1, maxTokens: 1,
                                                random: Double(step) / 100)
            firsts[order[0]] += 1
            #expect(Set(order) == [0, 1])
        }
        #expect(firsts == [25, 75])
    }

    @Test("backoff doubles from the base with jitter, is capped, and never outlasts the deadline")
    func backoff() {
        let backoff = RetryBackoff(base: 100, cap: 1000)
        #expect(backoff.pause(before: 1, remaining: 10_000, random: 0) == 50)
        #expect(backoff.pause(before: 1, remaining: 10_000, random: 1) == 100)
        #expect(backoff.pause(before: 3, remaining: 10_000, random: 1) == 400)
        #expect(backoff.pause(before: 10, remaining: 10_000, random: 1) == 1000)
        #expect(backoff.pause(before: 60, remaining: 10_000, random: 0.5) == 750)
        #expect(backoff.pause(before: 2, remaining: 150, random: 1) == nil)
    }

    @Test("per-minute caps: requests and tokens (settled plus reserved) count in the window; the next window starts afresh")
    func minuteUsage() {
        let minute = MinuteUsage.window
        var usage = MinuteUsage(requestsPerMinute: 2, tokensPerMinute: 100)
        #expect(usage.cappedUntil(now: 10) == nil)
        usage.claim(now: 10, estimate: 30)
        usage.claim(now: 20, estimate: 30)
        #expect(usage.cappedUntil(now: 30) == minute, "two requests fill an rpm of 2 until the minute ends")
        usage.settle(now: 40, estimate: 30, used: 70)
        usage.settle(now: 50, estimate: 30, used: 20)
        // The next window: no requests yet, and the tokens settled before do not count.
        #expect(usage.cappedUntil(now: minute + 1) == nil)
        usage.claim(now: minute + 2, estimate: 60)
        #expect(usage.cappedUntil(now: minute + 3) == nil)
        usage.settle(now: minute + 4, estimate: 60, used: 40)
        usage.claim(now: minute + 5, estimate: 0)
        #expect(usage.cappedUntil(now: minute + 6) == 2 * minute, "two requests again")
        var tokens = MinuteUsage(requestsPerMinute: nil, tokensPerMinute: 100)
        tokens.claim(now: 0, estimate: 60)
        tokens.claim(now: 0, estimate: 40)
        #expect(tokens.cappedUntil(now: 1) == minute, "the estimates of requests in flight fill it")
        // A request that began last minute still holds its estimate in this one until it ends.
        tokens.settle(now: minute + 1, estimate: 60, used: 10)
        #expect(tokens.cappedUntil(now: minute + 2) == nil)
        var unlimited = MinuteUsage(requestsPerMinute: nil, tokensPerMinute: nil)
        unlimited.claim(now: 0, estimate: 1_000_000)
        #expect(unlimited.cappedUntil(now: 0) == nil)
    }

    @Test("the context pre-check refuses only when even 256 bytes a token cannot fit; never without a context_length")
    func promptBound() {
        #expect(PromptBound.minimumTokens(bytes: 0) == 0)
        #expect(PromptBound.minimumTokens(bytes: 1) == 1)
        #expect(PromptBound.minimumTokens(bytes: 256) == 1)
        #expect(PromptBound.minimumTokens(bytes: 257) == 2)
        #expect(!PromptBound.exceeds(bytes: 1_000_000, contextLength: nil))
        // 2 048 tokens of context: up to 2 047 × 256 bytes may still fit (one token left to generate).
        #expect(!PromptBound.exceeds(bytes: 2047 * 256, contextLength: 2048))
        #expect(PromptBound.exceeds(bytes: 2047 * 256 + 1, contextLength: 2048))
    }

    @Test("capped deployments are left out like open ones")
    func cappedLeftOut() {
        var capped = status("a", input: 0, output: 0)
        capped.cappedUntil = 60
        let open = status("b", input: 1, output: 1)
        #expect(DeploymentChooser.order([capped, open], strategy: .cost, promptTokens: 1, maxTokens: 1, random: 0) == [1])
    }

    @Test("the moving average starts at the first sample and follows later ones")
    func movingAverage() {
        var average = MovingAverage(alpha: 0.5)
        #expect(average.value == nil)
        average.add(1.0)
        average.add(3.0)
        #expect(average.value == 2.0)
        average.add(.nan)
        #expect(average.value == 2.0)
    }
}
