import IPC
import Metrics
import Services

extension Frontend {
    /// limitd's decision for this request; a refusal is thrown as 429. limitd down: fail open or
    /// closed by LIMITD_FAIL_OPEN.
    func admit(_ c: RequestContext, route: String) async throws {
        do {
            let r = try await limit.admit(LimitProtocol.Admit(key: c.clientKey, route: route, requestsPerMinute: c.principal?.requestsPerMinute ?? 0),
                                          timeout: dependencyTimeout)
            if !r.allowed {
                refusals.increment()
                throw APIError.rateLimited(retryAfter: max(1, Int((r.retryAfterMs + 999) / 1000)))
            }
        } catch let e as APIError {
            throw e
        } catch {
            c.logger(logger).warn("limitd unreachable: \(error)", ["policy": .string(failOpen ? "fail open" : "fail closed")])
            if !failOpen { throw APIError.unavailable("rate limiting is unavailable") }
        }
    }

    /// Reports the tokens a request really used to limitd (best effort).
    func settle(_ c: RequestContext, promptTokens: Int, completionTokens: Int) async {
        tokens.increment([MetricLabel("kind", "prompt")], by: Double(promptTokens))
        tokens.increment([MetricLabel("kind", "completion")], by: Double(completionTokens))
        // Cost is known only for what a deployment answered (a cache hit costs nothing). The key's name,
        // never the key; requests without one are "anonymous".
        if let route = c.answeredBy.route,
           let cost = AnsweringDeployment.cost(route, registry: registry, promptTokens: promptTokens, completionTokens: completionTokens) {
            spend.increment([MetricLabel("key", c.principal?.name ?? "anonymous"), MetricLabel("model", route.model)], by: cost)
        }
        try? await limit.settle(LimitProtocol.Settle(key: c.clientKey, promptTokens: UInt32(clamping: promptTokens),
                                                     completionTokens: UInt32(clamping: completionTokens)), timeout: dependencyTimeout)
    }
}
