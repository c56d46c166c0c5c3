import Synchronization

/// Per-model queues and the decision of when to hand requests to a model, and how many.
///
/// A request calls ``admit(model:priority:deadline:)`` and waits there until it is dispatched. A model's
/// queue is dispatched at once while fewer than `maxBatch` of its requests run; beyond that as a batch when
/// `maxBatch` requests wait, or when the oldest has waited `flushTimeout`; and only while the model has
/// capacity: at most `maxInFlight` requests dispatched and not yet ``finish(_:)``ed. That bound keeps modeld's continuous batch full while the backlog, and its
/// backpressure (``AdmissionError/queueFull``), stays here.
///
/// The scheduler knows nothing of sockets: the service forwards what it admits, and tests drive it directly.
final class BatchScheduler: Sendable {
    /// The scheduling settings.
    struct Configuration: Sendable {
        /// Requests that make a batch at once (`BATCH_MAX_SIZE`).
        var maxBatch: Int
        /// How long the oldest request waits for a batch to fill (`BATCH_FLUSH_TIMEOUT_MS`) once `maxBatch`
        /// of the model's requests run; below that a request goes at once.
        var flushTimeout: Duration
        /// Requests a model's queue holds before refusing (`BATCH_QUEUE_MAX`).
        var queueMax: Int
        /// Requests dispatched to a model at once; `maxBatch × 2` by default.
        var maxInFlight: Int

        init(maxBatch: Int, flushTimeout: Duration, queueMax: Int, maxInFlight: Int? = nil) {
            self.maxBatch = max(1, maxBatch)
            self.flushTimeout = flushTimeout
            self.queueMax = max(1, queueMax)
            self.maxInFlight = max(1, maxInFlight ?? self.maxBatch * 2)
        }
    }

    /// Why a request was not dispatched.
    enum AdmissionError: Error, Equatable, CustomStringConvertible {
        /// No queue for this model.
        case unknownModel(String)
        /// The model's queue holds `queueMax` requests.
        case queueFull(model: String, depth: Int)
        /// The deadline passed while the request was queued.
        case expired(model: String)

        var description: String {
            switch self {
            case .unknownModel(let model): "model \(model) is not served"
            case .queueFull(let model, let depth): "the queue of model \(model) is full (\(depth) requests waiting)"
            case .expired(let model): "the deadline passed while the request waited in the queue of model \(model)"
            }
        }
    }

    /// A dispatched request: hand it back to ``finish(_:)`` when its model has answered.
    struct Ticket: Sendable, Equatable {
        let model: String
        let id: UInt64
        /// How long it waited in the queue.
        let queueWait: Duration
        /// Requests in the batch it was dispatched with.
        let batchSize: Int
    }

    private struct Waiter {
        let id: UInt64
        let enqueued: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Ticket, any Error>
    }

    private struct ModelQueue {
        var queue: BatchQueue<Waiter>
        var inFlight = 0
        /// When the armed timer fires, if one is armed.
        var timer: ContinuousClock.Instant?
    }

    private struct State {
        var models: [String: ModelQueue]
        var nextID: UInt64 = 1
    }

    let configuration: Configuration
    let metrics: BatchMetrics
    private let state: Mutex<State>

    /// Creates the queues.
    /// - Parameters:
    ///   - models: The models requests may name.
    ///   - configuration: Batch size, flush timeout, queue bound, capacity.
    ///   - metrics: Where queue depth, in-flight, batch sizes and waits go.
    init(models: [String], configuration: Configuration, metrics: BatchMetrics) {
        self.configuration = configuration
        self.metrics = metrics
        var queues: [String: ModelQueue] = [:]
        for model in models {
            queues[model] = ModelQueue(queue: BatchQueue(capacity: configuration.queueMax))
        }
        state = Mutex(State(models: queues))
    }

    /// The models requests may name.
    var models: [String] { state.withLock { Array($0.models.keys).sorted() } }

    /// Queues a request and waits until it is dispatched.
    /// - Parameters:
    ///   - model: The model it is for.
    ///   - priority: Higher goes first.
    ///   - deadline: When it stops being worth running; it is dropped from the queue then.
    /// - Returns: The ticket to ``finish(_:)`` when the request is done.
    /// - Throws: ``AdmissionError`` (unknown model, queue full at once, deadline passed while queued), or
    ///   `CancellationError` when the task is cancelled while queued (the request leaves the queue).
    func admit(model: String, priority: UInt8, deadline: ContinuousClock.Instant) async throws -> Ticket {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Ticket, any Error>) in
                let refusal = state.withLock { state -> AdmissionError? in
                    guard var entry = state.models[model] else { return .unknownModel(model) }
                    let waiter = Waiter(id: id, enqueued: .now, deadline: deadline, continuation: continuation)
                    guard entry.queue.push(waiter, priority: priority) else {
                        return .queueFull(model: model, depth: entry.queue.count)
                    }
                    state.models[model] = entry
                    return nil
                }
                if let refusal {
                    continuation.resume(throwing: refusal)
                    return
                }
                // Cancelled before the waiter was queued: the handler below found nothing to remove.
                if Task.isCancelled {
                    cancel(model: model, id: id)
                    return
                }
                evaluate(model)
            }
        } onCancel: {
            cancel(model: model, id: id)
        }
    }

    /// Marks a dispatched request done, freeing its model's capacity for the queue.
    func finish(_ ticket: Ticket) {
        state.withLock { state in
            state.models[ticket.model]?.inFlight -= 1
        }
        evaluate(ticket.model)
    }

    /// Requests queued and in flight for a model (tests, status).
    func load(of model: String) -> (queued: Int, inFlight: Int) {
        state.withLock { state in
            guard let entry = state.models[model] else { return (0, 0) }
            return (entry.queue.count, entry.inFlight)
        }
    }

    /// Requests queued and in flight over every model.
    var totalLoad: (queued: Int, inFlight: Int) {
        state.withLock { state in
            state.models.values.reduce((0, 0)) { ($0.0 + $1.queue.count, $0.1 + $1.inFlight) }
        }
    }

    // MARK: Dispatching

    /// Removes a queued request and ends its wait with `CancellationError`.
    private func cancel(model: String, id: UInt64) {
        let removed = state.withLock { state -> (Waiter, Int, Int)? in
            guard var entry = state.models[model], let waiter = entry.queue.remove(where: { $0.id == id }) else {
                return nil
            }
            state.models[model] = entry
            return (waiter, entry.queue.count, entry.inFlight)
        }
        guard let (waiter, queued, inFlight) = removed else { return }
        metrics.depth(model, queued: queued, inFlight: inFlight)
        waiter.continuation.resume(throwing: CancellationError())
    }

    /// What `evaluate` decided, carried out outside the lock.
    private struct Decision {
        var dispatched: [[Waiter]] = []
        var expired: [Waiter] = []
        var armTimer: ContinuousClock.Instant?
        var queued = 0
        var inFlight = 0
    }

    /// Whether a queue that may not go at once (its model already runs `maxBatch` requests) is due: a full
    /// batch waits, or the oldest has waited `flushTimeout`.
    private func flushDue(_ queue: BatchQueue<Waiter>, at now: ContinuousClock.Instant) -> Bool {
        if queue.count >= configuration.maxBatch { return true }
        let oldest = queue.elements.map(\.enqueued).min() ?? now
        return oldest.duration(to: now) >= configuration.flushTimeout
    }

    /// Dispatches what is due for a model, drops what expired, and arms a timer for the next flush.
    ///
    /// While fewer than `maxBatch` of the model's requests run, what waits goes at once: modeld batches
    /// continuously (a request joins the running batch at its next step), so holding it back to fill a
    /// batch would only add latency. Beyond that, up to `maxInFlight`, the queue goes as a batch when full
    /// or when its oldest has waited `flushTimeout`, so a busy model is handed its next batch in one piece.
    /// At `maxInFlight` nothing goes until ``finish(_:)``.
    private func evaluate(_ model: String) {
        let now = ContinuousClock.now
        let configuration = configuration
        let decision = state.withLock { state -> Decision in
            var decision = Decision()
            guard var entry = state.models[model] else { return decision }
            decision.expired = entry.queue.removeAll { $0.deadline <= now }
            while !entry.queue.isEmpty, entry.inFlight < configuration.maxInFlight {
                guard entry.inFlight < configuration.maxBatch || flushDue(entry.queue, at: now) else { break }
                let size = min(entry.queue.count, configuration.maxBatch, configuration.maxInFlight - entry.inFlight)
                decision.dispatched.append(entry.queue.popFirst(size))
                entry.inFlight += size
            }
            // Wake up for the next flush, or the next deadline, of what still waits.
            if !entry.queue.isEmpty {
                let waiters = entry.queue.elements
                var due = waiters.map(\.deadline).min() ?? now
                if entry.inFlight < configuration.maxInFlight, let oldest = waiters.map(\.enqueued).min() {
                    due = min(due, oldest + configuration.flushTimeout)
                }
                if entry.timer.map({ $0 > due }) ?? true {
                    entry.timer = due
                    decision.armTimer = due
                }
            }
            decision.queued = entry.queue.count
            decision.inFlight = entry.inFlight
            state.models[model] = entry
            return decision
        }
        metrics.depth(model, queued: decision.queued, inFlight: decision.inFlight)
        for waiter in decision.expired {
            waiter.continuation.resume(throwing: AdmissionError.expired(model: model))
        }
        for batch in decision.dispatched {
            metrics.batch(model, size: batch.count)
            for waiter in batch {
                let wait = waiter.enqueued.duration(to: now)
                metrics.waited(model, wait)
                waiter.continuation.resume(returning: Ticket(model: model, id: waiter.id, queueWait: wait, batchSize: batch.count))
            }
        }
        if let due = decision.armTimer {
            Task { [self] in
                try? await Task.sleep(until: due, clock: .continuous)
                state.withLock { state in
                    if state.models[model]?.timer == due { state.models[model]?.timer = nil }
                }
                evaluate(model)
            }
        }
    }
}
