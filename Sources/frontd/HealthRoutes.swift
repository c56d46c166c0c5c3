import HTTP
import IPC
import Metrics
import Wire

extension Frontend {
    /// `GET /health`, `/health/live`: the process is up.
    func health(_ c: RequestContext) throws -> Int {
        try c.send(.ok, json: ["status": "ok"])
        return 200
    }

    /// `GET /ready`, `/health/ready`: 200 when limitd, cached and batchd answer, else 503 naming the one
    /// down; the body also shows each deployment's circuit breaker as batchd reports it
    /// (`"breakers": {"chat/chat-cloud": "open"}`), which does not change the status: a model with an open
    /// breaker may still be served by its other deployments or fallbacks.
    func ready(_ c: RequestContext) async throws -> Int {
        async let l = stats(limit.client)
        async let k = stats(cache.client)
        async let b = stats(batch.client)
        let (limitd, cached, batchd) = await (l, k, b)
        let checks = ["limitd": limitd != nil, "cached": cached != nil, "batchd": batchd != nil]
        let ok = checks.values.allSatisfy { $0 }
        let status = ok ? HTTPStatus.ok : HTTPStatus(code: 503, reason: "Service Unavailable")
        try c.send(status, json: ["status": ok ? "ready" : "not ready", "dependencies": .strings(checks.mapValues { $0 ? "up" : "down" }),
                                  "breakers": .strings(batchd.map(Self.breakers) ?? [:])],
                   extra: ok ? HTTPHeaders() : ["Retry-After": "1"])
        return status.code
    }

    /// A daemon's stats reply, or nil when it does not answer in time.
    private func stats(_ client: IPCClient) async -> [UInt8]? {
        try? await client.call(type: StatsProtocol.statsType, payload: [], timeout: dependencyTimeout)
    }

    /// `infer_batchd_breaker_state` of batchd's stats, as "model/deployment": "closed" | "open" | "half-open".
    static func breakers(_ payload: [UInt8]) -> [String: String] {
        guard let snapshot = try? MetricsSnapshot(decoding: payload),
              let family = snapshot.families.first(where: { $0.name == "infer_batchd_breaker_state" }) else { return [:] }
        var result: [String: String] = [:]
        for sample in family.samples {
            let model = sample.labels.first { $0.name == "model" }?.value ?? "?"
            let deployment = sample.labels.first { $0.name == "deployment" }?.value ?? "?"
            result[model + "/" + deployment] = switch sample.value { case 0: "closed"; case 1: "open"; default: "half-open" }
        }
        return result
    }
}
