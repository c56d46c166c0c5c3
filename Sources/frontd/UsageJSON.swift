import Services

/// The body of `GET /v1/usage` (docs/HTTP.md, docs/openapi.yaml).
enum UsageJSON {
    /// `{"object": "usage", "key", "limits", "requests", "tokens", "in_flight", "budget", ...}`.
    static func object(_ principal: Principal, _ reply: LimitProtocol.UsageReply) -> JSONValue {
        func limit(_ value: UInt32) -> JSONValue { value == 0 ? .null : .int(value) }
        func status(_ s: LimitProtocol.LimitStatus) -> JSONValue {
            s.limit == 0 ? .null : ["limit": .int(s.limit), "remaining": .int(s.remaining),
                                    "reset": .string(AdmissionTicket.duration(milliseconds: s.resetMs)), "reset_ms": .int(s.resetMs)]
        }
        var budget: JSONObject = [
            "spend_usd": .double(NanoUSD.dollars(reply.budget.spentNanoUSD)), "reserved_usd": .double(NanoUSD.dollars(reply.budget.reservedNanoUSD)),
            "max_budget_usd": reply.budget.maxNanoUSD == 0 ? .null : .double(NanoUSD.dollars(reply.budget.maxNanoUSD)),
            "budget_duration": principal.budget.period.isEmpty ? .null : .string(principal.budget.period),
            "resets_at": reply.budget.periodEnd == 0 ? .null : .string(RateLimitNames.timestamp(reply.budget.periodEnd)),
        ]
        if reply.budget.maxNanoUSD > 0 {
            let spent = reply.budget.spentNanoUSD &+ reply.budget.reservedNanoUSD
            budget.set("remaining_usd", .double(NanoUSD.dollars(reply.budget.maxNanoUSD > spent ? reply.budget.maxNanoUSD - spent : 0)))
        }
        return [
            "object": "usage",
            "key": ["name": .string(principal.name), "id": .string(principal.id)],
            "limits": [
                "requests_per_minute": limit(reply.limits.requestsPerMinute), "requests_per_hour": limit(reply.limits.requestsPerHour),
                "tokens_per_minute": limit(reply.limits.tokensPerMinute), "max_parallel": limit(reply.limits.maxParallel),
            ],
            "requests": status(reply.requests),
            "tokens": status(reply.tokens),
            "in_flight": .int(reply.inFlight),
            "usage": ["prompt_tokens": .int(reply.promptTokens), "completion_tokens": .int(reply.completionTokens),
                      "total_tokens": .int(reply.promptTokens &+ reply.completionTokens)],
            "budget": .object(budget),
            "total_spend_usd": .double(NanoUSD.dollars(reply.totalSpentNanoUSD)),
            "models": .array(principal.models.map { .string($0) }),
        ]
    }
}
