import Crypto
import HTTP
import IPC
import Services
import Tracing
import Wire

extension Frontend {
    /// Runs a generation through batchd to the end and returns the whole completion; batchd's route goes
    /// to `answeredBy`. The client sees nothing before the end, so when batchd's connection dies midway
    /// (batchd killed and restarted) the request is sent again once, whatever had arrived.
    func complete(_ generate: GenerationProtocol.Generate, answeredBy: AnsweringDeployment? = nil) async throws -> CachedCompletion {
        let deadline = ContinuousClock.now + requestTimeout
        do {
            return try await completeOnce(generate, answeredBy: answeredBy, until: deadline)
        } catch let error as IPCError where Self.interrupted(error) && ContinuousClock.now < deadline {
            resends.increment()
            logger.warn("the generation was interrupted (\(error)); sending the request again",
                        ["request_id": .string(generate.requestID)])
            return try await completeOnce(generate, answeredBy: answeredBy, until: deadline)
        }
    }

    /// Whether a generation died with the process that ran it: batchd's connection lost, or batchd
    /// saying the model's process died after relaying some text.
    static func interrupted(_ error: IPCError) -> Bool {
        switch error {
        case .connectionLost: true
        case .remote(let code, _): code == ServiceErrorCode.generationInterrupted
        default: false
        }
    }

    private func completeOnce(_ generate: GenerationProtocol.Generate, answeredBy: AnsweringDeployment?,
                              until deadline: ContinuousClock.Instant) async throws -> CachedCompletion {
        var text = ""
        var clock = serving.clock(model: generate.model)
        Span.current?.recordRequest(generate)
        for try await e in batch.generate(generate, timeout: ContinuousClock.now.duration(to: deadline)) {
            switch e {
            case .route(let route):
                answeredBy?.record(route, requested: generate.model)
                Span.current?.set("gen_ai.response.model", .string(route.model))
            case .chunk(let c):
                clock.piece()
                AccessRecord.current?.firstToken()
                text += c.text
            case .done(let d):
                clock.finish(reason: d.finishReason)
                Span.current?.recordDone(d)
                AccessRecord.current?.usage(model: answeredBy?.model(requested: generate.model) ?? generate.model,
                                            promptTokens: Int(d.promptTokens), completionTokens: Int(d.completionTokens))
                return CachedCompletion(content: text, finishReason: d.finishReason, promptTokens: Int(d.promptTokens),
                                        completionTokens: Int(d.completionTokens))
            }
        }
        throw APIError.unavailable("the model ended without finishing")
    }

    /// A generation through the cache (``lookup(_:)``, then ``store(_:_:)``): the completion and how the
    /// cache answered. With `afterReply`, requests waiting for the same answer in this frontd get it at
    /// once and the store into cached is left for after the reply.
    func completeCached(_ generate: GenerationProtocol.Generate, plan: CachePlan, answeredBy: AnsweringDeployment? = nil,
                        afterReply: AfterReply? = nil) async throws -> (CachedCompletion, CacheStatus) {
        switch await lookup(plan) {
        case .hit(let hit):
            AccessRecord.current?.usage(model: generate.model, promptTokens: hit.completion.promptTokens,
                                        completionTokens: hit.completion.completionTokens)
            Span.current?.recordRequest(generate)
            Span.current?.set(["gen_ai.response.model": .string(generate.model),
                               "gen_ai.usage.input_tokens": .int(hit.completion.promptTokens),
                               "gen_ai.usage.output_tokens": .int(hit.completion.completionTokens),
                               "gen_ai.response.finish_reasons": .strings([hit.completion.finishReason])])
            return (hit.completion, hit.status)
        case .miss(let fill):
            let completion = try await complete(generate, answeredBy: answeredBy)
            if let afterReply {
                fill.release(completion)
                afterReply.add { [self] in await store(fill, completion) }
            } else {
                await store(fill, completion)
            }
            return (completion, .answered(plan))
        }
    }

    /// The non-streamed answer of an OpenAI generating route: the completion (from the cache, or the
    /// model) and the reply `render` writes, with the answer's headers. What the model answered is stored
    /// in the cache and its tokens settled with limitd after the reply is written (``AfterReply``).
    /// - Parameters:
    ///   - promptParam: The field a refused prompt is blamed on (`messages`, `prompt`).
    ///   - render: The reply's JSON, from the completion and its `usage.cost`.
    /// - Throws: `APIError`.
    func answerCompletion(_ c: RequestContext, _ generate: GenerationProtocol.Generate, plan: CachePlan, promptParam: String,
                          render: (CachedCompletion, Double?) -> String) async throws -> RouteReply {
        let done: CachedCompletion, status: CacheStatus
        do {
            (done, status) = try await completeCached(generate, plan: plan, answeredBy: c.answeredBy, afterReply: c.afterReply)
        } catch {
            throw APIError.from(error, promptParam: promptParam)
        }
        // A hit's reservation ends after the reply is written (the router closes it); a model's answer is
        // settled then too, after the store.
        if !status.isHit {
            c.afterReply.add { [self] in await settle(c, promptTokens: done.promptTokens, completionTokens: done.completionTokens) }
        }
        let body = render(done, usageCost(c, status, done))
        return RouteReply(headers: answerHeaders(c, status, done), body: Array(body.utf8))
    }

    /// The reply's `usage.cost` (see ``AnsweringDeployment/cost(registry:hit:_:)``).
    func usageCost(_ c: RequestContext, _ status: CacheStatus, _ done: CachedCompletion) -> Double? {
        let cost = c.answeredBy.cost(registry: registry, hit: status.isHit, done)
        AccessRecord.current?.cost(cost)
        return cost
    }

    /// The headers of an answered generation: `X-Cache` (and `Age` on a hit), and who answered at what
    /// cost (``AnsweringDeployment/headers(registry:promptTokens:completionTokens:)``).
    func answerHeaders(_ c: RequestContext, _ status: CacheStatus, _ done: CachedCompletion) -> HTTPHeaders {
        var headers = status.headers
        for field in c.answeredBy.headers(registry: registry, promptTokens: done.promptTokens, completionTokens: done.completionTokens) {
            headers.add(name: field.name, value: field.value)
        }
        return headers
    }

    /// What the OpenAI generating routes do before they answer: the model check, admission, the cache
    /// plan (from the request's determinism and its `Cache-Control` / body `cache` controls), and the
    /// client's `Idempotency-Key`, read once — a malformed one is refused on streams too, though streams
    /// are not replayed.
    /// - Returns: The cache plan and the idempotency key of a non-stream answer.
    func prepareGeneration(_ c: RequestContext, route: String, model: String, body: JSONObject,
                           _ generate: GenerationProtocol.Generate) async throws -> (plan: CachePlan, idempotency: IdempotencyKey?) {
        try requireModel(model, kind: .chat, for: c)
        let control = try CacheControl(header: c.request.headers["Cache-Control"], body: body["cache"])
        let planned = cachePlan(c, generate, control: control)
        // The exact lookup goes first, so that limitd can admit a hit without holding anything for it
        // (no settlement after the reply: one exchange with limitd instead of two, no fsync). Its answer
        // is used only once admitted: a refused request gets its 429 whatever the cache holds.
        var plan = planned
        plan.exact = await exactLookup(planned)
        if case .hit = plan.exact {
            try await admit(c, route: route, generate, answered: true)
        } else {
            try await admit(c, route: route, generate)
        }
        let header = try IdempotencyKey.key(c.request, bodyKey: nil)
        let key = header.map {
            IdempotencyKey(scope: c.clientKey, key: $0, fingerprint: IdempotencyKey.fingerprint(route: route, Array(generate.cacheKey.utf8)))
        }
        return (plan, key)
    }

    /// Relays a generation as server-sent events: the stream starts (with `X-Cache`) when the first event
    /// arrives, `opening` sends what goes before the text, `piece` each new piece; a failure after the
    /// start is reported in-band (as the `errorEvent` event, or a plain data line), as OpenAI does, and
    /// the stream ends.
    /// - Parameter promptParam: The field a refused prompt is blamed on; nil leaves errors as they are.
    /// - Returns: The open stream and the finished completion.
    func relayEvents(_ generate: GenerationProtocol.Generate, plan: CachePlan, _ c: RequestContext,
                     promptParam: String?, errorEvent: String? = nil, opening: (SSEWriter) -> Void = { _ in },
                     piece: (SSEWriter, String) -> Bool) async throws -> (SSEWriter, CachedCompletion) {
        var sse: SSEWriter?
        let done: CachedCompletion
        do {
            done = try await relay(
                generate, missStatus: plan.missStatus, answeredBy: c.answeredBy, admission: c.admission,
                begin: {
                    // Who answers is known by now (batchd's first frame); what it costs is not yet.
                    var headers: HTTPHeaders = ["X-Cache": $0]
                    for field in c.answeredBy.identityHeaders() {
                        headers.add(name: field.name, value: field.value)
                    }
                    let events = try c.startEvents(headers)
                    opening(events)
                    sse = events
                },
                piece: { text in sse.map { piece($0, text) } ?? false },
                failedAfterBegin: { error in
                    let body = APIError.from(error, promptParam: promptParam ?? "messages").body(requestID: c.requestID)
                    sse?.send(data: String(decoding: body, as: UTF8.self), event: errorEvent)
                    // An OpenAI stream always ends with [DONE], after an error too, so clients never wait on a cut.
                    if errorEvent == nil { sse?.send(data: "[DONE]") }
                    sse?.end()
                })
        } catch {
            guard let promptParam else { throw error }
            throw APIError.from(error, promptParam: promptParam)
        }
        guard let sse else { throw APIError.unavailable("the model ended without an answer") }
        return (sse, done)
    }

    /// Answers a streamed generation from the cache or from the model, in the order every streamed route
    /// keeps. On a hit the admission closes, the stream starts with the hit's headers and `replay` writes
    /// the whole answer. On a miss ``relayEvents(_:plan:_:promptParam:errorEvent:opening:piece:)`` relays
    /// the model's text (`opening`, `piece`) and `finish` writes what follows it, given what the usage
    /// costs. The stream then ends, and only after that is the completion stored and the request settled,
    /// so that the client's last bytes wait for neither.
    /// - Parameters:
    ///   - promptParam: The field a refused prompt is blamed on; nil leaves errors as they are.
    ///   - errorEvent: The event a failure after the start is sent as; nil: a plain data line, then `[DONE]`.
    /// - Returns: 200, the status a stream is logged with.
    func streamGeneration(_ generate: GenerationProtocol.Generate, plan: CachePlan, _ c: RequestContext,
                          promptParam: String?, errorEvent: String? = nil,
                          replay: (SSEWriter, CachedCompletion) -> Void,
                          opening: (SSEWriter) -> Void = { _ in },
                          piece: (SSEWriter, String) -> Bool,
                          finish: (SSEWriter, CachedCompletion, _ cost: Double?) -> Void) async throws -> Int {
        let fill: CacheFill
        switch await lookup(plan) {
        case .hit(let hit):
            await closeAdmission(c)
            let sse = try c.startEvents(hit.status.headers)
            replay(sse, hit.completion)
            sse.end()
            return 200
        case .miss(let miss): fill = miss
        }
        let (sse, done) = try await relayEvents(generate, plan: plan, c, promptParam: promptParam, errorEvent: errorEvent,
                                                opening: opening, piece: piece)
        finish(sse, done, usageCost(c, .answered(plan), done))
        sse.end()
        await store(fill, done)
        await settle(c, promptTokens: done.promptTokens, completionTokens: done.completionTokens)
        return 200
    }

    /// Streams a generation to a client. `begin` runs once the first event is in, with `missStatus` as the X-Cache
    /// value (MISS, or BYPASS when the cache was not read), so that a refusal before any output (unknown model,
    /// prompt too long, queue full) still gets its own HTTP status; `piece` gets each chunk's text and
    /// returns false when the client has gone (the generation is then cancelled). An error after `begin`
    /// is passed to `failedAfterBegin` (to report it in-band) and rethrown. The caller ends the stream and
    /// then stores the completion, so that the client's last bytes do not wait for cached.
    func relay(_ generate: GenerationProtocol.Generate, missStatus: String, answeredBy: AnsweringDeployment? = nil,
               admission: AdmissionTicket? = nil, begin: (String) throws -> Void, piece: (String) -> Bool,
               failedAfterBegin: (any Error) -> Void) async throws -> CachedCompletion {
        var clock = serving.clock(model: generate.model)
        let span = Span.current
        span?.recordRequest(generate)
        var iterator = generationEvents(generate).makeAsyncIterator()
        var event = try await iterator.next()
        // batchd names the deployment first, so the stream's headers can carry it.
        if case .route(let route)? = event {
            answeredBy?.record(route, requested: generate.model)
            span?.set("gen_ai.response.model", .string(route.model))
            event = try await iterator.next()
        }
        try begin(missStatus)
        var text = ""
        do {
            while let e = event {
                switch e {
                case .chunk(let chunk):
                    clock.piece()
                    AccessRecord.current?.firstToken()
                    text += chunk.text
                    admission?.observe(completionTokens: chunk.completionTokens)
                    if !piece(chunk.text) { throw CancellationError() }
                case .done(let d):
                    clock.finish(reason: d.finishReason)
                    span?.recordDone(d)
                    AccessRecord.current?.usage(model: answeredBy?.model(requested: generate.model) ?? generate.model,
                                                promptTokens: Int(d.promptTokens), completionTokens: Int(d.completionTokens))
                    return CachedCompletion(content: text, finishReason: d.finishReason, promptTokens: Int(d.promptTokens),
                                            completionTokens: Int(d.completionTokens))
                case .route(let route):
                    answeredBy?.record(route, requested: generate.model)
                    span?.set("gen_ai.response.model", .string(route.model))
                }
                event = try await iterator.next()
            }
            throw APIError.unavailable("the model ended without finishing")
        } catch {
            failedAfterBegin(error)
            throw error
        }
    }
}
