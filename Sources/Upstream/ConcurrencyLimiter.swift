import Synchronization

/// A counting semaphore for async callers: at most `limit` holders at once; the rest wait in FIFO
/// order, each until it gets a slot, its task is cancelled, or its deadline passes.
final class ConcurrencyLimiter: Sendable {
    /// Why a wait ended without a slot.
    enum WaitFailure: Error, Sendable, Equatable {
        case cancelled
        case timedOut
    }

    private struct State {
        var available: Int
        var order: [UInt64] = []
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        /// Waits that ended (cancelled or timed out) before their continuation was registered.
        var ended: [UInt64: WaitFailure] = [:]
        /// Waits neither granted nor ended yet.
        var pending: Set<UInt64> = []
        var nextID: UInt64 = 0
        var holders = 0
    }

    private let state: Mutex<State>
    /// The number of slots.
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        state = Mutex(State(available: limit))
    }

    /// Requests in flight and requests waiting for a slot.
    var load: (inFlight: Int, waiting: Int) {
        state.withLock { ($0.holders, $0.waiters.count) }
    }

    /// Waits for a slot; the caller must ``release()`` it exactly once.
    /// - Throws: ``WaitFailure/cancelled`` when the task is cancelled first, ``WaitFailure/timedOut``
    ///   when `deadline` passes first.
    func acquire(deadline: ContinuousClock.Instant) async throws(WaitFailure) {
        if Task.isCancelled { throw .cancelled }
        let id: UInt64? = state.withLock { state in
            if state.available > 0 && state.order.isEmpty {
                state.available -= 1
                state.holders += 1
                return nil
            }
            state.nextID += 1
            state.pending.insert(state.nextID)
            return state.nextID
        }
        guard let id else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            if !Task.isCancelled { self?.end(id, .timedOut) }
        }
        defer { timer.cancel() }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let early: Result<Void, WaitFailure>? = state.withLock { state in
                        if let failure = state.ended.removeValue(forKey: id) {
                            state.pending.remove(id)
                            return .failure(failure)
                        }
                        // A release between the first look and now found nobody queued and kept the
                        // slot free: take it, or this wait would last until the deadline.
                        if state.available > 0 && state.order.isEmpty {
                            state.available -= 1
                            state.holders += 1
                            state.pending.remove(id)
                            return .success(())
                        }
                        state.order.append(id)
                        state.waiters[id] = continuation
                        return nil
                    }
                    if let early { continuation.resume(with: early.mapError { $0 as any Error }) }
                }
            } onCancel: {
                self.end(id, .cancelled)
            }
        } catch let failure as WaitFailure {
            throw failure
        } catch {
            throw .cancelled
        }
    }

    /// Gives a slot back; the longest waiter, if any, gets it.
    func release() {
        let next: CheckedContinuation<Void, any Error>? = state.withLock { state in
            state.holders -= 1
            while !state.order.isEmpty {
                let id = state.order.removeFirst()
                if let waiter = state.waiters.removeValue(forKey: id) {
                    state.pending.remove(id)
                    state.holders += 1
                    return waiter
                }
            }
            state.available += 1
            return nil
        }
        next?.resume()
    }

    /// Ends a wait without a slot (cancelled or timed out); no effect once it has a slot.
    private func end(_ id: UInt64, _ failure: WaitFailure) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            if let waiter = state.waiters.removeValue(forKey: id) {
                state.order.removeAll { $0 == id }
                state.pending.remove(id)
                return waiter
            }
            // Not registered yet: the registration will find this and fail at once. (An id no longer
            // pending was granted; then there is nothing to end.)
            if state.pending.contains(id), state.ended[id] == nil { state.ended[id] = failure }
            return nil
        }
        waiter?.resume(throwing: failure)
    }
}
