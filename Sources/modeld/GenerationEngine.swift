import DaemonRuntime
import Engine
import Foundation
import IPC
import Services
import Tracing
import Wire

/// The continuous-batching loop of a chat model, on one dedicated thread.
///
/// Calls are handed over with ``submit(_:)`` (already validated and tokenized). Between two steps the
/// loop drops sequences whose call was cancelled or whose deadline passed, lets waiting sequences join
/// the running batch (up to `maxBatch` sequences, and up to `maxPrefillTokens` prompt tokens joining in
/// one step so a burst of long prompts does not stall the streams already running), runs one
/// ``BatchDecoder`` step, and sends each sequence its new text as a CHUNK and, when it ends, END with a
/// `Done`. The loop has an ``EngineThread`` of its own.
final class GenerationEngine: EngineLoop {
    /// One accepted generation.
    struct Job: Sendable {
        let call: IPCCall
        let requestID: String
        let prompt: [Int32]
        let parameters: GenerationParameters
        /// The caller's trace context: the prefill and decode spans are its children.
        var trace: TraceContext? = nil
        /// The model asked for, for the spans' `gen_ai.request.model`.
        var model = ""
    }

    let chat: ChatModel
    let maxBatch: Int
    let maxPrefillTokens: Int
    let metrics: ModelMetrics
    let logger: Logger
    let thread = EngineThread<Job>(name: "modeld-engine")

    /// Creates the engine; ``start()`` starts its thread.
    /// - Parameters:
    ///   - chat: The model.
    ///   - maxBatch: Most sequences in one step (`MODEL_MAX_BATCH`).
    ///   - maxPrefillTokens: Most prompt tokens joining in one step (`MODEL_MAX_PREFILL_TOKENS`); a longer
    ///     prompt still joins, alone.
    ///   - metrics: The model's metrics.
    ///   - logger: The daemon's logger.
    init(chat: ChatModel, maxBatch: Int, maxPrefillTokens: Int, metrics: ModelMetrics, logger: Logger) {
        self.chat = chat
        self.maxBatch = max(1, maxBatch)
        self.maxPrefillTokens = max(1, maxPrefillTokens)
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: The loop (engine thread only)

    /// A sequence in the decoder.
    private struct Running {
        let job: Job
        /// Sequences in the step that produced its first token; nil before that step.
        var batchSize: Int?
        /// When it joined the batch (its prefill runs in the next step), on both clocks: the monotonic one
        /// for the metrics, the wall clock for the spans.
        var joined = ContinuousClock.now
        var joinedWall = wallClockNanoseconds()
        /// When its first token came (the prefill's end, the decode's start).
        var firstToken: ContinuousClock.Instant?
        var firstTokenWall: UInt64 = 0
    }

    func run() {
        let decoder = BatchDecoder(model: chat.model, tokenizer: chat.tokenizer, maxBatch: maxBatch)
        var waiting: [(id: Int, job: Job)] = []
        var running: [Int: Running] = [:]
        var nextID = 0
        logger.debug("engine thread started", ["max_batch": LogValue(maxBatch)])
        while true {
            let (jobs, stopping) = thread.take()
            for job in jobs {
                waiting.append((nextID, job))
                nextID += 1
            }
            if stopping {
                for (id, entry) in running {
                    decoder.cancel(id)
                    interrupt(entry.job)
                }
                for entry in waiting { interrupt(entry.job) }
                metrics.sequences(active: 0, waiting: 0)
                logger.debug("engine thread stopped", ["interrupted": LogValue(running.count + waiting.count)])
                return
            }
            dropCancelled(decoder: decoder, running: &running, waiting: &waiting)
            admit(decoder: decoder, running: &running, waiting: &waiting)
            metrics.sequences(active: running.count, waiting: waiting.count)
            let kv = decoder.kvCacheUsage
            metrics.kvCache(usedTokens: kv.tokens, bytes: kv.bytes)
            if decoder.isEmpty {
                thread.idle()
                continue
            }
            step(decoder: decoder, running: &running)
        }
    }

    /// Ends the sequences whose call is over (cancelled, connection gone) or past its deadline.
    private func dropCancelled(decoder: BatchDecoder, running: inout [Int: Running], waiting: inout [(id: Int, job: Job)]) {
        let now = ContinuousClock.now
        func isOver(_ job: Job) -> Bool {
            if job.call.isFinished {
                metrics.request(.cancelled)
                return true
            }
            if let deadline = job.call.deadline, deadline <= now {
                metrics.request(.failed)
                job.call.fail(code: IPCErrorCode.deadlineExceeded, message: "the request's deadline passed during generation")
                return true
            }
            return false
        }
        for (id, entry) in running where isOver(entry.job) {
            decoder.cancel(id)
            running[id] = nil
            logger.with(requestID: entry.job.requestID, trace: entry.job.trace).debug("generation cancelled")
        }
        waiting.removeAll { isOver($0.job) }
    }

    /// Moves waiting sequences into the decoder while there is room.
    private func admit(decoder: BatchDecoder, running: inout [Int: Running], waiting: inout [(id: Int, job: Job)]) {
        var joiningTokens = 0
        while decoder.count < maxBatch, let next = waiting.first {
            if joiningTokens > 0, joiningTokens + next.job.prompt.count > maxPrefillTokens { break }
            waiting.removeFirst()
            do {
                try decoder.add(id: next.id, prompt: next.job.prompt, parameters: next.job.parameters)
                running[next.id] = Running(job: next.job)
                joiningTokens += next.job.prompt.count
            } catch let error as ParameterError {
                next.job.call.fail(code: ServiceErrorCode.invalidParameter, message: error.description)
                metrics.request(.invalid)
            } catch {
                next.job.call.fail(code: ServiceErrorCode.invalidRequest, message: "\(error)")
                metrics.request(.invalid)
            }
        }
    }

    /// Runs one step and delivers its events.
    private func step(decoder: BatchDecoder, running: inout [Int: Running]) {
        let started = ContinuousClock.now
        let events: [BatchDecoder.Event]
        do {
            events = try decoder.step()
        } catch {
            logger.error("engine step failed; failing its sequences", ["error": .string("\(error)")])
            for (id, entry) in running {
                decoder.cancel(id)
                entry.job.call.fail(code: ServiceErrorCode.backendUnavailable, message: "the model failed: \(error)")
                metrics.request(.failed)
            }
            running = [:]
            return
        }
        let stepEnd = ContinuousClock.now, stepEndWall = wallClockNanoseconds()
        metrics.step(size: events.count, seconds: (stepEnd - started).seconds)
        // Counted before any byte leaves, so a caller that has its END sees it in the metrics.
        metrics.generated(events.count { $0.token != nil })
        for event in events {
            guard var entry = running[event.id] else { continue }
            if entry.batchSize == nil {
                entry.batchSize = events.count
                entry.firstToken = stepEnd
                entry.firstTokenWall = stepEndWall
                metrics.prompt(event.promptTokens)
                metrics.prefill(seconds: (stepEnd - entry.joined).seconds)
                recordPrefill(entry, promptTokens: event.promptTokens, batchSize: events.count, end: stepEndWall)
            }
            let call = entry.job.call
            if !event.text.isEmpty {
                let chunk = GenerationProtocol.Chunk(text: event.text, completionTokens: UInt32(clamping: event.completionTokens))
                guard call.chunk(GenerationFrameTag.payload(chunk)) else {
                    // The caller is gone: stop spending steps on it.
                    if event.finish == nil { decoder.cancel(event.id) }
                    running[event.id] = nil
                    metrics.request(.cancelled)
                    continue
                }
            }
            guard let finish = event.finish else {
                running[event.id] = entry
                continue
            }
            running[event.id] = nil
            let done = GenerationProtocol.Done(
                finishReason: finish.rawValue, promptTokens: UInt32(clamping: event.promptTokens),
                completionTokens: UInt32(clamping: event.completionTokens), batchSize: UInt32(clamping: entry.batchSize ?? events.count))
            // Counted as served before the END leaves (a caller gone at this very moment still got the work).
            metrics.request(.ok)
            metrics.decode(seconds: (stepEnd - (entry.firstToken ?? stepEnd)).seconds)
            recordDecode(entry, done: done, end: stepEndWall)
            if call.end(GenerationFrameTag.payload(done)) {
                logger.with(requestID: entry.job.requestID, trace: entry.job.trace).debug("generation done", [
                    "finish": .string(finish.rawValue), "prompt_tokens": LogValue(event.promptTokens),
                    "completion_tokens": LogValue(event.completionTokens), "batch_size": LogValue(entry.batchSize ?? 0),
                ])
            }
        }
    }

    /// The span of a sequence's prefill: from joining the batch to its first token (the step that ran
    /// its prompt).
    private func recordPrefill(_ entry: Running, promptTokens: Int, batchSize: Int, end: UInt64) {
        guard let span = Tracer.global.startChildSpan("modeld prefill", parent: entry.job.trace, start: entry.joinedWall, attributes: [
            "gen_ai.request.model": .string(entry.job.model), "gen_ai.usage.input_tokens": .int(promptTokens),
            "infer.batch_size": .int(batchSize),
        ]) else { return }
        span.end(at: end)
    }

    /// The span of a sequence's decode as a whole: from its first token to its last.
    private func recordDecode(_ entry: Running, done: GenerationProtocol.Done, end: UInt64) {
        guard let span = Tracer.global.startChildSpan("modeld decode", parent: entry.job.trace, start: entry.firstTokenWall,
                                                      attributes: ["gen_ai.request.model": .string(entry.job.model)]) else { return }
        span.recordDone(done)
        span.end(at: end)
    }

    /// Ends a call the engine will not finish: the server is stopping.
    private func interrupt(_ job: Job) {
        if job.call.fail(code: IPCErrorCode.interrupted, message: "modeld stopped before the generation finished") {
            metrics.request(.failed)
        }
    }
}

