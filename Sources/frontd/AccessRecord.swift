import DaemonRuntime
import Synchronization

/// What frontd's access line says of one request beyond its method, route and status: the model and
/// deployment that answered, how the cache answered, the tokens, the cost and the time to the first
/// token. The router makes one per request and binds it as ``current`` while the route runs; the
/// generation and cache code fill in what they learn.
final class AccessRecord: Sendable {
    private struct Fields {
        var model: String?
        var cache: String?
        var promptTokens: Int?
        var completionTokens: Int?
        var cost: Double?
        var firstToken: Duration?
    }

    /// When the request arrived (the time to first token counts from here, as the client sees it).
    let started: ContinuousClock.Instant
    private let fields = Mutex(Fields())

    init(started: ContinuousClock.Instant = .now) {
        self.started = started
    }

    /// The record of the request the task serves.
    @TaskLocal static var current: AccessRecord?

    /// The first piece of text is out (later calls change nothing).
    func firstToken() {
        let now = ContinuousClock.now
        fields.withLock { if $0.firstToken == nil { $0.firstToken = started.duration(to: now) } }
    }

    /// The generation's model and token counts.
    func usage(model: String, promptTokens: Int, completionTokens: Int) {
        fields.withLock {
            $0.model = model
            $0.promptTokens = promptTokens
            $0.completionTokens = completionTokens
        }
    }

    /// How the cache answered (hit, hit-semantic, coalesced, miss, bypass).
    func cache(_ result: String) { fields.withLock { $0.cache = result } }

    /// The reply's cost in USD.
    func cost(_ usd: Double?) { if let usd { fields.withLock { $0.cost = usd } } }

    /// Writes the request's access line (info): the router's fields, then this record's, null where the
    /// request had none (a health check has no model), so every line has the same keys.
    func log(_ log: Logger, method: String, route: String, status: Int, seconds: Double, key: String?, deployment: String?) {
        let f = fields.withLock { $0 }
        func optional(_ value: Int?) -> LogValue { value.map { LogValue($0) } ?? .null }
        let ttft = f.firstToken.map { LogValue.double((Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) * 1000) }
        log.info("access", [
            "method": .string(method), "route": .string(route), "status": LogValue(status), "ms": .double(seconds * 1000),
            "ttft_ms": ttft ?? .null, "prompt_tokens": optional(f.promptTokens), "completion_tokens": optional(f.completionTokens),
            "cost_usd": f.cost.map { .double($0) } ?? .null, "model": f.model.map { .string($0) } ?? .null,
            "deployment": deployment.map { .string($0) } ?? .null, "cache": f.cache.map { .string($0) } ?? .null,
            "key": key.map { .string($0) } ?? .null,
        ])
    }
}
