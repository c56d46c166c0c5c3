import Synchronization

/// A request's bookkeeping that waits for nothing the client needs (the cache store, the token
/// settlement of a non-streamed answer): queued by the route, run by the router once the reply is
/// written — or once the route failed — and before the request's reservation is closed, in the order
/// queued.
final class AfterReply: Sendable {
    private let work = Mutex<[@Sendable () async -> Void]>([])

    /// Queues `step` to run after the reply.
    func add(_ step: @escaping @Sendable () async -> Void) {
        work.withLock { $0.append(step) }
    }

    /// Runs what was queued (and anything a step queues), each once.
    func run() async {
        while let step = work.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            await step()
        }
    }
}
