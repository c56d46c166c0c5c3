/// An engine whose loop runs on an ``EngineThread``: starting it, handing it jobs, waking and stopping it
/// and its heartbeat are the thread's, the same for every engine; the loop itself is the engine's.
protocol EngineLoop: Sendable {
    associatedtype Job: Sendable

    /// The engine's thread and its hand-over.
    var thread: EngineThread<Job> { get }

    /// The loop, on the engine thread: turns until `thread.take()` says the engine is stopping, ends
    /// every job still held, and returns.
    func run()
}

extension EngineLoop {
    /// Starts the engine thread.
    func start() {
        thread.start { run() }
    }

    /// Hands a job to the loop.
    /// - Returns: false when the engine is stopping (the job was not taken).
    func submit(_ job: Job) -> Bool {
        thread.submit(job)
    }

    /// Makes an idle loop look at its jobs now (one was cancelled).
    func wake() {
        thread.wake()
    }

    /// Stops the loop (jobs still held end with ERROR `interrupted`); returns once the thread has exited.
    func stop() async {
        await thread.stop()
    }

    /// When the loop last turned.
    var heartbeat: EngineHeartbeat { thread.heartbeat }
}
