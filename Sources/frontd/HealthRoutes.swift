import HTTP
import IPC
import Metrics

extension Frontend {
    /// `GET /health`, `/health/live`: the process is up.
    func health(_ c: RequestContext) throws -> Int {
        try c.send(.ok, json: ["status": "ok"])
        return 200
    }

    /// `GET /ready`, `/health/ready`: 200 when limitd, cached and batchd answer, else 503 naming the one down.
    func ready(_ c: RequestContext) async throws -> Int {
        async let l = ping(limit.client)
        async let k = ping(cache.client)
        async let b = ping(batch.client)
        let checks = await ["limitd": l, "cached": k, "batchd": b]
        let ok = checks.values.allSatisfy { $0 }
        let status = ok ? HTTPStatus.ok : HTTPStatus(code: 503, reason: "Service Unavailable")
        try c.send(status, json: ["status": ok ? "ready" : "not ready", "dependencies": checks.mapValues { $0 ? "up" : "down" }],
                   extra: ok ? HTTPHeaders() : ["Retry-After": "1"])
        return status.code
    }

    private func ping(_ client: IPCClient) async -> Bool {
        (try? await client.call(type: StatsProtocol.statsType, payload: [], timeout: dependencyTimeout)) != nil
    }
}
