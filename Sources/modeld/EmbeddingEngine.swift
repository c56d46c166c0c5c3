import DaemonRuntime
import Foundation
import IPC
import Services
import Wire

/// The embedding loop of an embedding model, on one dedicated thread: Embed calls that arrive while a
/// pass runs are merged into the next pass (up to `maxInputs` texts), then each call gets its own vectors.
final class EmbeddingEngine: EngineLoop {
    /// One accepted Embed call.
    struct Job: Sendable {
        let call: IPCCall
        let requestID: String
        let inputs: [String]
        /// The tokens the model sees for all inputs together (counted when the call was accepted).
        let promptTokens: Int
    }

    let embedder: any Embedder
    let maxInputs: Int
    let metrics: ModelMetrics
    let logger: Logger
    let thread = EngineThread<Job>(name: "modeld-embed")

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

    // MARK: The loop (engine thread only)

    func run() {
        var queued: [Job] = []
        while true {
            let (jobs, stopping) = thread.take()
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
                thread.idle()
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
