import IPC
import Synchronization
import Testing
import TestKit

@testable import batchd
import Metrics

/// The scheduler alone: when batches form, in what order, and what is refused.
@Suite("BatchScheduler") struct BatchSchedulerTests {
    static let far = ContinuousClock.now + .seconds(3600)

    func makeScheduler(
        maxBatch: Int, flush: Duration, queueMax: Int = 100, maxInFlight: Int? = nil
    ) -> (BatchScheduler, MetricsRegistry) {
        let registry = MetricsRegistry()
        let scheduler = BatchScheduler(
            models: ["m"],
            configuration: .init(maxBatch: maxBatch, flushTimeout: flush, queueMax: queueMax, maxInFlight: maxInFlight),
            metrics: BatchMetrics(registry: registry, models: ["m"]))
        return (scheduler, registry)
    }

    /// Starts `n` admissions at once; returns their tasks.
    func admitting(_ scheduler: BatchScheduler, _ n: Int, priority: UInt8 = 0) -> [Task<BatchScheduler.Ticket, any Error>] {
        (0..<n).map { _ in Task { try await scheduler.admit(model: "m", priority: priority, deadline: Self.far) } }
    }

    /// Admits `maxBatch` requests one after the other, each going at once: the model is then busy, so
    /// later requests are batched.
    func occupying(_ scheduler: BatchScheduler, _ maxBatch: Int) async throws -> [BatchScheduler.Ticket] {
        var tickets: [BatchScheduler.Ticket] = []
        for _ in 0..<maxBatch {
            tickets.append(try await withTimeout(.seconds(5), "a request while the model has room") {
                try await scheduler.admit(model: "m", priority: 0, deadline: Self.far)
            })
        }
        return tickets
    }

    @Test func dispatchesAtOnceWhileTheModelHasRoom() async throws {
        let (scheduler, registry) = makeScheduler(maxBatch: 4, flush: .seconds(30))
        let tickets = try await occupying(scheduler, 4)
        #expect(tickets.map(\.batchSize) == [1, 1, 1, 1])
        #expect(scheduler.load(of: "m") == (0, 4))
        #expect(observations(in: registry, "infer_batchd_batch_size", above: 2) == 0)
        // The model now runs maxBatch requests: the next one waits for a batch (30 s here).
        let next = admitting(scheduler, 1)
        #expect(await eventually { scheduler.load(of: "m") == (1, 4) })
        // A finished one makes room again, and the waiting request goes.
        scheduler.finish(tickets[0])
        #expect(try await withTimeout(.seconds(5), "after finish") { try await next[0].value }.batchSize == 1)
    }

    @Test func flushesAFullBatchWithoutWaitingForTheTimeout() async throws {
        let (scheduler, registry) = makeScheduler(maxBatch: 4, flush: .seconds(30))
        _ = try await occupying(scheduler, 4)
        let started = ContinuousClock.now
        let tickets = try await withTimeout(.seconds(5), "full batch") {
            try await withThrowingTaskGroup(of: BatchScheduler.Ticket.self) { group in
                for task in admitting(scheduler, 4) { group.addTask { try await task.value } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(tickets.map(\.batchSize) == [4, 4, 4, 4])
        #expect(scheduler.load(of: "m") == (0, 8))
        #expect(observations(in: registry, "infer_batchd_batch_size", above: 2) == 1)
        #expect(registry.value("infer_batchd_inflight", [MetricLabel("model", "m")]) == 8)
    }

    @Test func flushesAPartialBatchWhenTheOldestHasWaitedTheTimeout() async throws {
        let (scheduler, _) = makeScheduler(maxBatch: 8, flush: .milliseconds(150))
        _ = try await occupying(scheduler, 8)
        let started = ContinuousClock.now
        let tasks = admitting(scheduler, 3)
        #expect(await eventually { scheduler.load(of: "m").queued + scheduler.load(of: "m").inFlight == 11 })
        if ContinuousClock.now - started < .milliseconds(100) {
            #expect(scheduler.load(of: "m") == (3, 8), "nothing dispatched before the timeout")
        }
        var tickets: [BatchScheduler.Ticket] = []
        for task in tasks { tickets.append(try await task.value) }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(140))
        #expect(tickets.allSatisfy { $0.batchSize == 3 })
        #expect(tickets.allSatisfy { $0.queueWait >= .milliseconds(100) })
    }

    @Test func zeroTimeoutDispatchesAtOnce() async throws {
        let (scheduler, _) = makeScheduler(maxBatch: 8, flush: .zero)
        let ticket = try await withTimeout(.seconds(2)) {
            try await scheduler.admit(model: "m", priority: 0, deadline: Self.far)
        }
        #expect(ticket.batchSize == 1)
    }

    @Test func capacityBoundsWhatIsDispatched() async throws {
        // maxInFlight defaults to 2 × maxBatch = 4.
        let (scheduler, _) = makeScheduler(maxBatch: 2, flush: .zero)
        let tasks = admitting(scheduler, 10)
        #expect(await eventually { scheduler.load(of: "m") == (6, 4) })
        // Finishing one lets exactly one more go.
        let first = try await tasks[0].value
        scheduler.finish(first)
        #expect(await eventually { scheduler.load(of: "m") == (5, 4) })
        for task in tasks { task.cancel() }
        #expect(await eventually { scheduler.load(of: "m").queued == 0 })
    }

    @Test func higherPriorityIsDispatchedFirst() async throws {
        let (scheduler, _) = makeScheduler(maxBatch: 1, flush: .zero, maxInFlight: 1)
        let order = Recorder<String>()
        let holder = try await scheduler.admit(model: "m", priority: 0, deadline: Self.far)
        func enqueue(_ name: String, _ priority: UInt8) -> Task<BatchScheduler.Ticket, any Error> {
            Task {
                let ticket = try await scheduler.admit(model: "m", priority: priority, deadline: Self.far)
                order.append(name)
                return ticket
            }
        }
        var tasks: [Task<BatchScheduler.Ticket, any Error>] = []
        for (i, (name, priority)) in [("low1", UInt8(0)), ("low2", 0), ("high", 7), ("mid", 3)].enumerated() {
            tasks.append(enqueue(name, priority))
            #expect(await eventually { scheduler.load(of: "m").queued == i + 1 })
        }
        scheduler.finish(holder)
        for _ in 0..<4 {
            let before = order.count
            #expect(await eventually { order.count == before + 1 })
            let name = order.all.last
            let task = tasks[["low1", "low2", "high", "mid"].firstIndex(of: name ?? "") ?? 0]
            scheduler.finish(try await task.value)
        }
        #expect(order.all == ["high", "mid", "low1", "low2"])
    }

    @Test func refusesAtOnceWhenTheQueueIsFull() async throws {
        let (scheduler, _) = makeScheduler(maxBatch: 1, flush: .zero, queueMax: 2, maxInFlight: 1)
        _ = try await scheduler.admit(model: "m", priority: 0, deadline: Self.far)
        let waiting = admitting(scheduler, 2)
        #expect(await eventually { scheduler.load(of: "m").queued == 2 })
        await #expect(throws: BatchScheduler.AdmissionError.queueFull(model: "m", depth: 2)) {
            _ = try await scheduler.admit(model: "m", priority: 255, deadline: Self.far)
        }
        for task in waiting { task.cancel() }
    }

    @Test func cancellingAQueuedRequestRemovesIt() async throws {
        let (scheduler, registry) = makeScheduler(maxBatch: 1, flush: .zero, maxInFlight: 1)
        let holder = try await scheduler.admit(model: "m", priority: 0, deadline: Self.far)
        let queued = admitting(scheduler, 1)[0]
        #expect(await eventually { scheduler.load(of: "m").queued == 1 })
        queued.cancel()
        await #expect(throws: CancellationError.self) { _ = try await queued.value }
        #expect(scheduler.load(of: "m") == (0, 1))
        #expect(registry.value("infer_batchd_queue_depth", [MetricLabel("model", "m")]) == 0)
        scheduler.finish(holder)
        #expect(scheduler.load(of: "m") == (0, 0))
    }

    @Test func dropsARequestWhoseDeadlinePassesInTheQueue() async throws {
        let (scheduler, _) = makeScheduler(maxBatch: 1, flush: .zero, maxInFlight: 1)
        _ = try await scheduler.admit(model: "m", priority: 0, deadline: Self.far)
        let started = ContinuousClock.now
        await #expect(throws: BatchScheduler.AdmissionError.expired(model: "m")) {
            _ = try await withTimeout(.seconds(5)) {
                try await scheduler.admit(model: "m", priority: 0, deadline: .now + .milliseconds(80))
            }
        }
        #expect(ContinuousClock.now - started >= .milliseconds(70))
        #expect(scheduler.load(of: "m").queued == 0)
    }

    @Test func refusesAnUnknownModel() async {
        let (scheduler, _) = makeScheduler(maxBatch: 1, flush: .zero)
        await #expect(throws: BatchScheduler.AdmissionError.unknownModel("gpt-9")) {
            _ = try await scheduler.admit(model: "gpt-9", priority: 0, deadline: Self.far)
        }
    }
}
