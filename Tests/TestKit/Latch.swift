import Synchronization

/// A one-shot signal between threads and tasks: a server's handler signals, the test waits (or asks).
public final class Latch: Sendable {
    private struct State {
        var signaled = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    /// A latch not signalled yet.
    public init() {}

    /// Signals: every waiter, present and future, is let through.
    public func signal() {
        let waiters = state.withLock { state in
            state.signaled = true
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Whether ``signal()`` has been called.
    public var isSignaled: Bool { state.withLock { $0.signaled } }

    /// Waits for the signal; a waiting task that is cancelled stops waiting.
    /// - Returns: True once signalled; false when `limit` passes (or the task is cancelled) first.
    public func wait(_ limit: Duration = .seconds(5)) async -> Bool {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLock { state -> Bool in
                        if state.signaled { return true }
                        state.waiters[id] = continuation
                        return false
                    }
                    if now { continuation.resume(returning: true) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
                waiter?.resume(returning: false)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
