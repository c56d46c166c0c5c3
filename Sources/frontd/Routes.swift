import Foundation
import HTTP
import IPC

/// Routing and the orchestration of one request: limitd → cached → batchd.
struct Routes: Sendable {
    let limit: LimitClient
    let cache: CacheClient
    let batch: GenerationClient
    let logger: Logger
    let failOpen: Bool
    let requestTimeout: Duration
    let dependencyTimeout: Duration
    let defaultModel: String
    /// Names in the model registry, for /v1/models.
    let models: [String]
    let requests: MetricsRegistry.Counter
    let duration: MetricsRegistry.Histogram
    let cacheResults: MetricsRegistry.Counter
    let refusals: MetricsRegistry.Counter
    let tokens: MetricsRegistry.Counter

    init(context: DaemonContext, metrics: MetricsRegistry) {
        let run = context.settings[RuntimeSettings.runtimeDirectory]
        limit = LimitClient(path: run + "/limitd.sock")
        cache = CacheClient(path: run + "/cached.sock")
        batch = GenerationClient(path: run + "/batchd.sock", protocolName: ServiceName.batchd)
        logger = context.logger
        failOpen = context.settings[FrontSettings.limitdFailOpen]
        requestTimeout = context.settings[FrontSettings.requestTimeout]
        dependencyTimeout = context.settings[FrontSettings.dependencyTimeout]
        defaultModel = context.settings[FrontSettings.defaultModel]
        models = (try? ModelRegistry.load(environment: ProcessInfo.processInfo.environment).names) ?? [defaultModel]
        requests = metrics.counter("infer_http_requests_total", help: "HTTP requests answered, by route and status.")
        duration = metrics.histogram("infer_http_request_duration_seconds", help: "Time from request to the end of the answer, by route.",
                                     buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
        cacheResults = metrics.counter("infer_frontd_cache_lookups_total", help: "Cache lookups by frontd, by result (hit, miss, bypass).")
        refusals = metrics.counter("infer_frontd_rate_limited_total", help: "Requests refused with 429.")
        tokens = metrics.counter("infer_frontd_tokens_total", help: "Tokens in answered requests, by kind (prompt, completion).")
    }

    func handle(_ request: HTTPRequest, _ response: HTTPResponseWriter) async {
        let started = ContinuousClock.now
        let requestID = Self.requestID(request.headers["X-Request-ID"])
        let route: String
        var status = 200
        do {
            switch (request.method, request.path) {
            case (.get, "/health"), (.get, "/health/live"):
                route = request.path
                try send(response, .ok, JSON.encode(["status": "ok"]), requestID)
            case (.get, "/ready"), (.get, "/health/ready"):
                route = request.path
                status = try await ready(response, requestID)
            case (.post, "/v1/chat/completions"):
                route = request.path
                status = try await chat(request, response, requestID)
            case (.post, "/v1/embeddings"):
                route = request.path
                status = try await embeddings(request, response, requestID)
            case (.get, "/v1/models"):
                route = request.path
                let data = models.map { ["id": $0, "object": "model", "created": 0, "owned_by": "infer"] as [String: Any] }
                try send(response, .ok, JSON.encode(["object": "list", "data": data]), requestID)
            case (_, "/health"), (_, "/ready"), (_, "/v1/chat/completions"), (_, "/v1/embeddings"), (_, "/v1/models"):
                route = request.path
                let allow = Self.allowed(request.path)
                throw APIError(status: HTTPStatus(code: 405, reason: "Method Not Allowed"), message: "\(request.method) is not allowed here; use \(allow)",
                               type: "invalid_request_error", code: "method_not_allowed", param: nil)
            default:
                route = "other"
                throw APIError.notFound("no route \(request.path)")
            }
        } catch {
            let e = APIError.from(error)
            status = e.status.code
            if !response.hasResponded {
                var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Request-ID": requestID]
                if let r = e.retryAfter { headers.add(name: "Retry-After", value: String(r)) }
                if status == 405 { headers.add(name: "Allow", value: Self.allowed(request.path)) }
                try? response.respond(status: e.status, headers: headers, body: e.body(requestID: requestID))
            }
            if status >= 500 { logger.with(requestID: requestID, traceID: nil).warn("request failed: \(e.message)", ["status": LogValue(status)]) }
        }
        let labels = [MetricLabel("route", Self.routeLabel(request.path)), MetricLabel("status", String(status))]
        requests.increment(labels)
        duration.observe(Self.seconds(started.duration(to: .now)), [MetricLabel("route", Self.routeLabel(request.path))])
    }

    private func send(_ response: HTTPResponseWriter, _ status: HTTPStatus, _ body: [UInt8], _ requestID: String, extra: HTTPHeaders = HTTPHeaders()) throws {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Request-ID": requestID]
        for f in extra { headers.add(name: f.name, value: f.value) }
        try response.respond(status: status, headers: headers, body: body)
    }

    // MARK: readiness

    private func ready(_ response: HTTPResponseWriter, _ requestID: String) async throws -> Int {
        async let l = ping(limit.client, ServiceName.limitd)
        async let c = ping(cache.client, ServiceName.cached)
        async let b = ping(batch.client, ServiceName.batchd)
        let checks = await ["limitd": l, "cached": c, "batchd": b]
        let ok = checks.values.allSatisfy { $0 }
        try send(response, ok ? .ok : HTTPStatus(code: 503, reason: "Service Unavailable"),
                 JSON.encode(["status": ok ? "ready" : "not ready", "dependencies": checks.mapValues { $0 ? "up" : "down" }]), requestID)
        return ok ? 200 : 503
    }

    private func ping(_ client: IPCClient, _ name: String) async -> Bool {
        (try? await client.call(type: StatsProtocol.statsType, payload: [], timeout: dependencyTimeout)) != nil
    }

    // MARK: chat completions

    private func chat(_ request: HTTPRequest, _ response: HTTPResponseWriter, _ requestID: String) async throws -> Int {
        let chat = try ChatRequest(body: request.body, defaultModel: defaultModel)
        let clientKey = Self.clientKey(request)
        try await admit(clientKey, route: request.path)

        let cacheKey = chat.isDeterministic ? chat.cacheKey : nil
        if let cacheKey, let hit = await lookup(cacheKey) {
            cacheResults.increment([MetricLabel("result", "hit")])
            try answer(chat, hit, response, requestID, cacheStatus: "HIT")
            return 200
        }
        cacheResults.increment([MetricLabel("result", cacheKey == nil ? "bypass" : "miss")])

        let generate = GenerationProtocol.Generate(requestID: requestID, model: chat.model, messages: chat.messages, parameters: chat.parameters)
        let events = batch.generate(generate, timeout: requestTimeout)
        let completion: CachedCompletion
        if chat.stream {
            completion = try await streamAnswer(chat, events, response, requestID)
        } else {
            var text = ""
            var done: GenerationProtocol.Done?
            for try await e in events {
                switch e {
                case .chunk(let c): text += c.text
                case .done(let d): done = d
                }
            }
            guard let done else { throw APIError.unavailable("the model ended without finishing") }
            completion = CachedCompletion(content: text, finishReason: done.finishReason, promptTokens: Int(done.promptTokens), completionTokens: Int(done.completionTokens))
            try answer(chat, completion, response, requestID, cacheStatus: cacheKey == nil ? "BYPASS" : "MISS")
        }
        tokens.increment([MetricLabel("kind", "prompt")], by: Double(completion.promptTokens))
        tokens.increment([MetricLabel("kind", "completion")], by: Double(completion.completionTokens))
        if let cacheKey {
            try? await cache.put(CacheProtocol.Put(key: cacheKey, model: chat.model, value: completion.encoded()), timeout: dependencyTimeout)
        }
        try? await limit.settle(LimitProtocol.Settle(key: clientKey, promptTokens: UInt32(completion.promptTokens), completionTokens: UInt32(completion.completionTokens)), timeout: dependencyTimeout)
        return 200
    }

    /// limitd's decision; a 429 is thrown as an APIError. limitd down: fail open or closed by config.
    private func admit(_ key: String, route: String) async throws {
        do {
            let r = try await limit.admit(LimitProtocol.Admit(key: key, route: route), timeout: dependencyTimeout)
            if !r.allowed {
                refusals.increment()
                throw APIError.rateLimited(retryAfter: max(1, Int((r.retryAfterMs + 999) / 1000)))
            }
        } catch let e as APIError {
            throw e
        } catch {
            logger.warn("limitd unreachable: \(error)", ["policy": .string(failOpen ? "fail open" : "fail closed")])
            if !failOpen { throw APIError.unavailable("rate limiting is unavailable") }
        }
    }

    /// cached's entry for `key`; cached down or a bad entry is a miss (bypass).
    private func lookup(_ key: String) async -> CachedCompletion? {
        guard let reply = try? await cache.get(key, timeout: dependencyTimeout), let value = reply.value else { return nil }
        return CachedCompletion(decoding: value)
    }

    private func answer(_ chat: ChatRequest, _ c: CachedCompletion, _ response: HTTPResponseWriter, _ requestID: String, cacheStatus: String) throws {
        let id = "chatcmpl-" + requestID
        let created = Int(Date().timeIntervalSince1970)
        if chat.stream {
            var headers: HTTPHeaders = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Request-ID": requestID, "X-Cache": cacheStatus]
            headers.add(name: "X-Accel-Buffering", value: "no")
            let sse = try SSEWriter.start(on: response, headers: headers)
            sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["role": "assistant", "content": ""], finish: nil))
            if !c.content.isEmpty { sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["content": c.content], finish: nil)) }
            finishStream(sse, chat, id, created, c)
            return
        }
        let body = JSONText.completion(id: id, created: created, model: chat.model, c)
        try send(response, .ok, Array(body.utf8), requestID, extra: ["X-Cache": cacheStatus])
    }

    private func streamAnswer(_ chat: ChatRequest, _ events: AsyncThrowingStream<GenerationProtocol.Event, any Error>,
                              _ response: HTTPResponseWriter, _ requestID: String) async throws -> CachedCompletion {
        let id = "chatcmpl-" + requestID
        let created = Int(Date().timeIntervalSince1970)
        var iterator = events.makeAsyncIterator()
        // Wait for the first event before committing to 200, so early failures get a proper status.
        let first = try await iterator.next()
        var headers: HTTPHeaders = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Request-ID": requestID,
                                    "X-Cache": chat.isDeterministic ? "MISS" : "BYPASS"]
        headers.add(name: "X-Accel-Buffering", value: "no")
        let sse = try SSEWriter.start(on: response, headers: headers)
        sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["role": "assistant", "content": ""], finish: nil))
        var text = ""
        var event = first
        do {
            while let e = event {
                switch e {
                case .chunk(let c):
                    text += c.text
                    if !sse.send(data: Self.chunkJSON(id, created, chat.model, delta: ["content": c.text], finish: nil)) { throw CancellationError() }
                case .done(let d):
                    let c = CachedCompletion(content: text, finishReason: d.finishReason, promptTokens: Int(d.promptTokens), completionTokens: Int(d.completionTokens))
                    finishStream(sse, chat, id, created, c)
                    return c
                }
                event = try await iterator.next()
            }
        } catch {
            // Headers are sent: report in-band, as OpenAI does, then end the stream.
            let e = APIError.from(error)
            sse.send(data: String(decoding: e.body(requestID: requestID), as: UTF8.self))
            sse.end()
            throw error
        }
        sse.end()
        throw APIError.unavailable("the model ended without finishing")
    }

    private func finishStream(_ sse: SSEWriter, _ chat: ChatRequest, _ id: String, _ created: Int, _ c: CachedCompletion) {
        sse.send(data: Self.chunkJSON(id, created, chat.model, delta: [:], finish: c.finishReason))
        if chat.includeUsage {
            sse.send(data: JSONText.usageChunk(id: id, created: created, model: chat.model, c))
        }
        sse.send(data: "[DONE]")
        sse.end()
    }

    static func chunkJSON(_ id: String, _ created: Int, _ model: String, delta: [String: String], finish: String?) -> String {
        let d = "{" + delta.sorted { $0.key > $1.key }.map { JSONText.string($0.key) + ":" + JSONText.string($0.value) }.joined(separator: ",") + "}"
        return JSONText.chunk(id: id, created: created, model: model, delta: d, finish: finish)
    }

    // MARK: embeddings

    private func embeddings(_ request: HTTPRequest, _ response: HTTPResponseWriter, _ requestID: String) async throws -> Int {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw APIError.invalid("the request body must be a JSON object")
        }
        let inputs: [String]
        switch o["input"] {
        case let s as String: inputs = [s]
        case let a as [Any] where !a.isEmpty && a.count <= 2048 && a.allSatisfy({ $0 is String }): inputs = a.compactMap { $0 as? String }
        default: throw APIError.unprocessable("input must be a string or a non-empty array of up to 2048 strings", param: "input")
        }
        let model = (o["model"] as? String) ?? "minilm"
        try await admit(Self.clientKey(request), route: request.path)
        let reply = try await batch.embed(GenerationProtocol.Embed(requestID: requestID, model: model, inputs: inputs), timeout: requestTimeout)
        let data = reply.vectors.enumerated().map { ["object": "embedding", "index": $0.offset, "embedding": $0.element.map(Double.init)] as [String: Any] }
        let tokens = Int(reply.promptTokens)
        try send(response, .ok, JSON.encode(["object": "list", "model": model, "data": data,
                                             "usage": ["prompt_tokens": tokens, "total_tokens": tokens]]), requestID)
        return 200
    }

    // MARK: helpers

    static func allowed(_ path: String) -> String {
        ["/v1/chat/completions", "/v1/embeddings"].contains(path) ? "POST" : "GET"
    }

    /// The client's X-Request-ID when it is safe to echo (1-128 of [A-Za-z0-9._-]), else a new one.
    static func requestID(_ given: String?) -> String {
        if let g = given, (1...128).contains(g.utf8.count),
           g.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 }) {
            return g
        }
        var rng = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(rng.next() as UInt64, radix: 16) }.joined()
    }

    /// Who the rate limit applies to: the API key (by its hash) or else the client's address.
    static func clientKey(_ request: HTTPRequest) -> String {
        if let auth = request.headers["Authorization"], auth.hasPrefix("Bearer "), auth.utf8.count > 7 {
            return "key:" + String(SHA256.hex(Array(auth.utf8.dropFirst(7))).prefix(16))
        }
        let address = request.remoteAddress
        // "host:port" or "[v6]:port": limit per host.
        if let colon = address.lastIndex(of: ":") { return "ip:" + address[..<colon] }
        return "ip:" + address
    }

    static func routeLabel(_ path: String) -> String {
        ["/health", "/health/live", "/ready", "/health/ready", "/v1/chat/completions", "/v1/embeddings", "/v1/models"].contains(path) ? path : "other"
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}

/// What cached keeps for a deterministic completion (JSON), enough to answer it again either way.
struct CachedCompletion {
    var content: String
    var finishReason: String
    var promptTokens: Int
    var completionTokens: Int

    init(content: String, finishReason: String, promptTokens: Int, completionTokens: Int) {
        self.content = content
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    init?(decoding bytes: [UInt8]) {
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let c = o["content"] as? String, let f = o["finish_reason"] as? String,
              let p = o["prompt_tokens"] as? Int, let n = o["completion_tokens"] as? Int else { return nil }
        self.init(content: c, finishReason: f, promptTokens: p, completionTokens: n)
    }

    func encoded() -> [UInt8] {
        JSON.encode(["content": content, "finish_reason": finishReason, "prompt_tokens": promptTokens, "completion_tokens": completionTokens])
    }

}
