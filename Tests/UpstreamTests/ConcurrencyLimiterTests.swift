import Foundation
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

    @Test("a slot released while a waiter is between asking and queueing goes to that waiter")
    func releaseRacingAQueueingWaiter() async throws {
        // The holder releases on another thread just as the next caller asks (as a transfer's end gives
        // its slot back while its caller already sends the next request). A release that fell between the
        // caller's first look and its queueing was banked as a free slot while the caller slept on until
        // its deadline: each round here would then take the whole 2 s deadline and throw .timedOut.
        let limiter = ConcurrencyLimiter(limit: 1)
        for _ in 0..<3000 {
            try await limiter.acquire(deadline: .now + .seconds(2))
            Thread.detachNewThread { limiter.release() }
            try await limiter.acquire(deadline: .now + .seconds(2))
            limiter.release()
        }
        #expect(limiter.load.inFlight == 0)
        #expect(limiter.load.waiting == 0)
    }
}
