import HTTP
import IPC

extension Frontend {
    /// `POST /v1/infer`: the native generation route: one prompt in, one result out, through limitd →
    /// cached → batchd; idempotent by `Idempotency-Key` or the body's `request_id`.
    func infer(_ c: RequestContext) async throws -> Int {
        let started = ContinuousClock.now
        let (request, control) = try await admitInfer(c, route: "/v1/infer")
        let key = try IdempotencyKey.key(c.request, bodyKey: request.requestID)
            .map { IdempotencyKey(scope: c.clientKey, key: $0, fingerprint: request.fingerprint) }
        return try await answerOnce(c, key: key) {
            let (result, headers) = try await runInfer(request, id: request.requestID ?? "infer-" + c.requestID, c, started: started,
                                                       control: control)
            return RouteReply(headers: headers, body: Array(result.utf8))
        }
    }

    /// What both native routes do first: the body read as a request, its model checked, its cache
    /// directives read (header and body), the request admitted by limitd.
    /// - Returns: The request and its cache directives.
    /// - Throws: `APIError` (400, 404, 422, 429, ...), answered before anything is generated.
    private func admitInfer(_ c: RequestContext, route: String) async throws -> (InferRequest, CacheControl) {
        let body = try JSONBody.object(c.request)
        let request = try InferRequest(body: body, rules: requestRules)
        try requireModel(request.model, kind: .chat, for: c)
        let control = try CacheControl(header: c.request.headers["Cache-Control"], body: body["cache"])
        try await admit(c, route: route, request.generate(requestID: c.requestID))
        return (request, control)
    }

    /// Runs one native request to the end (cache, generation, token settlement).
    /// - Returns: The result object's JSON and its headers (X-Cache; who answered, at what cost, for a
    ///   request of its own rather than a batch item).
    /// - Throws: `APIError`, naming `promptParam` when the model refuses the prompt.
    func runInfer(_ request: InferRequest, id: String, _ c: RequestContext, started: ContinuousClock.Instant,
                  control: CacheControl, generationID: String? = nil, promptParam: String = "prompt") async throws -> (String, HTTPHeaders) {
        let generate = request.generate(requestID: generationID ?? c.requestID)
        // A batch item shares its request's context with the other items: only a request of its own says who answered.
        let answeredBy = generationID == nil ? c.answeredBy : AnsweringDeployment()
        let done: CachedCompletion, status: CacheStatus
        do {
            (done, status) = try await completeCached(generate, plan: cachePlan(c, generate, control: control), answeredBy: answeredBy,
                                                      afterReply: c.afterReply)
        } catch {
            throw APIError.from(error, promptParam: promptParam)
        }
        // A hit's reservation ends after the reply is written (the router closes it; a batch's ends with
        // the batch): nothing it costs is waiting to be charged. A model's answer is settled then too.
        if !status.isHit {
            c.afterReply.add { [self] in await settle(c, promptTokens: done.promptTokens, completionTokens: done.completionTokens) }
        }
        let result = InferJSON.result(id: id, model: answeredBy.model(requested: request.model), done,
                                      cost: answeredBy.cost(registry: registry, hit: status.isHit, done),
                                      latencyMs: Self.milliseconds(since: started), cached: status.isHit)
        return (result, generationID == nil ? answerHeaders(c, status, done) : status.headers)
    }

    /// `POST /v1/infer/stream`: the same request as `/v1/infer`, answered as server-sent events: `token`
    /// events with each new piece of text, then `done` with the usage (or `error` after a failure once
    /// the stream has started). Idempotency keys are not applied to streams (documented in HTTP.md).
    func inferStream(_ c: RequestContext) async throws -> Int {
        let started = ContinuousClock.now
        let (request, control) = try await admitInfer(c, route: "/v1/infer/stream")
        let id = request.requestID ?? "infer-" + c.requestID
        let generate = request.generate(requestID: c.requestID)
        let plan = cachePlan(c, generate, control: control)
        return try await streamGeneration(
            generate, plan: plan, c, promptParam: "prompt", errorEvent: "error",
            replay: { sse, hit in
                if !hit.content.isEmpty { sse.send(data: InferJSON.token(hit.content), event: "token") }
                sse.send(data: InferJSON.done(id: id, model: request.model, hit, cost: 0,
                                              latencyMs: Self.milliseconds(since: started), cached: true), event: "done")
            },
            piece: { $0.send(data: InferJSON.token($1), event: "token") },
            finish: { sse, done, cost in
                sse.send(data: InferJSON.done(id: id, model: c.answeredBy.model(requested: request.model), done,
                                              cost: cost, latencyMs: Self.milliseconds(since: started), cached: false), event: "done")
            })
    }

    /// Milliseconds since `start`.
    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let d = start.duration(to: .now)
        return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}
