import DaemonRuntime
import Dispatch
import Foundation
import IPC
import Services
import Synchronization
import Wire

/// The embedding loop of an embedding model, on one dedicated thread: Embed calls that arrive while a
/// pass runs are merged into the next pass (up to `maxInputs` texts), then each call gets its own vectors.
final class EmbeddingEngine: Sendable {
    /// One accepted Embed call.
    struct Job: Sendable {
        let call: IPCCall
        let requestID: String
        let inputs: [String]
        /// The tokens the model sees for all inputs together (counted when the call was accepted).
        let promptTokens: Int
    }

    private struct Inbox {
        var jobs: [Job] = []
        var stopping = false
    }

    let embedder: any Embedder
    let maxInputs: Int
    let metrics: ModelMetrics
    let logger: Logger
    let heartbeat = EngineHeartbeat()
    private let inbox = Mutex(Inbox())
    private let wakeSignal = DispatchSemaphore(value: 0)
    private let exited = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Creates the engine; ``start()`` starts its thread.
    /// - Parameters:
    ///   - embedder: The model.
    ///   - maxInputs: Most texts in one pass (`MODEL_EMBED_MAX_BATCH`); a call with more runs alone.
    ///   - metrics: The model's metrics.
    ///   - logger: The daemon's logger.
    init(embedder: any Embedder, maxInputs: Int, metrics: ModelMetrics, logger: Logger) {
        self.embedder = embedder
        self.maxInputs = max(1, maxInputs)
        self.metrics = metrics
        self.logger = logger
    }

    /// Starts the engine thread.
    func start() {
        let thread = Thread { [self] in
            run()
            let waiters = exited.withLock { state in
                state.done = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = "modeld-embed"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues an Embed call for the next pass.
    /// - Returns: false when the engine is stopping (the call was not taken).
    @discardableResult
    func submit(_ job: Job) -> Bool {
        let taken = inbox.withLock { inbox -> Bool in
            guard !inbox.stopping else { return false }
            inbox.jobs.append(job)
            return true
        }
        if taken { wakeSignal.signal() }
        return taken
    }

    /// Stops the loop after the pass under way; calls still queued end with an ERROR `interrupted`.
    func stop() async {
        inbox.withLock { $0.stopping = true }
        wakeSignal.signal()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = exited.withLock { state -> Bool in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
    }

    // MARK: The loop (engine thread only)

    private func run() {
        var queued: [Job] = []
        while true {
            heartbeat.beat()
            let (jobs, stopping) = inbox.withLock { inbox in
                defer { inbox.jobs = [] }
                return (inbox.jobs, inbox.stopping)
            }
            queued += jobs
            if stopping {
                for job in queued where job.call.fail(
                    code: IPCErrorCode.interrupted, message: "modeld stopped before the embedding ran") {
                    metrics.request(.failed)
                }
                return
            }
            queued.removeAll { job in
                guard job.call.isFinished else { return false }
                metrics.request(.cancelled)
                return true
            }
            metrics.sequences(active: 0, waiting: queued.reduce(0) { $0 + $1.inputs.count })
            guard !queued.isEmpty else {
                _ = wakeSignal.wait(timeout: .after(GenerationEngine.idleTick))
                continue
            }
            // Whole calls in arrival order while they fit; the first always goes, however large.
            var take = 0
            var inputs = 0
            while take < queued.count, take == 0 || inputs + queued[take].inputs.count <= maxInputs {
                inputs += queued[take].inputs.count
                take += 1
            }
            let batch = Array(queued.prefix(take))
            queued.removeFirst(take)
            pass(batch, inputs: inputs)
        }
    }

    /// Embeds every input of `batch` in one pass and answers each call.
    private func pass(_ batch: [Job], inputs: Int) {
        metrics.sequences(active: inputs, waiting: 0)
        let started = ContinuousClock.now
        let vectors: [[Float]]
        do {
            vectors = try embedder.embed(batch.flatMap(\.inputs))
            guard vectors.count == inputs else {
                throw ModelSourceError("the embedder returned \(vectors.count) vectors for \(inputs) inputs")
            }
        } catch {
            logger.error("embedding pass failed", ["error": .string("\(error)"), "inputs": LogValue(inputs)])
            for job in batch where job.call.fail(code: ServiceErrorCode.backendUnavailable, message: "the model failed: \(error)") {
                metrics.request(.failed)
            }
            return
        }
        metrics.step(size: inputs, seconds: (ContinuousClock.now - started).seconds)
        metrics.sequences(active: 0, waiting: 0)
        var offset = 0
        for job in batch {
            let mine = Array(vectors[offset..<(offset + job.inputs.count)])
            offset += job.inputs.count
            let reply = GenerationProtocol.EmbedReply(vectors: mine, promptTokens: UInt32(clamping: job.promptTokens))
            // Counted before the reply leaves, so a caller that has it sees it in the metrics.
            metrics.request(.ok)
            metrics.prompt(job.promptTokens)
            job.call.reply(reply.encoded())
        }
    }
}
