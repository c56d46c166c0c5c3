import Basics
import Registry
import Services
import Synchronization

/// One deployment as batchd routes to it: its backend (the modeld instance), its circuit breaker, the
/// requests it runs now and the moving average of its time to first token.
final class DeploymentBackend: Sendable {
    let deployment: Deployment
    let backend: any ModelBackend
    /// Requests it may run at once before others are preferred (its `max_concurrency`, else batchd's).
    let capacity: Int

    private struct State {
        var breaker: CircuitBreaker
        var inFlight = 0
        var firstToken = MovingAverage()
    }

    private let state: Mutex<State>

    init(deployment: Deployment, backend: any ModelBackend, capacity: Int, breaker: CircuitBreaker) {
        self.deployment = deployment
        self.backend = backend
        self.capacity = max(1, deployment.maxConcurrency ?? capacity)
        state = Mutex(State(breaker: breaker))
    }

    /// What the chooser needs now.
    func status(now: Int64) -> DeploymentStatus {
        state.withLock {
            DeploymentStatus(deployment: deployment, available: $0.breaker.isAvailable(now: now), inFlight: $0.inFlight,
                             capacity: capacity, averageFirstToken: $0.firstToken.value)
        }
    }

    /// The breaker's state, for the gauge and `/health/ready`.
    var breakerState: CircuitBreaker.State { state.withLock { $0.breaker.state } }

    /// Claims a request: the breaker's verdict; on `allowed` or `probe` the request counts as in flight
    /// until ``finish(_:now:)``.
    func begin(now: Int64) -> (CircuitBreaker.Admission, CircuitBreaker.Transition?) {
        state.withLock { state in
            let (admission, transition) = state.breaker.admit(now: now)
            if case .refused = admission { return (admission, transition) }
            state.inFlight += 1
            return (admission, transition)
        }
    }

    /// How a claimed request ended, for the breaker.
    enum Outcome {
        /// Answered; the first token (or the reply) came after `firstToken` seconds.
        case success(firstToken: Double?)
        /// The deployment failed in a way that says it is unwell; `retryAfter` nanoseconds when it asked.
        case failure(reason: String, retryAfter: Int64?)
        /// No verdict on the deployment's health (cancelled, or the request itself was refused).
        case neutral
    }

    /// Ends a claimed request. - Returns: The breaker's transition, if any, for the log and the gauge.
    func finish(_ outcome: Outcome, now: Int64) -> CircuitBreaker.Transition? {
        state.withLock { state in
            state.inFlight = max(0, state.inFlight - 1)
            switch outcome {
            case .success(let firstToken):
                if let firstToken { state.firstToken.add(firstToken) }
                return state.breaker.recordSuccess()
            case .failure(let reason, let retryAfter):
                return state.breaker.recordFailure(now: now, retryAfter: retryAfter, reason: reason)
            case .neutral:
                state.breaker.releaseProbe()
                return nil
            }
        }
    }
}

/// A public model as batchd routes it: its deployments, its strategy and its fallbacks.
struct ModelRoute: Sendable {
    let name: String
    let strategy: RoutingStrategy
    let deployments: [DeploymentBackend]
    let fallbacks: [String]
}

/// Every routed model, and the order in which a request's targets are tried: the model's deployments
/// by its strategy, then each fallback's, skipping deployments already tried and those whose breaker
/// is open.
struct DeploymentRouter: Sendable {
    let routes: [String: ModelRoute]

    /// The models a request for `model` may be answered by, in order: itself, then its fallbacks
    /// (breadth first, each once; the registry refuses loops).
    func chain(for model: String) -> [ModelRoute] {
        guard let first = routes[model] else { return [] }
        var chain = [first]
        var seen: Set<String> = [model]
        var index = 0
        while index < chain.count {
            for next in chain[index].fallbacks where seen.insert(next).inserted {
                if let route = routes[next] { chain.append(route) }
            }
            index += 1
        }
        return chain
    }

    /// Every deployment of every model, each once.
    var deployments: [DeploymentBackend] {
        var seen: Set<String> = []
        return routes.values.sorted { $0.name < $1.name }.flatMap(\.deployments).filter { seen.insert($0.deployment.name).inserted }
    }
}

/// The targets of one request, tried in turn: which deployment next, under which model.
struct TargetPicker {
    let chain: [ModelRoute]
    let promptTokens: Int
    let maxTokens: Int
    private var modelIndex = 0
    private var tried: Set<String> = []

    init(chain: [ModelRoute], promptTokens: Int, maxTokens: Int) {
        self.chain = chain
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
    }

    /// The model being tried now.
    var currentModel: ModelRoute? { modelIndex < chain.count ? chain[modelIndex] : nil }

    /// Gives up on the current model (e.g. the prompt exceeds its context): the next try is a fallback.
    mutating func skipModel() {
        modelIndex += 1
    }

    /// The next deployment to try and the model it answers as, or nil when every one is tried or open.
    mutating func next(now: Int64, random: Double) -> (ModelRoute, DeploymentBackend)? {
        while let route = currentModel {
            let candidates = route.deployments.filter { !tried.contains($0.deployment.name) }
            let order = DeploymentChooser.order(candidates.map { $0.status(now: now) }, strategy: route.strategy,
                                                promptTokens: promptTokens, maxTokens: maxTokens, random: random)
            if let first = order.first {
                tried.insert(candidates[first].deployment.name)
                return (route, candidates[first])
            }
            modelIndex += 1
        }
        return nil
    }
}
