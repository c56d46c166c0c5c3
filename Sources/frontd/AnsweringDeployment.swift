import HTTP
import Registry
import Services
import Synchronization

/// Which deployment answered a request, and as which model, as batchd reported it (its route frame at a
/// generation's start, or the end of an embedding reply): the source of `X-Infer-Deployment`,
/// `X-Infer-Fallback`, the reply's `model` and its cost.
final class AnsweringDeployment: Sendable {
    private struct State {
        var route: GenerationProtocol.Route?
        var requested: String?
    }

    private let state = Mutex(State())

    /// Records batchd's route for a request that asked for `requested`.
    func record(_ route: GenerationProtocol.Route, requested: String) {
        state.withLock { $0 = State(route: route, requested: requested) }
    }

    /// The route, if batchd sent one (a cache hit has none).
    var route: GenerationProtocol.Route? { state.withLock { $0.route } }

    /// The model that answered: the fallback's name when one took over, else `requested`.
    func model(requested: String) -> String { route?.model ?? requested }

    /// `X-Infer-Deployment` and `X-Infer-Fallback` (when a fallback answered): what a stream's headers can
    /// say, before the cost is known.
    func identityHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        let (route, requested) = state.withLock { ($0.route, $0.requested) }
        guard let route else { return headers }
        headers.add(name: "X-Infer-Deployment", value: route.deployment)
        if let requested, route.model != requested { headers.add(name: "X-Infer-Fallback", value: route.model) }
        return headers
    }

    /// The identity headers and `X-Infer-Cost` (USD, when the registry prices the deployment) for a request
    /// that used these tokens.
    func headers(registry: ModelRegistry?, promptTokens: Int, completionTokens: Int) -> HTTPHeaders {
        var headers = identityHeaders()
        if let route, let cost = Self.cost(route, registry: registry, promptTokens: promptTokens, completionTokens: completionTokens) {
            headers.add(name: "X-Infer-Cost", value: Self.format(cost))
        }
        return headers
    }

    /// What a reply's `usage.cost` says: 0 for a cache hit (no model ran, nothing is charged), else what
    /// the answering deployment charges for the tokens; nil (the field is left out) when it is not priced.
    func cost(registry: ModelRegistry?, hit: Bool, _ done: CachedCompletion) -> Double? {
        if hit { return 0 }
        guard let route else { return nil }
        return Self.cost(route, registry: registry, promptTokens: done.promptTokens, completionTokens: done.completionTokens)
    }

    /// What the deployment charges for the tokens, in USD; nil when the registry does not know it.
    static func cost(_ route: GenerationProtocol.Route, registry: ModelRegistry?, promptTokens: Int, completionTokens: Int) -> Double? {
        registry?.deployment(named: route.deployment)?.deployment.cost(inputTokens: promptTokens, outputTokens: completionTokens)
    }

    /// USD with ten decimals and no exponent (a cheap request costs fractions of a cent).
    static func format(_ cost: Double) -> String {
        let scaled = Int64((max(0, cost) * 1e10).rounded())
        let whole = scaled / 10_000_000_000, fraction = scaled % 10_000_000_000
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: 10 - digits.count) + digits
    }
}
