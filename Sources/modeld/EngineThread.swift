import Dispatch
import Foundation
import Synchronization

/// The dedicated thread an engine loop runs on, and the hand-over to it: handlers ``submit(_:)`` jobs from
/// any task; the loop ``take()``s them between steps and ``idle()``s when it has nothing to do; ``stop()``
/// asks it to end and waits until it has.
///
/// The loop runs on its own `Thread`, not in Swift's concurrency pool: a step keeps a core busy for
/// milliseconds to seconds, and the pool's few threads must stay free for the sockets and the handlers.
final class EngineThread<Job: Sendable>: Sendable {
    private struct Inbox {
        var jobs: [Job] = []
        var stopping = false
    }

    /// The thread's name, as `top -H` shows it.
    let name: String
    /// Beaten by ``take()`` and ``idle()``: the watchdog's evidence that the loop turns.
    let heartbeat = EngineHeartbeat()
    /// How long an idle loop sleeps between heartbeats when nothing wakes it.
    let idleTick: Duration = .milliseconds(500)
    private let inbox = Mutex(Inbox())
    private let wakeSignal = DispatchSemaphore(value: 0)
    private let exited = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// A hand-over with no thread yet; ``start(_:)`` starts it.
    /// - Parameter name: The thread's name.
    init(name: String) {
        self.name = name
    }

    /// Starts the thread running `loop`, which returns once ``take()`` says the engine is stopping.
    /// - Parameter loop: The engine's loop.
    func start(_ loop: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            loop()
            let waiters = exited.withLock { state in
                state.done = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = name
        // Deep enough for the forward pass's frames; the large buffers are on the heap.
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Hands a job to the loop and wakes it.
    /// - Returns: false when the engine is stopping (the job was not taken).
    func submit(_ job: Job) -> Bool {
        let taken = inbox.withLock { inbox -> Bool in
            guard !inbox.stopping else { return false }
            inbox.jobs.append(job)
            return true
        }
        if taken { wake() }
        return taken
    }

    /// Makes an idle loop look at its jobs now (one was cancelled).
    func wake() {
        wakeSignal.signal()
    }

    /// Tells the loop to stop at its next ``take()``, and returns once it has returned.
    func stop() async {
        inbox.withLock { $0.stopping = true }
        wake()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = exited.withLock { state -> Bool in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
    }

    /// The loop's side, once per turn: beats the heartbeat and takes the jobs handed over since the last turn.
    /// - Returns: The new jobs, and whether the engine is stopping (the loop should end them and return).
    func take() -> (jobs: [Job], stopping: Bool) {
        heartbeat.beat()
        return inbox.withLock { inbox in
            defer { inbox.jobs = [] }
            return (inbox.jobs, inbox.stopping)
        }
    }

    /// The loop's side, with nothing to do: sleeps until a job, a cancel or a stop wakes it, or ``idleTick``.
    func idle() {
        _ = wakeSignal.wait(timeout: .after(idleTick))
    }
}
