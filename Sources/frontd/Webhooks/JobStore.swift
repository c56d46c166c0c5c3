import Synchronization

/// The asynchronous jobs frontd knows, bounded twice: at most `capacity` kept (the oldest finished job
/// is forgotten to make room; when none has finished, new jobs are refused), and at most `maxRunning`
/// running (the others wait, first come first served).
final class JobStore: Sendable {
    private struct State {
        var jobs: [String: Job] = [:]
        /// Queued job ids in arrival order, from `head` on.
        var waiting: [String] = []
        var head = 0
        /// Finished job ids in the order they finished, from `finishedHead` on (oldest first).
        var finishedOrder: [String] = []
        var finishedHead = 0
        var running = 0
    }

    private let state = Mutex(State())
    /// Most jobs kept, in any state.
    let capacity: Int
    /// Most jobs running at once.
    let maxRunning: Int

    init(capacity: Int, maxRunning: Int) {
        self.capacity = capacity
        self.maxRunning = maxRunning
    }

    /// Adds a new (queued) job, forgetting the oldest finished one if the store is full. It does not run
    /// until `enqueue` is called: the caller first makes the event that created it durable.
    /// - Returns: false when the store is full of unfinished jobs.
    func add(_ job: Job) -> Bool {
        state.withLock { s in
            guard Self.makeRoom(&s, capacity: capacity) else { return false }
            s.jobs[job.id] = job
            return true
        }
    }

    /// Adds a job that finished before a restart (from the journal), forgetting the oldest finished one
    /// if the store is full.
    func restore(_ job: Job) {
        state.withLock { s in
            guard job.finished != nil else { return }
            if s.jobs[job.id] != nil {
                s.jobs[job.id] = job
                return
            }
            guard Self.makeRoom(&s, capacity: capacity) else { return }
            s.jobs[job.id] = job
            s.finishedOrder.append(job.id)
        }
    }

    /// Lets an added job run, after those already waiting.
    func enqueue(_ id: String) {
        state.withLock { s in
            guard s.jobs[id]?.status == .queued else { return }
            s.waiting.append(id)
        }
    }

    /// Forgets an added job whose event was not accepted after all.
    func remove(_ id: String) {
        state.withLock { s in
            guard let job = s.jobs[id], job.status == .queued else { return }
            s.jobs[id] = nil
            // A waiting id without a job is skipped by `startNext`.
        }
    }

    /// The next waiting job, now marked running, when fewer than `maxRunning` run.
    func startNext() -> Job? {
        state.withLock { s in
            guard s.running < maxRunning else { return nil }
            while s.head < s.waiting.count {
                let id = s.waiting[s.head]
                s.head += 1
                if s.head > 1024, s.head * 2 > s.waiting.count {
                    s.waiting.removeFirst(s.head)
                    s.head = 0
                }
                guard var job = s.jobs[id], job.status == .queued else { continue }
                job.status = .running
                s.jobs[id] = job
                s.running += 1
                return job
            }
            return nil
        }
    }

    /// Records how a running job ended.
    func finish(_ id: String, _ outcome: JobOutcome, at time: Int) {
        state.withLock { s in
            guard var job = s.jobs[id], job.status == .running else { return }
            job.status = outcome.status
            job.outcome = outcome
            job.finished = time
            s.jobs[id] = job
            s.running -= 1
            s.finishedOrder.append(id)
        }
    }

    /// A job by id.
    func job(_ id: String) -> Job? {
        state.withLock { $0.jobs[id] }
    }

    /// How many jobs are kept, and how many of them run.
    var counts: (kept: Int, running: Int) {
        state.withLock { ($0.jobs.count, $0.running) }
    }

    /// Forgets the oldest finished job while the store is full. Returns whether there is room.
    private static func makeRoom(_ s: inout State, capacity: Int) -> Bool {
        while s.jobs.count >= capacity {
            guard s.finishedHead < s.finishedOrder.count else { return false }
            let oldest = s.finishedOrder[s.finishedHead]
            s.finishedHead += 1
            if s.finishedHead > 1024, s.finishedHead * 2 > s.finishedOrder.count {
                s.finishedOrder.removeFirst(s.finishedHead)
                s.finishedHead = 0
            }
            s.jobs[oldest] = nil
        }
        return true
    }
}
