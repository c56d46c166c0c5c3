import IPC
import Wire
import Metrics
import Registry
import Services

/// What a request asks limitd to hold until it is settled.
struct AdmissionRequest {
    /// The route, for limitd's logs.
    var route: String
    /// The model asked for ("" when there is none): the scope of the key's per-model limits.
    var model: String
    /// An upper bound of the prompt's tokens (``GenerationProtocol/Generate/promptTokenBound``).
    var promptTokens: Int
    /// The most tokens the request may generate.
    var maxTokens: Int
    /// A batch: each item settles its own usage, the reservation ends with the request.
    var partial = false
}

extension Frontend {
    /// How long a reservation outlives the request's deadline before limitd settles it at its worst case:
    /// time for the settlement's own retries after a request that ran to its deadline.
    static let leaseMargin = Duration.seconds(30)

    /// limitd's decision for this request: a reservation of its request slot, its tokens (the prompt's
    /// bound plus `max_tokens`) and its worst-case cost, kept in `c.admission` for the settlement and the
    /// reply headers. A refusal is thrown as 429 (`rate_limit_exceeded` with an exact Retry-After,
    /// `budget_exceeded`, or `request_too_large`); a key that may not use the model is a 403.
    /// limitd down: fail open or closed by LIMITD_FAIL_OPEN. A limitd older than reservations is asked
    /// with version 1's `Admit` instead (a rolling restart).
    /// - Parameter answered: The cache already answered the request: limitd decides it the same way but
    ///   holds nothing (``LimitProtocol/AdmitCached``), so nothing is settled or ended after the reply. A
    ///   limitd older than that is asked for a reservation, ended after the reply as before.
    func admit(_ c: RequestContext, _ request: AdmissionRequest, answered: Bool = false) async throws {
        if !request.model.isEmpty { try requireAllowed(c, model: request.model) }
        let tokens = UInt32(clamping: request.promptTokens + request.maxTokens)
        var random = SystemRandomNumberGenerator()
        let reserve = LimitProtocol.Reserve(
            reservation: UInt64.random(in: 1...UInt64.max, using: &random), key: c.clientKey, model: request.model, route: request.route, limits: c.principal?.limits ?? .none,
            modelLimits: c.principal?.modelLimits[request.model] ?? .none, tokens: tokens,
            costNanoUSD: NanoUSD.roundingUp(worstCost(model: request.model, promptTokens: request.promptTokens, maxTokens: request.maxTokens)),
            budget: c.principal?.budget ?? LimitProtocol.Budget(),
            leaseMs: UInt32(clamping: (requestTimeout + Self.leaseMargin).components.seconds * 1000))
        let reply: LimitProtocol.ReserveReply
        do {
            // A Reserve whose reply was lost is sent again: limitd answers it from the reservation it made.
            reply = try await reserveOrAdmit(reserve, answered: answered)
        } catch IPCError.remote(let code, _) where code == IPCErrorCode.unknownType {
            try await admitVersionOne(c, route: request.route)
            return
        } catch {
            try limitdUnreachable(c, error)
            return
        }
        c.admission.admitted(reservation: reply.reservation, requests: reply.requests, tokens: reply.tokens,
                             promptBound: request.promptTokens, partial: request.partial)
        switch reply.outcome {
        case .allowed: return
        case .rateLimited:
            refusals.increment()
            throw APIError.rateLimited(retryAfter: Self.seconds(reply.retryAfterMs), limit: reply.refusedBy)
        case .budgetExceeded:
            refusals.increment()
            throw APIError.budgetExceeded(reply.budget, retryAfter: reply.retryAfterMs > 0 ? Self.seconds(reply.retryAfterMs) : nil)
        case .tooLarge:
            refusals.increment()
            throw APIError.requestTooLarge(tokens: Int(tokens), limit: Int(reply.tokens.limit), scope: reply.refusedBy)
        case .unavailable:
            c.logger(logger).warn("limitd cannot reach its shared store and fails closed")
            throw APIError.unavailable("rate limiting is unavailable", retryAfter: Self.seconds(reply.retryAfterMs))
        }
    }

    /// limitd's answer to `reserve`, asked as an ``LimitProtocol/AdmitCached`` when the cache answered (a
    /// limitd older than it: as a `Reserve`). A `Reserve` whose reply was lost is sent again: limitd answers
    /// it from the reservation it made; an `AdmitCached` sent again may count the request twice in the
    /// requests limits, never in anything else (it holds nothing).
    private func reserveOrAdmit(_ reserve: LimitProtocol.Reserve, answered: Bool) async throws -> LimitProtocol.ReserveReply {
        if answered {
            do {
                return try await retryingLostConnection { [limit] in try await limit.admitCached(LimitProtocol.AdmitCached(reserve), timeout: $0) }
            } catch IPCError.remote(let code, _) where code == IPCErrorCode.unknownType {}
        }
        return try await retryingLostConnection { [limit] in try await limit.reserve(reserve, timeout: $0) }
    }

    /// Version 1's admission (requests per window only), for a limitd older than reservations.
    private func admitVersionOne(_ c: RequestContext, route: String) async throws {
        do {
            let r = try await limit.admit(LimitProtocol.Admit(key: c.clientKey, route: route, requestsPerMinute: c.principal?.requestsPerMinute ?? 0),
                                          timeout: dependencyTimeout)
            c.admission.admitted(reservation: 0, versionOne: true,
                                 requests: LimitProtocol.LimitStatus(limit: r.limit, remaining: r.remaining, resetMs: 0), tokens: nil)
            if !r.allowed {
                refusals.increment()
                throw APIError.rateLimited(retryAfter: Self.seconds(r.retryAfterMs), limit: "rpm")
            }
        } catch let e as APIError {
            throw e
        } catch {
            try limitdUnreachable(c, error)
        }
    }

    /// LIMITD_FAIL_OPEN: log, then admit unlimited or throw 503.
    private func limitdUnreachable(_ c: RequestContext, _ error: any Error) throws {
        c.logger(logger).warn("limitd unreachable: \(error)", ["policy": .string(failOpen ? "fail open" : "fail closed")])
        if !failOpen { throw APIError.unavailable("rate limiting is unavailable") }
    }

    /// How long a settlement waits for limitd (a restart reading its state back) before the reservation's
    /// lease is left to charge it.
    static let settleTimeout = Duration.seconds(5)

    /// Runs an idempotent call to limitd, sending it again when the connection was lost with the call in
    /// flight (limitd restarting), within `timeout` in all.
    /// - Parameters:
    ///   - timeout: The time for every attempt together; DEPENDENCY_TIMEOUT_MS when nil.
    ///   - call: The call, given the time left.
    func retryingLostConnection<Result>(within timeout: Duration? = nil, _ call: (Duration) async throws -> Result) async throws -> Result {
        let deadline = ContinuousClock.now + (timeout ?? dependencyTimeout)
        while true {
            do {
                return try await call(ContinuousClock.now.duration(to: deadline))
            } catch IPCError.connectionLost where ContinuousClock.now < deadline {
                continue
            }
        }
    }

    /// Milliseconds as Retry-After's whole seconds, rounded up, at least 1.
    static func seconds(_ milliseconds: UInt32) -> Int { max(1, Int((UInt64(milliseconds) + 999) / 1000)) }

    /// The most a request to `model` can cost: its prompt bound at the highest input price and
    /// `maxTokens` at the highest output price among the deployments of the model and of its fallbacks
    /// (any of them may answer). 0 without a registry.
    func worstCost(model: String, promptTokens: Int, maxTokens: Int) -> Double {
        guard let registry else { return 0 }
        let deployments = registry.fallbackChain(for: model).flatMap(\.deployments)
        let input = deployments.map(\.priceInputPer1M).max() ?? 0, output = deployments.map(\.priceOutputPer1M).max() ?? 0
        return (Double(promptTokens) * input + Double(maxTokens) * output) / 1_000_000
    }

    /// Reports what a request really used to limitd: its tokens, and its cost at the answering
    /// deployment's prices. An OpenAI route's answer is settled after its reply is written (until then the
    /// reservation holds the worst case, so no limit is overrun meanwhile); a failure is logged, and the
    /// reservation's lease then charges the worst case.
    func settle(_ c: RequestContext, promptTokens: Int, completionTokens: Int) async {
        tokens.increment([MetricLabel("kind", "prompt")], by: Double(promptTokens))
        tokens.increment([MetricLabel("kind", "completion")], by: Double(completionTokens))
        // Cost is known only for what a deployment answered (a cache hit costs nothing). The key's name,
        // never the key; requests without one are "anonymous".
        let cost = c.answeredBy.route.flatMap {
            AnsweringDeployment.cost($0, registry: registry, promptTokens: promptTokens, completionTokens: completionTokens)
        }
        if let route = c.answeredBy.route, let cost {
            spend.increment([MetricLabel("key", c.principal?.name ?? "anonymous"), MetricLabel("model", route.model)], by: cost)
        }
        let settlement = c.admission.settlement()
        do {
            if let reservation = settlement.reservation {
                let commit = LimitProtocol.Commit(reservation: reservation, promptTokens: UInt32(clamping: promptTokens),
                                                  completionTokens: UInt32(clamping: completionTokens),
                                                  costNanoUSD: NanoUSD.rounded(cost ?? 0), final: settlement.final)
                if commit.final {
                    // Final commits are idempotent (a second finds the reservation ended): safe to send again.
                    try await retryingLostConnection(within: Self.settleTimeout) { [limit] in try await limit.commit(commit, timeout: $0) }
                } else {
                    try await limit.commit(commit, timeout: Self.settleTimeout)
                }
            } else {
                try await limit.settle(LimitProtocol.Settle(key: c.clientKey, promptTokens: UInt32(clamping: promptTokens),
                                                            completionTokens: UInt32(clamping: completionTokens)), timeout: dependencyTimeout)
            }
        } catch {
            c.logger(logger).warn("limitd did not take a settlement: \(error); the reservation's lease will charge its worst case")
        }
    }

    /// Ends the request's reservation if nothing settled it (an error, a cancel, a client that went away,
    /// a cache hit): its slot is freed, and a stream cut short is charged what it generated.
    func closeAdmission(_ c: RequestContext) async {
        guard let open = c.admission.close() else { return }
        let cost = c.answeredBy.route.flatMap {
            AnsweringDeployment.cost($0, registry: registry, promptTokens: open.promptTokens, completionTokens: open.completionTokens)
        }
        do {
            let commit = LimitProtocol.Commit(reservation: open.reservation, promptTokens: UInt32(clamping: open.promptTokens),
                                              completionTokens: UInt32(clamping: open.completionTokens),
                                              costNanoUSD: NanoUSD.rounded(cost ?? 0), final: true)
            try await retryingLostConnection(within: Self.settleTimeout) { [limit] in try await limit.commit(commit, timeout: $0) }
        } catch {
            c.logger(logger).warn("limitd did not take the end of a reservation: \(error); its lease ends it")
        }
    }

    /// `GET /v1/usage`: the calling key's limits, where each stands, its tokens and its spend.
    func usage(_ c: RequestContext) async throws -> Int {
        guard let principal = c.principal else {
            throw APIError.invalid("/v1/usage describes an API key; authentication is off, so there is none")
        }
        let reply: LimitProtocol.UsageReply
        do {
            reply = try await limit.usage(LimitProtocol.Usage(key: c.clientKey, limits: principal.limits, budget: principal.budget),
                                          timeout: dependencyTimeout)
        } catch {
            throw APIError.unavailable("limitd is unreachable: usage is unknown")
        }
        try c.send(.ok, json: UsageJSON.object(principal, reply))
        return 200
    }

    /// The native routes' admission: the request's generation, its prompt bound and max tokens.
    /// - Parameter answered: The cache already answered it (see ``admit(_:_:answered:)``).
    func admit(_ c: RequestContext, route: String, _ generate: GenerationProtocol.Generate, answered: Bool = false) async throws {
        try await admit(c, AdmissionRequest(route: route, model: generate.model, promptTokens: generate.promptTokenBound,
                                            maxTokens: Int(generate.parameters.maxTokens)), answered: answered)
    }
}

extension GenerationProtocol.Generate {
    /// Tokens of the template around each chat message (`<|im_start|>`, the role, newlines, `<|im_end|>`).
    static let tokensPerMessage = 8
    /// Tokens a chat template may add once: a default system prompt (SmolLM2's is 70 bytes) and the
    /// opening of the assistant's turn.
    static let templateTokens = 128

    /// An upper bound of the prompt's tokens, without a tokenizer: byte-level BPE (SmolLM2, GPT-2, Llama 3
    /// and the tokenizers of every common upstream) never makes more tokens than the text has bytes, and
    /// the template adds at most ``tokensPerMessage`` per message and ``templateTokens`` once.
    var promptTokenBound: Int {
        if messages.isEmpty { return prompt.utf8.count + Self.tokensPerMessage }
        return messages.reduce(Self.templateTokens) { $0 + $1.content.utf8.count + $1.role.utf8.count + Self.tokensPerMessage }
    }
}
