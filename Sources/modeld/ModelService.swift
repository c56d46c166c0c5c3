import CLinux
import DaemonRuntime
import Engine
import Foundation
import IPC
import Metrics
import Registry
import Services
import Settings
import Upstream
import Wire

/// A model loaded and ready to serve.
enum LoadedModel: Sendable {
    case chat(ChatModel)
    case embedding(any Embedder)
    /// An OpenAI-compatible upstream serves it (`"engine": "openai"`).
    case upstream(UpstreamEngine, ModelKind)

    var kind: ModelKind {
        switch self {
        case .chat: .chat
        case .embedding: .embedding
        case .upstream(_, let kind): kind
        }
    }

    /// Loads a model's files.
    /// - Throws: The engine's errors, or `ModelSourceError`.
    static func load(_ source: ModelSource) throws -> LoadedModel {
        switch source.kind {
        case .chat: .chat(try ChatModel(path: source.path))
        case .embedding: .embedding(try EmbedderLoader.load(directory: source.path))
        }
    }
}

/// How a model instance schedules its work (modeld's settings).
struct ModelOptions: Sendable {
    /// Most sequences in one engine step (`MODEL_MAX_BATCH`).
    var maxBatch = 16
    /// Most prompt tokens joining the batch in one step (`MODEL_MAX_PREFILL_TOKENS`).
    var maxPrefillTokens = 2048
    /// Most texts in one embedding pass (`MODEL_EMBED_MAX_BATCH`).
    var embedMaxInputs = 64
    /// How long the engine loop may go without a heartbeat before the watchdog is told (`MODEL_STALL_TIMEOUT_SEC`).
    var stallTimeout: Duration = .seconds(30)
    /// An upstream deployment's connect, first-byte and total timeouts (`MODEL_UPSTREAM_*`).
    var upstreamTimeouts = UpstreamTimeouts()
}

/// One modeld instance: a model, its engine thread, and the IPC server in front of them.
final class ModelService: DaemonService {
    let name: String
    let server: IPCServer
    let handler: ModelRequestHandler
    let metrics: ModelMetrics
    let stallTimeout: Duration
    private let logger: Logger

    /// Starts serving: the engine thread, then the socket.
    /// - Parameters:
    ///   - name: The model's name; requests for another are refused with ``ServiceErrorCode/unknownModel``.
    ///   - model: The loaded model.
    ///   - options: Scheduling settings.
    ///   - listenFD: A listening Unix socket.
    ///   - logger: The daemon's logger.
    ///   - registry: Where the metrics go.
    /// - Throws: ``SocketError`` when the socket cannot be served.
    ///   - servedModel: The public model this instance is a deployment of (requests may name it); nil:
    ///     the instance's own name.
    init(name: String, servedModel: String? = nil, model: LoadedModel, options: ModelOptions, listenFD: Int32, logger: Logger,
         metrics: ModelMetrics? = nil, registry: MetricsRegistry = MetricsRegistry()) throws {
        self.name = name
        self.logger = logger
        stallTimeout = options.stallTimeout
        var capacity: Int?
        if case .chat(let chat) = model { capacity = max(1, options.maxBatch) * chat.contextLength }
        let metrics = metrics ?? ModelMetrics(registry: registry, model: name, kvCapacityTokens: capacity)
        self.metrics = metrics
        let engine: ModelRequestHandler.Engine
        switch model {
        case .chat(let chat):
            let generation = GenerationEngine(
                chat: chat, maxBatch: options.maxBatch, maxPrefillTokens: options.maxPrefillTokens,
                metrics: metrics, logger: logger)
            generation.start()
            engine = .chat(chat, generation)
        case .embedding(let embedder):
            let embedding = EmbeddingEngine(
                embedder: embedder, maxInputs: options.embedMaxInputs, metrics: metrics, logger: logger)
            embedding.start()
            engine = .embedding(embedder, embedding)
        case .upstream(let upstream, let kind):
            engine = .upstream(upstream, kind)
        }
        let handler = ModelRequestHandler(model: name, servedModel: servedModel ?? name, engine: engine, metrics: metrics,
                                          logger: logger, stallTimeout: options.stallTimeout)
        self.handler = handler
        server = handler.shell().server(listenFD: listenFD, protocolName: ServiceName.modeld)
        try server.start()
    }

    /// Resolves, loads and serves the model a daemon's settings name.
    /// - Parameters:
    ///   - model: `INFER_MODEL`.
    ///   - path: `INFER_MODEL_PATH` (empty: derived from the models folder).
    ///   - modelsDirectory: `INFER_MODELS_DIR`.
    ///   - registry: The model registry, when one is configured: its entry's `path` is used when
    ///     `INFER_MODEL_PATH` is empty.
    ///   - threads: `MODEL_THREADS` (0: every processor).
    ///   - options: The scheduling settings.
    ///   - context: The daemon's context (the `modeld` socket, the logger).
    /// - Returns: The running service; READY=1 follows.
    /// - Throws: `ConfigError` for a missing name or unusable model files (exit 78), `SocketError` otherwise.
    static func start(
        model: String, path: String, modelsDirectory: String, registry: ModelRegistry? = nil, threads: Int, options: ModelOptions,
        context: DaemonContext
    ) async throws -> ModelService {
        guard !model.isEmpty else {
            throw ConfigError("INFER_MODEL is required: the name of the model this instance serves (e.g. smollm2)", variable: "INFER_MODEL")
        }
        let found = registry?.deployment(named: model)
        if let found, found.deployment.engine == .openai {
            return try await startUpstream(found.deployment, kind: found.model.kind, options: options, context: context)
        }
        // Where the files are: INFER_MODEL_PATH, else the registry deployment's path, else the default layout.
        let entry = found?.deployment
        let registryPath = path.isEmpty ? entry?.path : nil
        let pathVariable = !path.isEmpty ? "INFER_MODEL_PATH" : registryPath != nil ? "INFER_MODEL_REGISTRY" : "INFER_MODELS_DIR"
        if let registry, entry == nil, path.isEmpty {
            context.logger.warn("model is not in the registry; looking for it under INFER_MODELS_DIR by name",
                                ["model": .string(model), "registry": .string(registry.source)])
        }
        let source: ModelSource
        do {
            source = try ModelSource.resolve(name: model, explicitPath: registryPath ?? path, modelsDirectory: modelsDirectory)
        } catch {
            throw ConfigError("model \(model): \(error.description)", variable: pathVariable)
        }
        let listener = try context.listener("modeld")
        context.setStatus("loading model \(model) from \(source.path)")
        context.logger.info("loading model", ["model": .string(model), "path": .string(source.path), "kind": .string(source.kind.rawValue)])
        if threads > 0 { EngineThreads.set(threads) }
        let kernelChoice = ProcessInfo.processInfo.environment[KernelSet.environmentVariable]
        if KernelSet.ceiling(kernelChoice) == nil {
            context.logger.warn("\(KernelSet.environmentVariable) is none of auto, avx2, portable; ignored (the CPU decides)",
                                ["value": .string(String((kernelChoice ?? "").prefix(64)))])
        }
        let started = ContinuousClock.now
        let loaded: LoadedModel
        do {
            loaded = try LoadedModel.load(source)
        } catch {
            throw ConfigError("model \(model) at \(source.path) cannot be loaded: \(error)", variable: pathVariable)
        }
        let loadMilliseconds = LogValue(Int((ContinuousClock.now - started).seconds * 1000))
        // Loading frees what it only needed on the way (the GGUF's parsed metadata, the embedding model's
        // unpacked F32 layers); glibc keeps those holes resident between live blocks until trimmed:
        // 9 MiB for MiniLM, 3 MiB for SmolLM2.
        _ = clinux_release_free_heap()
        switch loaded {
        case .chat(let chat):
            context.logger.info("model loaded", [
                "model": .string(model), "load_ms": loadMilliseconds, "context": LogValue(chat.contextLength),
                "threads": LogValue(EngineThreads.count), "max_batch": LogValue(options.maxBatch),
                "kernels": .string(KernelSet.name),
            ])
        case .embedding, .upstream:
            context.logger.info("model loaded", [
                "model": .string(model), "load_ms": loadMilliseconds, "threads": LogValue(EngineThreads.count),
            ])
        }
        return try ModelService(
            name: model, servedModel: found?.model.name, model: loaded, options: options, listenFD: listener.fileDescriptor,
            logger: context.logger)
    }

    /// Serves a deployment of an OpenAI-compatible upstream: nothing to load; the key is read, the
    /// endpoint checked (a bad URL, key or CA file stops modeld with exit 78), and the upstream asked
    /// once for its model list so the log says at start whether it answers (it may come up later).
    private static func startUpstream(_ deployment: Deployment, kind: ModelKind, options: ModelOptions,
                                      context: DaemonContext) async throws -> ModelService {
        let listener = try context.listener("modeld")
        let key = try UpstreamCredentials.apiKey(for: deployment, environment: ProcessInfo.processInfo.environment)
        let metrics = ModelMetrics(registry: MetricsRegistry(), model: deployment.name)
        let engine: UpstreamEngine
        do {
            engine = try UpstreamEngine(deployment: deployment, apiKey: key, timeouts: options.upstreamTimeouts,
                                        metrics: metrics, logger: context.logger)
        } catch {
            throw ConfigError("deployment \(deployment.name): \(error.setting) \(error.reason)", variable: "INFER_MODEL_REGISTRY")
        }
        let answers = await engine.probe()
        context.logger.info("upstream deployment", [
            "deployment": .string(deployment.name), "model": .string(deployment.model),
            "upstream_model": .string(deployment.upstreamModel), "kind": .string(kind.rawValue),
            "reachable": .bool(answers),
        ])
        return try ModelService(
            name: deployment.name, servedModel: deployment.model, model: .upstream(engine, kind), options: options,
            listenFD: listener.fileDescriptor, logger: context.logger, metrics: metrics)
    }

    var readyStatus: String { "serving \(name) (\(handler.kind.rawValue))" }

    /// Healthy while the engine loop's heartbeat is recent; an upstream deployment has no loop of its
    /// own (batchd's breaker and probes watch the upstream).
    func isHealthy() async -> Bool {
        handler.heartbeat?.isRecent(within: stallTimeout) ?? true
    }

    /// Stops taking calls, lets running sequences finish until shortly before the deadline, then cancels
    /// the rest (their callers get `interrupted`, which batchd may retry on the next instance) and stops
    /// the engine thread.
    func drain(until deadline: ContinuousClock.Instant) async {
        // Leave time to send the interrupts before the runtime exits.
        let margin = Duration.milliseconds(250)
        let budget = max(.zero, ContinuousClock.now.duration(to: deadline) - margin)
        logger.info("draining", ["in_flight": LogValue(server.inFlightCalls)])
        await server.drain(timeout: budget)
        await handler.stopEngine()
    }

    /// Stops the engine and closes the connections at once (for tests).
    func shutdown() async {
        await server.drain(timeout: .zero)
        await handler.stopEngine()
    }
}

/// modeld's handlers: Generate and Embed for its model (the shell answers stats and refuses the rest).
struct ModelRequestHandler: Sendable {
    enum Engine: Sendable {
        case chat(ChatModel, GenerationEngine)
        case embedding(any Embedder, EmbeddingEngine)
        case upstream(UpstreamEngine, ModelKind)
    }

    /// The instance's name (a deployment's).
    let model: String
    /// The public model it serves; a request may name either.
    let servedModel: String
    let engine: Engine
    let metrics: ModelMetrics
    let logger: Logger
    /// How old the engine loop's heartbeat may be for a health probe to say ready.
    let stallTimeout: Duration

    var kind: ModelKind {
        switch engine {
        case .chat: .chat
        case .embedding: .embedding
        case .upstream(_, let kind): kind
        }
    }

    /// The engine's loop; nil for an upstream, which has no loop here.
    var loop: (any EngineLoop)? {
        switch engine {
        case .chat(_, let engine): engine
        case .embedding(_, let engine): engine
        case .upstream: nil
        }
    }

    /// The engine loop's heartbeat; nil for an upstream.
    var heartbeat: EngineHeartbeat? { loop?.heartbeat }

    func stopEngine() async {
        await loop?.stop()
    }

    /// Whether a request naming `name` is for this instance.
    private func serves(_ name: String) -> Bool { name == model || name == servedModel }

    /// The shell that routes modeld's calls here; an undecodable request counts as invalid.
    func shell() -> ServiceShell {
        var shell = ServiceShell(name: "modeld", metrics: metrics.registry, onRefusal: { [metrics, logger] refusal in
            if refusal.code == IPCErrorCode.badRequest { metrics.request(.invalid) }
            logger.debug("request refused", ["type": LogValue(refusal.type), "reason": .string(refusal.message)])
        })
        // The engines make their own spans (prefill, decode, the upstream call) under the call's context.
        // An upstream's handlers only start the HTTP call: they start on the socket's I/O thread, which
        // is also the one that reads the upstream's answer (UpstreamEngine), so a call makes no thread
        // hop in modeld. The built-in engine's tokenize first, which is work for a task of its own.
        let upstream = loop == nil
        shell.register(GenerationProtocol.Generate.self, traced: false, inline: upstream, generate)
        shell.register(GenerationProtocol.Embed.self, traced: false, inline: upstream, embed)
        shell.register(GenerationProtocol.Health.self) { _, call in await health(call) }
        return shell
    }

    /// batchd's health probe, which costs no tokens: the built-in engine is ready while its loop's
    /// heartbeat is recent; an upstream deployment asks the upstream's model list.
    private func health(_ call: IPCCall) async {
        let reply: GenerationProtocol.HealthReply
        switch engine {
        case .upstream(let upstream, _):
            reply = await upstream.health(deadline: call.deadline)
        case .chat, .embedding:
            let beating = heartbeat?.isRecent(within: stallTimeout) ?? true
            reply = GenerationProtocol.HealthReply(ready: beating, reason: beating ? "" : "the engine loop has stalled")
        }
        call.reply(reply.encoded())
    }

    private func refuse(_ call: IPCCall, _ code: UInt16, _ message: String, requestID: String) {
        metrics.request(.invalid)
        call.fail(code: code, message: message)
        logger.with(requestID: requestID, trace: call.traceContext).debug("request refused", ["code": LogValue(code), "reason": .string(message)])
    }

    /// Refuses a request for another model than this instance's.
    /// - Returns: true when the request names this instance or the public model it serves.
    private func isServed(_ requested: String, _ call: IPCCall, requestID: String) -> Bool {
        guard !serves(requested) else { return true }
        refuse(call, ServiceErrorCode.unknownModel, "model \(requested) is not served here (this instance serves \(model))", requestID: requestID)
        return false
    }

    /// Validates and tokenizes a generation and hands it to the engine, which streams the answer.
    private func generate(_ request: GenerationProtocol.Generate, _ call: IPCCall) {
        guard isServed(request.model, call, requestID: request.requestID) else { return }
        if case .upstream(let upstream, .chat) = engine { return upstream.generate(call, request) }
        guard case .chat(let chat, let engine) = engine else {
            return refuse(call, ServiceErrorCode.invalidRequest, "model \(model) is an embedding model; it cannot generate text", requestID: request.requestID)
        }
        let prepared: (prompt: [Int32], parameters: GenerationParameters)
        do {
            prepared = try chat.prepare(request)
        } catch {
            return refuse(call, error.code, error.message, requestID: request.requestID)
        }
        let job = GenerationEngine.Job(call: call, requestID: request.requestID, prompt: prepared.prompt, parameters: prepared.parameters,
                                       trace: call.traceContext, model: request.model)
        guard engine.submit(job) else { return stopping(call) }
        // A cancel is noticed at the next step boundary; wake an idle loop so a queued call goes at once.
        call.onCancel { engine.wake() }
    }

    /// Validates an embedding and hands it to the engine, which merges it into its next pass.
    private func embed(_ request: GenerationProtocol.Embed, _ call: IPCCall) {
        guard isServed(request.model, call, requestID: request.requestID) else { return }
        guard !request.inputs.isEmpty else {
            return refuse(call, ServiceErrorCode.invalidParameter, "input must hold at least one text", requestID: request.requestID)
        }
        if case .upstream(let upstream, .embedding) = engine { return upstream.embed(call, request) }
        guard case .embedding(let embedder, let engine) = engine else {
            return refuse(call, ServiceErrorCode.invalidRequest, "model \(model) is a chat model; it cannot embed", requestID: request.requestID)
        }
        // Counted here, on the handler's task, so the engine thread only runs the model.
        let tokens = request.inputs.reduce(0) { $0 + embedder.tokenCount($1) }
        let job = EmbeddingEngine.Job(call: call, requestID: request.requestID, inputs: request.inputs, promptTokens: tokens)
        if !engine.submit(job) { stopping(call) }
    }

    /// Answers a call the engine did not take because it is stopping.
    private func stopping(_ call: IPCCall) {
        metrics.request(.failed)
        call.fail(code: IPCErrorCode.shuttingDown, message: "modeld is stopping")
    }
}
