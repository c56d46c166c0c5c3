import DaemonRuntime
import Foundation
import IPC
import Registry
import Services
import Tracing
import Upstream
import Wire

/// A deployment served by an OpenAI-compatible upstream (`"engine": "openai"`): each Generate becomes
/// a streamed `/chat/completions` (messages) or `/completions` (raw prompt) call whose pieces are
/// relayed as CHUNKs as they arrive; each Embed becomes an `/embeddings` call. Usage is the upstream's
/// when it sends it, else counted (one piece, one token; the prompt's tokens as the upstream's or 0).
/// A caller that cancels cancels the HTTP call, which closes the upstream connection.
final class UpstreamEngine: Sendable {
    let deployment: Deployment
    let client: UpstreamClient
    let metrics: ModelMetrics
    let logger: Logger

    /// - Parameters:
    ///   - deployment: The registry's deployment (URL, upstream model, CA file, concurrency).
    ///   - apiKey: The upstream's key, read by the caller from `api_key_env` or `api_key_file`.
    ///   - timeouts: Connect, first-byte and total timeouts (modeld's settings).
    /// - Throws: ``UpstreamConfigurationError`` naming the setting that is wrong.
    init(deployment: Deployment, apiKey: String?, timeouts: UpstreamTimeouts, metrics: ModelMetrics,
         logger: Logger) throws(UpstreamConfigurationError) {
        guard let url = deployment.url else { throw UpstreamConfigurationError("url", "is missing") }
        self.deployment = deployment
        let key: UpstreamAPIKey? = try apiKey.map { secret throws(UpstreamConfigurationError) in try UpstreamAPIKey(secret) }
        let endpoint = try UpstreamEndpoint(
            baseURL: url.absoluteString, model: deployment.upstreamModel, apiKey: key, caFile: deployment.caFile,
            timeouts: timeouts, maxConcurrentRequests: deployment.maxConcurrency ?? 8)
        client = try UpstreamClient(endpoint: endpoint)
        self.metrics = metrics
        self.logger = logger
    }

    /// Whether the upstream answers its model list (a probe that costs no tokens).
    func probe() async -> Bool {
        await health(deadline: nil).ready
    }

    /// batchd's health probe: `GET {url}/models`, which sends no tokens, bounded by the connect and
    /// first-byte timeouts and by `deadline` (the answer is due a little before it, so the caller
    /// hears "not ready" rather than its own timeout). Any failure is "not ready" with the failure's
    /// client-safe words; a 429's Retry-After is passed on.
    func health(deadline: ContinuousClock.Instant?) async -> GenerationProtocol.HealthReply {
        let margin = Duration.milliseconds(250)
        // No X-Request-ID: a probe is no client's request, and llama.cpp's server (llama-cpp-python)
        // answers 400 to any X-Request-ID that is not a UUID, which failed every probe of it.
        let options = UpstreamRequestOptions(deadline: deadline.map { $0 - margin })
        do {
            _ = try await client.models(options: options)
            return GenerationProtocol.HealthReply(ready: true)
        } catch {
            logger.debug("upstream health probe failed", ["deployment": .string(deployment.name), "error": .string(error.logMessage)])
            return GenerationProtocol.HealthReply(
                ready: false, retryAfterSeconds: UInt32(clamping: error.retryAfterSeconds ?? 0), reason: error.clientMessage)
        }
    }

    /// Runs a generation on the upstream and relays it on `call`, in a task on the thread that reads the
    /// upstream's answers (the process's event loop, which also serves modeld's socket): each piece is
    /// relayed as it is read, with no hop to another thread.
    func generate(_ call: IPCCall, _ request: GenerationProtocol.Generate) {
        let task = Task(executorPreference: client.preferredExecutor) { await self.relay(call, request) }
        call.onCancel { task.cancel() }
    }

    /// Embeds on the upstream and replies on `call` (on the same thread as ``generate(_:_:)``).
    func embed(_ call: IPCCall, _ request: GenerationProtocol.Embed) {
        let task = Task(executorPreference: client.preferredExecutor) { await self.answerEmbed(call, request) }
        call.onCancel { task.cancel() }
    }

    /// The OpenAI body of a Generate: chat messages, or a raw prompt, and the sampling parameters, as
    /// the members of the JSON object (written straight to bytes when sent).
    static func body(_ request: GenerationProtocol.Generate) -> [(String, UpstreamJSONValue)] {
        let p = request.parameters
        var body: [(String, UpstreamJSONValue)] = []
        if request.messages.isEmpty {
            body.append(("prompt", .string(request.prompt)))
        } else {
            body.append(("messages", .array(request.messages.map { .object([("role", .string($0.role)), ("content", .string($0.content))]) })))
        }
        body.append(("max_tokens", .integer(Int64(p.maxTokens))))
        body.append(("temperature", .number(Double(p.temperature))))
        body.append(("top_p", .number(Double(p.topP))))
        // Only what differs from OpenAI's defaults, so an upstream that refuses unknown fields (OpenAI
        // itself refuses top_k) sees none it does not need.
        if p.topK > 0 { body.append(("top_k", .integer(Int64(p.topK)))) }
        if let seed = p.seed { body.append(("seed", .integer(Int64(bitPattern: seed)))) }
        if !p.stop.isEmpty { body.append(("stop", .array(p.stop.map { .string($0) }))) }
        if p.frequencyPenalty != 0 { body.append(("frequency_penalty", .number(Double(p.frequencyPenalty)))) }
        if p.presencePenalty != 0 { body.append(("presence_penalty", .number(Double(p.presencePenalty)))) }
        return body
    }

    /// The text of one streamed chunk: `choices[0].delta.content` (chat) or `choices[0].text`, and its
    /// finish reason.
    static func piece(_ object: [String: Any]) -> (text: String, finish: String?) {
        guard let choices = object["choices"] as? [[String: Any]], let first = choices.first else { return ("", nil) }
        let text = (first["delta"] as? [String: Any])?["content"] as? String ?? first["text"] as? String ?? ""
        return (text, first["finish_reason"] as? String)
    }

    /// The client span of one upstream HTTP call (GenAI's `{operation} {model}`), child of the caller's
    /// span; nil when the call carries no trace.
    private func upstreamSpan(_ call: IPCCall, operation: String) -> Span? {
        let url = deployment.url
        return Tracer.global.startChildSpan("\(operation) \(deployment.upstreamModel)", kind: .client, parent: call.traceContext, attributes: [
            "gen_ai.operation.name": .string(operation), "gen_ai.provider.name": .string("openai"),
            "gen_ai.request.model": .string(deployment.upstreamModel), "server.address": .string(url?.host ?? ""),
            "server.port": .int(url?.port ?? (url?.scheme == "https" ? 443 : 80)), "infer.deployment": .string(deployment.name),
        ])
    }

    /// The request's options: its id, its deadline, and the span's `traceparent`, so the upstream's own
    /// spans are children of the call's.
    private func options(_ requestID: String, _ call: IPCCall, _ span: Span?) -> UpstreamRequestOptions {
        UpstreamRequestOptions(requestID: requestID, traceParent: span.map { TraceParent.format($0.context) }, deadline: call.deadline)
    }

    private func relay(_ call: IPCCall, _ request: GenerationProtocol.Generate) async {
        let log = logger.with(requestID: request.requestID, trace: call.traceContext)
        let span = upstreamSpan(call, operation: Span.genAIOperation(request))
        span?.recordRequest(request, model: deployment.upstreamModel)
        defer { span?.end() }
        let options = options(request.requestID, call, span)
        var pieces = 0
        var finish = "stop"
        var usage: UpstreamUsage?
        let started = ContinuousClock.now
        var firstPiece: ContinuousClock.Instant?
        do {
            let body = try UpstreamRequestBody(members: Self.body(request))
            let stream = request.messages.isEmpty
                ? try await client.streamCompletion(body, options: options)
                : try await client.streamChatCompletion(body, options: options)
            for try await event in stream {
                // One parse per event: the pieces and, in the last chunk, the usage.
                guard let object = event.json() else { continue }
                if let counted = UpstreamUsage(answer: object) { usage = counted }
                let (text, reason) = Self.piece(object)
                if let reason { finish = reason }
                guard !text.isEmpty else { continue }
                if firstPiece == nil {
                    firstPiece = ContinuousClock.now
                    metrics.prefill(seconds: (ContinuousClock.now - started).seconds)
                }
                pieces += 1
                let chunk = GenerationProtocol.Chunk(text: text, completionTokens: UInt32(clamping: pieces))
                guard call.chunk(GenerationFrameTag.payload(chunk)) else { throw CancellationError() }
            }
            let prompt = usage?.promptTokens ?? 0
            let completion = usage?.completionTokens ?? pieces
            metrics.prompt(prompt)
            metrics.generated(completion)
            let done = GenerationProtocol.Done(
                finishReason: finish == "length" ? "length" : "stop", promptTokens: UInt32(clamping: prompt),
                completionTokens: UInt32(clamping: completion), batchSize: 1)
            if let firstPiece { metrics.decode(seconds: (ContinuousClock.now - firstPiece).seconds) }
            span?.recordDone(done)
            if call.end(GenerationFrameTag.payload(done)) { metrics.request(.ok) }
        } catch let error as UpstreamError {
            span?.setStatus(.error(error.clientMessage))
            fail(call, error, log: log)
        } catch {
            metrics.request(.cancelled)
        }
    }

    private func answerEmbed(_ call: IPCCall, _ request: GenerationProtocol.Embed) async {
        let log = logger.with(requestID: request.requestID, trace: call.traceContext)
        let span = upstreamSpan(call, operation: "embeddings")
        defer { span?.end() }
        let options = options(request.requestID, call, span)
        do {
            let body = try UpstreamRequestBody(members: [("input", .array(request.inputs.map { .string($0) }))])
            let response = try await client.embeddings(body, options: options)
            guard let data = try response.json()["data"] as? [[String: Any]], data.count == request.inputs.count else {
                throw UpstreamError.invalidResponse(route: "POST /v1/embeddings", "the answer does not hold one vector per input")
            }
            var vectors = [[Float]](repeating: [], count: data.count)
            for (position, item) in data.enumerated() {
                let index = item["index"] as? Int ?? position
                guard vectors.indices.contains(index), let numbers = item["embedding"] as? [NSNumber] else {
                    throw UpstreamError.invalidResponse(route: "POST /v1/embeddings", "an embedding is not a list of numbers at a valid index")
                }
                vectors[index] = numbers.map { $0.floatValue }
            }
            let tokens = response.usage?.promptTokens ?? 0
            span?.set("gen_ai.usage.input_tokens", .int(tokens))
            metrics.prompt(tokens)
            let reply = GenerationProtocol.EmbedReply(vectors: vectors, promptTokens: UInt32(clamping: tokens))
            if call.reply(reply.encoded()) { metrics.request(.ok) }
        } catch let error as UpstreamError {
            fail(call, error, log: log)
        } catch {
            metrics.request(.cancelled)
        }
    }

    /// Answers a failed call with the service code for the upstream's failure; the log gets the
    /// operator's message, the caller only the client-safe one.
    private func fail(_ call: IPCCall, _ error: UpstreamError, log: Logger) {
        if error.kind == .cancelled {
            metrics.request(.cancelled)
            return
        }
        let (code, message) = Self.serviceError(error)
        metrics.request(code == ServiceErrorCode.invalidRequest ? .invalid : .failed)
        log.warn("upstream call failed", [
            "deployment": .string(deployment.name), "error": .string(error.logMessage),
            "retryable": .bool(error.isRetryable), "after_output": .bool(error.afterOutput),
        ])
        call.fail(code: code, message: message)
    }

    /// The service error code and message for an upstream failure (frontd maps the code to a status).
    static func serviceError(_ error: UpstreamError) -> (UInt16, String) {
        let message = error.clientMessage
        // The prompt is too long for this deployment: batchd tries the model's fallbacks.
        if error.isContextLengthExceeded { return (ServiceErrorCode.contextLengthExceeded, message) }
        switch error.clientStatus {
        case 400, 413, 422: return (ServiceErrorCode.invalidRequest, message)
        case 429:
            return (ServiceErrorCode.upstreamRateLimited,
                    error.retryAfterSeconds.map { RetryAfterMessage.make(seconds: $0, message) } ?? message)
        case 504: return (ServiceErrorCode.upstreamTimeout, message)
        case 503: return (ServiceErrorCode.backendUnavailable, message)
        default: return (ServiceErrorCode.upstreamFailed, message)
        }
    }
}
