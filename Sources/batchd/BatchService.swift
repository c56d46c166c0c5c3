import Basics
import DaemonRuntime
import IPC
import Metrics
import Registry
import Services
import Tracing
import Wire

/// How batchd retries and times out (its settings besides the scheduler's).
struct RelayPolicy: Sendable {
    /// Times a request is sent again after modeld dropped it before any output (`BATCH_RETRY_MAX`).
    var retryMax = 2
    /// Deadline of a call that came without one (`BATCH_DEFAULT_TIMEOUT_MS`).
    var defaultTimeout: Duration = .seconds(120)
    /// First pause before a retry; it doubles with each retry (with jitter), up to a second.
    var retryBackoff: Duration = .milliseconds(25)
}

/// batchd: queues each model's requests, dispatches them in batches to the model's modeld instance, and
/// relays the answers back as they stream.
final class BatchService: DaemonService {
    let server: IPCServer
    let handler: BatchRequestHandler
    let prober: HealthProber
    private let logger: Logger

    /// Starts serving on a listening socket.
    /// - Parameters:
    ///   - listenFD: A listening Unix socket.
    ///   - router: Each model's deployments, strategy and fallbacks.
    ///   - configuration: The scheduler's settings.
    ///   - policy: Retries and the default deadline.
    ///   - probes: How deployments' health is probed.
    ///   - logger: The daemon's logger.
    ///   - registry: Where the metrics go.
    /// - Throws: ``SocketError`` when the socket cannot be served.
    init(listenFD: Int32, router: DeploymentRouter, configuration: BatchScheduler.Configuration,
         policy: RelayPolicy, probes: ProbePolicy = ProbePolicy(), logger: Logger, registry: MetricsRegistry = MetricsRegistry()) throws {
        self.logger = logger
        let models = router.routes.keys.sorted()
        let metrics = BatchMetrics(registry: registry, models: models)
        for route in router.routes.values {
            for deployment in route.deployments { metrics.breaker(route.name, deployment.deployment.name, deployment.breakerState) }
        }
        let scheduler = BatchScheduler(models: models, configuration: configuration, metrics: metrics)
        let handler = BatchRequestHandler(
            scheduler: scheduler, router: router, policy: policy, metrics: metrics, logger: logger)
        self.handler = handler
        prober = HealthProber(router: router, policy: probes, metrics: metrics, logger: logger)
        server = handler.shell().server(listenFD: listenFD, protocolName: ServiceName.batchd)
        try server.start()
        prober.start()
    }

    /// Starts serving models that have one modeld each, named like the model (tests, and batchd without
    /// a registry).
    convenience init(listenFD: Int32, backends: [String: any ModelBackend], configuration: BatchScheduler.Configuration,
                     policy: RelayPolicy, logger: Logger, registry: MetricsRegistry = MetricsRegistry(),
                     breaker: CircuitBreaker = CircuitBreaker(failureThreshold: 5, openDuration: 30_000_000_000)) throws {
        var routes: [String: ModelRoute] = [:]
        for (model, backend) in backends {
            let deployment = Deployment(name: model, model: model, engine: .builtin)
            routes[model] = ModelRoute(
                name: model, strategy: .cost,
                deployments: [DeploymentBackend(deployment: deployment, backend: backend,
                                                capacity: configuration.maxBatch * 2, breaker: breaker)],
                fallbacks: [])
        }
        try self.init(listenFD: listenFD, router: DeploymentRouter(routes: routes), configuration: configuration,
                      policy: policy, logger: logger, registry: registry)
    }

    /// The models batchd routes: `BATCH_MODELS` when it lists any; else every model of the registry (each
    /// of its deployments is a modeld instance, built-in or upstream); else, with no registry file, the
    /// two default models. A request for another model is refused at once with
    /// ``ServiceErrorCode/unknownModel`` (HTTP 404 from frontd).
    static func routedModels(listed: [String], registry: ModelRegistry?) -> [String] {
        if !listed.isEmpty { return listed }
        guard let registry else { return ["smollm2", "minilm"] }
        return registry.names
    }

    /// The router for `models`: each registry model's deployments, strategy and fallbacks (only fallbacks
    /// that are routed too), and for a model the registry does not know, one modeld named like it.
    /// - Parameters:
    ///   - socket: The socket path of a deployment's modeld.
    ///   - capacity: Requests a deployment takes at once when its `max_concurrency` does not say.
    static func router(models: [String], registry: ModelRegistry?, capacity: Int, breaker: CircuitBreaker,
                       socket: (String) -> String) -> DeploymentRouter {
        var routes: [String: ModelRoute] = [:]
        for model in models {
            let entry = registry?[model]
            let deployments = entry?.deployments ?? [Deployment(name: model, model: model, engine: .builtin)]
            routes[model] = ModelRoute(
                name: model, strategy: entry?.routing ?? .cost,
                deployments: deployments.map {
                    DeploymentBackend(deployment: $0, backend: ModeldBackend(path: socket($0.name)), capacity: capacity,
                                      breaker: breaker)
                },
                fallbacks: (entry?.fallbacks ?? []).filter(models.contains))
        }
        return DeploymentRouter(routes: routes)
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
        prober.stop()
        await server.drain(timeout: max(.zero, ContinuousClock.now.duration(to: deadline) - margin))
        for deployment in handler.router.deployments { deployment.backend.close() }
    }

    /// Closes everything at once (tests).
    func shutdown() async {
        prober.stop()
        await server.drain(timeout: .zero)
        for deployment in handler.router.deployments { deployment.backend.close() }
    }
}

/// batchd's handlers: queue Generate and Embed, then relay modeld's answers (the shell answers stats).
struct BatchRequestHandler: Sendable {
    let scheduler: BatchScheduler
    let router: DeploymentRouter
    let policy: RelayPolicy
    let metrics: BatchMetrics
    let logger: Logger

    /// The shell that routes batchd's calls here.
    func shell() -> ServiceShell {
        var shell = ServiceShell(name: "batchd", metrics: metrics.registry, onRefusal: { [logger] refusal in
            logger.debug("request refused", ["type": LogValue(refusal.type), "reason": .string(refusal.message)])
        })
        // batchd only waits: for its queue, for modeld's frames, which it relays. Its handlers start on the
        // I/O thread and stay there (the IPC executor), so a frame read from modeld resumes the relay where
        // it was read and leaves for frontd from there, with no thread hop per frame.
        let executor = IPCServer.ioExecutor
        shell.register(GenerationProtocol.Generate.self, inline: true) { request, call in
            let prompt = request.messages.reduce(request.prompt.utf8.count) { $0 + $1.content.utf8.count }
            await withTaskExecutorPreference(executor) {
                await serve(call, model: request.model, priority: request.priority, requestID: request.requestID, kind: .generate,
                            size: RequestSize(promptTokens: prompt / 4, maxTokens: Int(request.parameters.maxTokens), contextBytes: prompt))
            }
        }
        shell.register(GenerationProtocol.Embed.self, inline: true) { request, call in
            await withTaskExecutorPreference(executor) {
                await serve(call, model: request.model, priority: 0, requestID: request.requestID, kind: .embed,
                            size: RequestSize(promptTokens: request.inputs.reduce(0) { $0 + $1.utf8.count } / 4, maxTokens: 0))
            }
        }
        return shell
    }

    enum Kind { case generate, embed }

    /// Queues a call, waits for its batch, forwards it and relays the answer. Every outcome is counted
    /// before the caller's last frame leaves, so a caller that has its answer sees it in the metrics.
    private func serve(_ call: IPCCall, model: String, priority: UInt8, requestID: String, kind: Kind, size: RequestSize) async {
        let log = logger.with(requestID: requestID, trace: TraceContext.current)
        guard router.routes[model] != nil else {
            // Not labelled with the caller's text: any name would make a new series.
            metrics.request(BatchMetrics.unknownModelLabel, .failed)
            call.fail(code: ServiceErrorCode.unknownModel, message: "model \(model) is not served (known: \(router.routes.keys.sorted().joined(separator: ", ")))")
            log.debug("unknown model", ["model": .string(model)])
            return
        }
        let deadline = call.deadline ?? .now + policy.defaultTimeout
        let ticket: BatchScheduler.Ticket
        // The queue wait: from arrival until a slot is free for the model (its own span, so a trace shows
        // time spent waiting apart from time spent generating).
        let queued = Tracer.global.startChildSpan("batchd queue", parent: TraceContext.current, attributes: [
            "gen_ai.request.model": .string(model), "infer.priority": .int(Int(priority)),
        ])
        defer { queued?.end() }
        do {
            ticket = try await scheduler.admit(model: model, priority: priority, deadline: deadline)
            queued?.end()
        } catch let error as BatchScheduler.AdmissionError {
            queued?.setStatus(.error(error.description))
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
        let relay = Relay(call: call, model: model, chain: router.chain(for: model), size: size, deadline: deadline,
                          policy: policy, metrics: metrics, logger: log)
        switch kind {
        case .generate: await relay.generate()
        case .embed: await relay.embed()
        }
    }
}

/// Forwards one dispatched call and relays the answer: to the model's deployments in the order of its
/// strategy, then to its fallbacks', retrying only where that cannot duplicate output.
///
/// Policy:
/// - A modeld that was never reached (``IPCError/unavailable(_:)``: restarting, its socket in the backlog)
///   is tried again, backoff doubling with jitter, while the deadline allows; one whose connection was
///   lost, or that was overloaded, is tried again up to `retryMax` times — in both cases only while no
///   CHUNK of the answer was relayed. These are modeld's own restarts and do not move a breaker.
/// - A deployment whose upstream failed (``ServiceErrorCode/upstreamFailed``, `upstreamTimeout`,
///   `backendUnavailable`, `upstreamRateLimited` with its Retry-After) counts a failure on its breaker
///   and the request goes to the next deployment, then to the fallbacks — again only before output.
/// - A prompt too long for a model (``ServiceErrorCode/contextLengthExceeded``) goes to the fallbacks.
/// - Any other refusal (invalid request or parameter) is the answer, passed through.
/// - After output has been relayed the caller gets the failure, never a duplicate of text it has.
/// - A pause before a retry that would not end before the deadline ends the retries: the caller gets
///   the last failure at once.
/// The first frame relayed is batchd's route (who answers, as which model); an embedding reply ends with it.
struct Relay {
    let call: IPCCall
    let model: String
    let chain: [ModelRoute]
    let size: RequestSize
    let deadline: ContinuousClock.Instant
    let policy: RelayPolicy
    let metrics: BatchMetrics
    let logger: Logger
    var breakers: BreakerLog { BreakerLog(metrics: metrics) }

    /// How one attempt ended, and so what to do next.
    private enum Verdict {
        /// The caller's answer is ready (counted as ok): its last frame, sent once the deployment's
        /// tokens are settled, so a caller that has its answer sees them counted against `tpm`.
        case answered(LastFrame)
        /// Try the same deployment again (modeld restarting).
        case again(String)
        /// Try the next deployment or fallback.
        case next(String, code: UInt16, message: String)
        /// Go to the fallbacks (the prompt is too long for this model).
        case fallback(code: UInt16, message: String)
        case fail(code: UInt16, message: String)
        case cancelled
    }

    /// The frame that ends a call.
    private enum LastFrame {
        /// A generation's END.
        case end([UInt8])
        /// An embedding's reply.
        case reply([UInt8])
    }

    /// One target: a deployment, and the model it answers as.
    private struct Target {
        let route: ModelRoute
        let deployment: DeploymentBackend
    }

    /// Relays a generation; counts its outcome.
    func generate() async {
        await relay("generation") { target, timeout, attempt, used in
            var relayed = false
            var first = true
            var firstToken: Double?
            let started = ContinuousClock.now
            let payload = target.route.name == model ? call.payload : Self.generate(call.payload, as: target.route.name)
            do {
                for try await frame in target.deployment.backend.generate(payload, timeout: timeout) {
                    if first {
                        first = false
                        let route = GenerationProtocol.Route(deployment: target.deployment.deployment.name, model: target.route.name)
                        guard call.chunk(GenerationFrameTag.payload(route)) else { return (.cancelled, .neutral) }
                    }
                    if frame.first == GenerationFrameTag.done {
                        used = Self.tokens(done: frame, promptEstimate: size.promptTokens) ?? used
                        metrics.request(model, .ok)
                        return (.answered(.end(frame)), .success(firstToken: firstToken ?? started.duration(to: .now).seconds))
                    }
                    if !relayed {
                        firstToken = started.duration(to: .now).seconds
                        relayed = true
                        used = size.promptTokens
                    }
                    // Until Done says, each piece counts as a token (for the tpm cap, should the stream break).
                    used += 1
                    // The caller is gone: leaving the loop drops the stream, which sends CANCEL to modeld.
                    guard call.chunk(frame) else { return (.cancelled, .neutral) }
                }
                // The stream ends early only when this task is cancelled (the caller cancelled).
                if Task.isCancelled || call.isFinished { return (.cancelled, .neutral) }
                return (.fail(code: ServiceErrorCode.backendUnavailable, message: "\(target.deployment.deployment.name) ended the stream without Done"), .neutral)
            } catch {
                return judge(error, relayed: relayed, attempt: attempt, target: target)
            }
        }
    }

    /// Relays an embedding; counts its outcome.
    func embed() async {
        await relay("embedding") { target, timeout, attempt, used in
            let started = ContinuousClock.now
            let payload = target.route.name == model ? call.payload : Self.embed(call.payload, as: target.route.name)
            do {
                var reply = try GenerationProtocol.EmbedReply(decoding: try await target.deployment.backend.embed(payload, timeout: timeout))
                reply.route = GenerationProtocol.Route(deployment: target.deployment.deployment.name, model: target.route.name)
                used = reply.promptTokens > 0 ? Int(reply.promptTokens) : size.promptTokens
                metrics.request(model, .ok)
                return (.answered(.reply(reply.encoded())), .success(firstToken: started.duration(to: .now).seconds))
            } catch {
                // Embedding has no partial output: any lost attempt is safe to repeat.
                return judge(error, relayed: false, attempt: attempt, target: target)
            }
        }
    }

    /// Makes attempts until one answers, fails for good, is cancelled or runs out of time; counts every
    /// outcome but `answered` (the attempt counted it before the caller's last frame left).
    /// - Parameters:
    ///   - what: "generation" or "embedding", for the log.
    ///   - attempt: One try of a target with the time left and the number of tries before it; returns the
    ///     verdict and what it says of the deployment's health, and sets the tokens it used (for `tpm`).
    private func relay(_ what: String, _ attempt: (Target, Duration, Int, inout Int) async -> (Verdict, DeploymentBackend.Outcome)) async {
        var picker = TargetPicker(chain: chain, size: size)
        var attempts = 0
        var current: Target?
        var lastFailure: (code: UInt16, message: String)?
        while true {
            guard let timeout = remaining() else { return expired() }
            if current == nil {
                guard let (route, deployment) = picker.next(now: Self.now(), random: Double.random(in: 0..<1)) else {
                    let failure = lastFailure ?? nothingLeft(picker)
                    return fail(what, code: failure.code, message: failure.message)
                }
                current = Target(route: route, deployment: deployment)
            }
            guard let target = current else { continue }
            let name = target.deployment.deployment.name
            let (admission, opened) = target.deployment.begin(now: Self.now(), estimate: size.estimate)
            breakers.record(opened, model: target.route.name, deployment: name, logger: logger)
            if case .refused = admission {
                current = nil
                continue
            }
            var used = 0
            // One span per attempt: the relay to one deployment (the modeld call is its child).
            let span = Tracer.global.startChildSpan("batchd relay", kind: .client, parent: TraceContext.current, attributes: [
                "gen_ai.request.model": .string(model), "gen_ai.response.model": .string(target.route.name),
                "infer.deployment": .string(name), "infer.attempt": .int(attempts),
            ])
            let (verdict, health) = await TraceContext.$current.withValue(span?.context ?? TraceContext.current) {
                await attempt(target, timeout, attempts, &used)
            }
            span?.setStatus(Self.status(verdict))
            span?.end()
            let closed = target.deployment.finish(health, wasProbe: admission == .probe, now: Self.now(), estimate: size.estimate, used: used)
            breakers.record(closed, model: target.route.name, deployment: name, logger: logger)
            switch verdict {
            case .answered(.end(let frame)):
                call.end(frame)
                return
            case .answered(.reply(let payload)):
                call.reply(payload)
                return
            case .cancelled:
                return metrics.request(model, .cancelled)
            case .fail(let code, let message):
                return fail(what, code: code, message: message)
            case .fallback(let code, let message):
                lastFailure = (code, message)
                picker.skipModel()
                current = nil
                logger.info("trying a fallback", ["model": .string(target.route.name), "reason": .string(message)])
            case .next(let reason, let code, let message):
                lastFailure = (code, message)
                current = nil
                attempts += 1
                switch await pause(before: attempts, reason: "\(name): \(reason)") {
                case .go: continue
                case .cancelled: return metrics.request(model, .cancelled)
                case .outOfTime: return fail(what, code: code, message: message)
                }
            case .again(let reason):
                attempts += 1
                switch await pause(before: attempts, reason: "\(name): \(reason)") {
                case .go: continue
                case .cancelled: return metrics.request(model, .cancelled)
                case .outOfTime:
                    let failure = lastFailure ?? (ServiceErrorCode.backendUnavailable, "modeld for \(name): \(reason)")
                    return fail(what, code: failure.code, message: failure.message)
                }
            }
        }
    }

    /// How an attempt's span ends.
    private static func status(_ verdict: Verdict) -> SpanStatus {
        switch verdict {
        case .answered, .cancelled: .unset
        case .again(let reason), .next(let reason, _, _): .error(reason)
        case .fallback(_, let message), .fail(_, let message): .error(message)
        }
    }

    /// The answer when no target is left and none failed: the prompt is too long for every model
    /// (400), else every deployment is at its per-minute caps (429 with Retry-After until the first
    /// lifts), else every breaker is open (503).
    private func nothingLeft(_ picker: TargetPicker) -> (code: UInt16, message: String) {
        let models = "\(model)\(chain.count > 1 ? " or its fallbacks" : "")"
        if let refusal = picker.contextRefusal { return (ServiceErrorCode.contextLengthExceeded, refusal) }
        if let lift = picker.capsLiftAt {
            let seconds = Int((max(0, lift - Self.now()) + 999_999_999) / 1_000_000_000)
            return (ServiceErrorCode.upstreamRateLimited,
                    RetryAfterMessage.make(seconds: max(1, seconds), "every deployment of \(models) is at its per-minute cap"))
        }
        return (ServiceErrorCode.backendUnavailable, "no deployment of \(models) is available (circuit open)")
    }

    private func fail(_ what: String, code: UInt16, message: String) {
        metrics.request(model, .failed)
        call.fail(code: code, message: message)
        logger.warn("\(what) failed", ["model": .string(model), "code": LogValue(code), "reason": .string(message)])
    }

    private func remaining() -> Duration? {
        let left = ContinuousClock.now.duration(to: deadline)
        return left > .zero ? left : nil
    }

    private func expired() {
        metrics.request(model, .failed)
        call.fail(code: IPCErrorCode.deadlineExceeded, message: "the deadline passed before modeld for \(model) answered")
    }

    /// Nanoseconds on the monotonic clock, the breakers' time base.
    private static func now() -> Int64 { MonotonicClock.nowSigned() }

    /// The tokens a generation used, from its END payload: the prompt's as modeld counted them (the
    /// estimate when an upstream reported none) plus the completion's.
    static func tokens(done payload: [UInt8], promptEstimate: Int) -> Int? {
        guard let done = try? GenerationProtocol.Done(decoding: Array(payload.dropFirst())) else { return nil }
        return (done.promptTokens > 0 ? Int(done.promptTokens) : promptEstimate) + Int(done.completionTokens)
    }

    /// `payload` (a Generate) asking for `model` instead (a fallback).
    private static func generate(_ payload: [UInt8], as model: String) -> [UInt8] {
        guard var request = try? GenerationProtocol.Generate(decoding: payload) else { return payload }
        request.model = model
        return request.encoded()
    }

    /// `payload` (an Embed) asking for `model` instead (a fallback).
    private static func embed(_ payload: [UInt8], as model: String) -> [UInt8] {
        guard var request = try? GenerationProtocol.Embed(decoding: payload) else { return payload }
        request.model = model
        return request.encoded()
    }

    private func judge(_ error: any Error, relayed: Bool, attempt: Int, target: Target) -> (Verdict, DeploymentBackend.Outcome) {
        if error is CancellationError || Task.isCancelled || call.isFinished { return (.cancelled, .neutral) }
        let name = target.deployment.deployment.name
        guard let error = error as? IPCError else {
            return (.fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(name): \(error)"), .neutral)
        }
        switch error {
        case .unavailable(let reason):
            // Never sent: safe to repeat as long as time is left.
            return (remaining() != nil ? .again("unavailable: \(reason)")
                : .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(name) is unavailable: \(reason)"), .neutral)
        case .connectionLost:
            if relayed {
                return (.fail(code: ServiceErrorCode.generationInterrupted, message: "modeld for \(name) went away during the generation"), .neutral)
            }
            return (attempt < policy.retryMax ? .again("connection lost")
                : .fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(name) went away \(attempt + 1) times"), .neutral)
        case .timeout:
            return (.fail(code: IPCErrorCode.deadlineExceeded, message: "the deadline passed before \(name) finished"), .neutral)
        case .remote(let code, let message):
            switch code {
            case IPCErrorCode.overloaded where !relayed && attempt < policy.retryMax:
                return (.again("modeld overloaded"), .neutral)
            case ServiceErrorCode.upstreamFailed, ServiceErrorCode.upstreamTimeout, ServiceErrorCode.backendUnavailable,
                 ServiceErrorCode.upstreamRateLimited:
                let retryAfter = RetryAfterMessage.parse(message).seconds.map { Int64($0) * 1_000_000_000 }
                let health = DeploymentBackend.Outcome.failure(reason: "code \(code): \(message)", retryAfter: retryAfter)
                return (relayed ? .fail(code: code, message: message) : .next("code \(code)", code: code, message: message), health)
            case ServiceErrorCode.contextLengthExceeded where !relayed:
                return (.fallback(code: code, message: message), .neutral)
            default:
                return (.fail(code: code, message: message), .neutral)
            }
        case .protocolViolation(let message):
            return (.fail(code: ServiceErrorCode.backendUnavailable, message: "modeld for \(name) broke the protocol: \(message)"), .neutral)
        case .wrongProtocol(let expected, let got):
            return (.fail(code: ServiceErrorCode.backendUnavailable, message: "the socket of \(name) serves \(got), not \(expected)"), .neutral)
        }
    }

    /// What a pause before a retry came to.
    private enum Pause {
        /// Paused; retry.
        case go
        /// The caller went away meanwhile.
        case cancelled
        /// The pause would not end before the deadline: no retry.
        case outOfTime
    }

    /// Waits before attempt `attempt`: exponential backoff with jitter from `retryBackoff`, at most a
    /// second, and only when it ends before the deadline.
    private func pause(before attempt: Int, reason: String) async -> Pause {
        let backoff = RetryBackoff(base: policy.retryBackoff.nanoseconds, cap: 1_000_000_000)
        let left = ContinuousClock.now.duration(to: deadline).nanoseconds
        guard let pause = backoff.pause(before: attempt, remaining: left, random: Double.random(in: 0...1)) else {
            logger.info("not retrying: the pause would outlast the deadline", ["model": .string(model), "attempt": LogValue(attempt),
                                                                               "reason": .string(reason)])
            return .outOfTime
        }
        metrics.retried(model)
        logger.info("retrying", ["model": .string(model), "attempt": LogValue(attempt), "reason": .string(reason)])
        do {
            try await Task.sleep(for: .nanoseconds(pause))
        } catch {
            return .cancelled
        }
        return call.isFinished ? .cancelled : .go
    }
}
