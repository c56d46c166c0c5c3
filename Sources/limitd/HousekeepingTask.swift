import Synchronization

/// A task that runs a piece of work at a fixed interval until stopped: limitd's lease expiry and snapshots.
final class HousekeepingTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts running `work` every `interval` (the first run after one interval).
    func start(every interval: Duration, _ work: @escaping @Sendable () async -> Void) {
        let started = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await work()
            }
        }
        task.withLock { $0 = started }
    }

    /// Stops, and waits for a run in progress to end.
    func stop() async {
        let running = task.withLock { task in
            defer { task = nil }
            return task
        }
        running?.cancel()
        await running?.value
    }
}
