import Foundation
import Services

/// The body of `GET /v1/usage` (docs/HTTP.md, docs/openapi.yaml).
enum UsageJSON {
    /// `{"object": "usage", "key", "limits", "requests", "tokens", "in_flight", "budget", ...}`.
    static func object(_ principal: Principal, _ reply: LimitProtocol.UsageReply) -> [String: Any] {
        func limit(_ value: UInt32) -> Any { value == 0 ? NSNull() : Int(value) }
        func status(_ s: LimitProtocol.LimitStatus) -> Any {
            s.limit == 0 ? NSNull() : ["limit": Int(s.limit), "remaining": Int(s.remaining),
                                               "reset": AdmissionTicket.duration(milliseconds: s.resetMs), "reset_ms": Int(s.resetMs)] as [String: Any]
        }
        var budget: [String: Any] = [
            "spend_usd": NanoUSD.dollars(reply.budget.spentNanoUSD), "reserved_usd": NanoUSD.dollars(reply.budget.reservedNanoUSD),
            "max_budget_usd": reply.budget.maxNanoUSD == 0 ? NSNull() : NanoUSD.dollars(reply.budget.maxNanoUSD),
            "budget_duration": principal.budget.period.isEmpty ? NSNull() : principal.budget.period,
            "resets_at": reply.budget.periodEnd == 0 ? NSNull() : RateLimitNames.timestamp(reply.budget.periodEnd),
        ]
        if reply.budget.maxNanoUSD > 0 {
            let spent = reply.budget.spentNanoUSD &+ reply.budget.reservedNanoUSD
            budget["remaining_usd"] = NanoUSD.dollars(reply.budget.maxNanoUSD > spent ? reply.budget.maxNanoUSD - spent : 0)
        }
        return [
            "object": "usage",
            "key": ["name": principal.name, "id": principal.id],
            "limits": [
                "requests_per_minute": limit(reply.limits.requestsPerMinute), "requests_per_hour": limit(reply.limits.requestsPerHour),
                "tokens_per_minute": limit(reply.limits.tokensPerMinute), "max_parallel": limit(reply.limits.maxParallel),
            ],
            "requests": status(reply.requests),
            "tokens": status(reply.tokens),
            "in_flight": Int(reply.inFlight),
            "usage": ["prompt_tokens": Int(reply.promptTokens), "completion_tokens": Int(reply.completionTokens),
                      "total_tokens": Int(reply.promptTokens &+ reply.completionTokens)],
            "budget": budget,
            "total_spend_usd": NanoUSD.dollars(reply.totalSpentNanoUSD),
            "models": principal.models,
        ]
    }
}
