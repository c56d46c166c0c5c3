import Testing
import TestKit

@testable import Upstream

@Suite("ConcurrencyLimiter: FIFO slots, cancellation, deadlines")
struct ConcurrencyLimiterTests {
    private var farFuture: ContinuousClock.Instant { .now + .seconds(60) }

    @Test("waiters get slots in the order they asked")
    func fifo() async throws {
        let limiter = ConcurrencyLimiter(limit: 1)
        try await limiter.acquire(deadline: farFuture)
        let order = Recorder<Int>()
        var tasks: [Task<Void, any Error>] = []
        for index in 0..<4 {
            let deadline = farFuture
            tasks.append(Task {
                try await limiter.acquire(deadline: deadline)
                order.append(index)
                limiter.release()
            })
            // Each waiter queues before the next starts.
            while limiter.load.waiting < index + 1 { try await Task.sleep(for: .milliseconds(5)) }
        }
        limiter.release()
        for task in tasks { try await task.value }
        #expect(order.all == [0, 1, 2, 3])
        #expect(limiter.load.inFlight == 0)
    }

    @Test("a cancelled waiter leaves the queue with .cancelled, and its place is not lost")
    func cancellation() async throws {
        let limiter = ConcurrencyLimiter(limit: 1)
        try await limiter.acquire(deadline: farFuture)
        let deadline = farFuture
        let waiter = Task { try await limiter.acquire(deadline: deadline) }
        while limiter.load.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
        waiter.cancel()
        await #expect(throws: ConcurrencyLimiter.WaitFailure.cancelled) { try await waiter.value }
        #expect(limiter.load.waiting == 0)
        limiter.release()
        try await limiter.acquire(deadline: farFuture)  // the slot came back
        limiter.release()
    }

    @Test("a waiter whose deadline passes gets .timedOut")
    func deadline() async throws {
        let limiter = ConcurrencyLimiter(limit: 1)
        try await limiter.acquire(deadline: farFuture)
        await #expect(throws: ConcurrencyLimiter.WaitFailure.timedOut) {
            try await limiter.acquire(deadline: .now + .milliseconds(200))
        }
        #expect(limiter.load.waiting == 0)
        limiter.release()
        #expect(limiter.load.inFlight == 0)
    }
}
