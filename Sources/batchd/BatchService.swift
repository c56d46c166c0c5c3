import DaemonRuntime
import IPC
import Metrics
import Registry
import Services
import Wire

/// How batchd retries and times out (its settings besides the scheduler's).
struct RelayPolicy: Sendable {
    /// Times a request is sent again after modeld dropped it before any output (`BATCH_RETRY_MAX`).
    var retryMax = 2
    /// Deadline of a call that came without one (`BATCH_DEFAULT_TIMEOUT_MS`).
    var defaultTimeout: Duration = .seconds(120)
    /// First pause before a retry; it doubles with each retry.
    var retryBackoff: Duration = .milliseconds(25)
}

/// batchd: queues each model's requests, dispatches them in batches to the model's modeld instance, and
/// relays the answers back as they stream.
final class BatchService: DaemonService {
    let server: IPCServer
    let handler: BatchRequestHandler
    private let logger: Logger

    /// Starts serving on a listening socket.
    /// - Parameters:
    ///   - listenFD: A listening Unix socket.
    ///   - backends: Each model's backend, by model name.
    ///   - configuration: The scheduler's settings.
    ///   - policy: Retries and the default deadline.
    ///   - logger: The daemon's logger.
    ///   - registry: Where the metrics go.
    /// - Throws: ``SocketError`` when the socket cannot be served.
    init(listenFD: Int32, backends: [String: any ModelBackend], configuration: BatchScheduler.Configuration,
         policy: RelayPolicy, logger: Logger, registry: MetricsRegistry = MetricsRegistry()) throws {
        self.logger = logger
        let models = backends.keys.sorted()
        let metrics = BatchMetrics(registry: registry, models: models)
        let scheduler = BatchScheduler(models: models, configuration: configuration, metrics: metrics)
        let handler = BatchRequestHandler(
            scheduler: scheduler, backends: backends, policy: policy, metrics: metrics, logger: logger)
        self.handler = handler
        server = handler.shell().server(listenFD: listenFD, protocolName: ServiceName.batchd)
        try server.start()
    }

    /// The models batchd routes: `BATCH_MODELS` when it lists any; else every model of the registry whose
    /// first deployment is built-in; else, with no registry file, the two default models. A request for
    /// a model not routed (an upstream-engine one, for now) is refused at once with
    /// ``ServiceErrorCode/unknownModel`` (HTTP 404 from frontd); nothing tries the registry's `fallbacks`
    /// yet, so that refusal is the answer.
    static func routedModels(listed: [String], registry: ModelRegistry?) -> [String] {
        if !listed.isEmpty { return listed }
        guard let registry else { return ["smollm2", "minilm"] }
        return registry.models.filter { $0.engine == .builtin }.map(\.name)
    }

    var readyStatus: String { "routing \(handler.scheduler.models.joined(separator: ", "))" }

    /// Responsive while the scheduler's lock can be taken.
    func isHealthy() async -> Bool {
        _ = handler.scheduler.totalLoad
        return true
    }

    /// Stops taking calls; what is queued is still dispatched and what runs still streams until shortly
    /// before the deadline; then the rest is cut off (callers see `interrupted`) and the modeld
    /// connections are closed.
    func drain(until deadline: ContinuousClock.Instant) async {
        let margin = Duration.milliseconds(250)
        let load = handler.scheduler.totalLoad
        logger.info("draining", ["queued": LogValue(load.queued), "in_flight": LogValue(load.inFlight)])
        await server.drain(timeout: max(.zero, ContinuousClock.now.duration(to: deadline) - margin))
        for backend in handler.backends.values { backend.close() }
    }

    /// Closes everything at once (tests).
    func shutdown() async {
        await server.drain(timeout: .zero)
        for backend in handler.backends.values { backend.close() }
    }
}

/// batchd's handlers: queue Generate and Embed, then relay modeld's answers (the shell answers stats).
struct BatchRequestHandler: Sendable {
    let scheduler: BatchScheduler
    let backends: [String: any ModelBackend]
    let policy: RelayPolicy
    let metrics: BatchMetrics
    let logger: Logger

    /// The shell that routes batchd's calls here.
    func shell() -> ServiceShell {
        var shell = ServiceShell(name: "batchd", metrics: metrics.registry, onRefusal: { [logger] refusal in
            logger.debug("request refused", ["type": LogValue(refusal.type), "reason": .string(refusal.message)])
        })
        shell.register(GenerationProtocol.Generate.self) { request, call in
            await serve(call, model: request.model, priority: request.priority, requestID: request.requestID, kind: .generate)
        }
        shell.register(GenerationProtocol.Embed.self) { request, call in
            await serve(call, model: request.model, priority: 0, requestID: request.requestID, kind: .embed)
        }
        return shell
    }

    enum Kind { case generate, embed }

    /// Queues a call, waits for its batch, forwards it and relays the answer. Every outcome is counted
    /// before the caller's last frame leaves, so a caller that has its answer sees it in the metrics.
    private func serve(_ call: IPCCall, model: String, priority: UInt8, requestID: String, kind: Kind) async {
        let log = logger.with(requestID: requestID)
        guard let backend = backends[model] else {
            // Not labelled with the caller's text: any name would make a new series.
            metrics.request(BatchMetrics.unknownModelLabel, .failed)
            call.fail(code: ServiceErrorCode.unknownModel, message: "model \(model) is not served (known: \(backends.keys.sorted().joined(separator: ", ")))")
            log.debug("unknown model", ["model": .string(model)])
            return
        }
        let deadline = call.deadline ?? .now + policy.defaultTimeout
        let ticket: BatchScheduler.Ticket
        do {
            ticket = try await scheduler.admit(model: model, priority: priority, deadline: deadline)
        } catch let error as BatchScheduler.AdmissionError {
            switch error {
            case .queueFull:
                metrics.request(model, .queueFull)
                call.fail(code: ServiceErrorCode.queueFull, message: error.description)
                log.warn("queue full", ["model": .string(model)])
            case .unknownModel:
                metrics.request(BatchMetrics.unknownModelLabel, .failed)
                call.fail(code: ServiceErrorCode.unknownModel, message: error.description)
            case .expired:
                metrics.request(model, .failed)
                call.fail(code: IPCErrorCode.deadlineExceeded, message: error.description)
            }
            return
        } catch {
            metrics.request(model, .cancelled)
            log.debug("cancelled while queued", ["model": .string(model)])
            return
        }
        defer { scheduler.finish(ticket) }
        let relay = Relay(call: call, model: model, backend: backend, deadline: deadline, policy: policy, metrics: metrics, logger: log)
        switch kind {
        case .generate: await relay.generate()
        case .embed: await relay.embed()
        }
    }
}

/// Forwards one dispatched call to its model and relays the answer, retrying where that cannot
/// duplicate output.
///
/// Policy: a request modeld never got (``IPCError/unavailable(_:)``, a draining modeld's refusal, which
/// the client resends itself) is sent again while the deadline allows; one whose connection was lost (or
/// that modeld interrupted while stopping) is sent again up to `retryMax` times, but only if no CHUNK of
/// it was relayed yet; after output has been relayed the caller gets ``ServiceErrorCode/backendUnavailable``
/// instead, never a duplicate of text it already has. modeld's own refusals (unknown model, invalid
/// request or parameter) are passed through as they are.
struct Relay {
    let call: IPCCall
    let model: String
    let backend: any ModelBackend
    let deadline: ContinuousClock.Instant
    let policy: RelayPolicy
    let metrics: BatchMetrics
    let logger: Logger

    /// How one attempt ended, and so what to do next.
    private enum Verdict {
        /// The caller has its answer (counted as ok).
        case answered
        case retry(String)
        case fail(code: UInt16, message: String)
        case cancelled
    }

    /// Relays a generation; counts its outcome.
    func generate() async {
        await relay("generation") { timeout, attempt in
            var relayed = false
            do {
                for try await payload in backend.generate(call.payload, timeout: timeout) {
                    if payload.first == GenerationFrameTag.done {
                        metrics.request(model, .ok)
                        call.end(payload)
                        return .answered
                    }
                    relayed = true
                    // The caller is gone: leaving the loop drops the stream, which sends CANCEL to modeld.
                    guard call.chunk(payload) else { return .cancelled }
                }
                // The stream ends early only when this task is cancelled (the caller cancelled).
                if Task.isCancelled || call.isFinished { return .cancelled }
                return .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(model) ended the stream without Done")
            } catch {
                return judge(error, relayed: relayed, attempt: attempt)
            }
        }
    }

    /// Relays an embedding; counts its outcome.
    func embed() async {
        await relay("embedding") { timeout, attempt in
            do {
                let reply = try await backend.embed(call.payload, timeout: timeout)
                metrics.request(model, .ok)
                call.reply(reply)
                return .answered
            } catch {
                // Embedding has no partial output: any lost attempt is safe to repeat.
                return judge(error, relayed: false, attempt: attempt)
            }
        }
    }

    /// Makes attempts until one answers, fails for good, is cancelled or runs out of time; counts every
    /// outcome but `answered` (the attempt counted it before the caller's last frame left).
    /// - Parameters:
    ///   - what: "generation" or "embedding", for the log.
    ///   - attempt: One try with the time left and the number of tries before it.
    private func relay(_ what: String, _ attempt: (Duration, Int) async -> Verdict) async {
        var attempts = 0
        while true {
            guard let timeout = remaining() else { return expired() }
            switch await attempt(timeout, attempts) {
            case .answered:
                return
            case .cancelled:
                return metrics.request(model, .cancelled)
            case .fail(let code, let message):
                metrics.request(model, .failed)
                call.fail(code: code, message: message)
                logger.warn("\(what) failed", ["model": .string(model), "code": LogValue(code), "reason": .string(message)])
                return
            case .retry(let reason):
                attempts += 1
                guard await pause(before: attempts, reason: reason) else { return metrics.request(model, .cancelled) }
            }
        }
    }

    private func remaining() -> Duration? {
        let left = ContinuousClock.now.duration(to: deadline)
        return left > .zero ? left : nil
    }

    private func expired() {
        metrics.request(model, .failed)
        call.fail(code: IPCErrorCode.deadlineExceeded, message: "the deadline passed before modeld for \(model) answered")
    }

    private func judge(_ error: any Error, relayed: Bool, attempt: Int) -> Verdict {
        if error is CancellationError || Task.isCancelled || call.isFinished { return .cancelled }
        guard let error = error as? IPCError else {
            return .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(model): \(error)")
        }
        switch error {
        case .unavailable(let reason):
            // Never sent: safe to repeat as long as time is left.
            return remaining() != nil ? .retry("unavailable: \(reason)")
                : .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(model) is unavailable: \(reason)")
        case .connectionLost:
            if relayed {
                return .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(model) went away during the generation")
            }
            return attempt < policy.retryMax ? .retry("connection lost")
                : .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(model) went away \(attempt + 1) times")
        case .timeout:
            return .fail(code: IPCErrorCode.deadlineExceeded, message: "the deadline passed before modeld for \(model) finished")
        case .remote(let code, let message):
            if code == IPCErrorCode.overloaded, !relayed, attempt < policy.retryMax {
                return .retry("modeld overloaded")
            }
            return .fail(code: code, message: message)
        case .protocolViolation(let message):
            return .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(model) broke the protocol: \(message)")
        case .wrongProtocol(let expected, let got):
            return .fail(code: ServiceErrorCode.backendUnavailable, message: "the socket of model \(model) serves \(got), not \(expected)")
        }
    }

    /// Waits before attempt `attempt` (backoff doubling from `retryBackoff`, within the deadline).
    /// - Returns: false when the caller cancelled meanwhile.
    private func pause(before attempt: Int, reason: String) async -> Bool {
        metrics.retried(model)
        // Doubling, but never more than a second between tries of a modeld that is restarting.
        let backoff = min(policy.retryBackoff * (1 << min(attempt - 1, 10)), .seconds(1))
        let left = ContinuousClock.now.duration(to: deadline)
        logger.info("retrying", ["model": .string(model), "attempt": LogValue(attempt), "reason": .string(reason)])
        do {
            try await Task.sleep(for: min(backoff, max(.zero, left)))
        } catch {
            return false
        }
        return !call.isFinished
    }
}
