import Basics
import Registry
import Services
import Synchronization

/// One deployment as batchd routes to it: its backend (the modeld instance), its circuit breaker, its
/// per-minute caps, the requests it runs now and the moving average of its time to first token.
final class DeploymentBackend: Sendable {
    let deployment: Deployment
    let backend: any ModelBackend
    /// Requests it may run at once before others are preferred (its `max_concurrency`, else batchd's).
    let capacity: Int
    /// How long its breaker stays open (the prober wakes at least this often).
    let breakerOpenDuration: Int64

    private struct State {
        var breaker: CircuitBreaker
        var usage: MinuteUsage
        var inFlight = 0
        var firstToken = MovingAverage()
        /// When a request or probe last said how the deployment is (monotonic nanoseconds).
        var lastVerdict: Int64
        /// A health probe of the prober's is out.
        var probing = false
    }

    private let state: Mutex<State>

    init(deployment: Deployment, backend: any ModelBackend, capacity: Int, breaker: CircuitBreaker,
         now: Int64 = MonotonicClock.nowSigned()) {
        self.deployment = deployment
        self.backend = backend
        self.capacity = max(1, deployment.maxConcurrency ?? capacity)
        breakerOpenDuration = breaker.openDuration
        state = Mutex(State(
            breaker: breaker,
            usage: MinuteUsage(requestsPerMinute: deployment.requestsPerMinute, tokensPerMinute: deployment.tokensPerMinute),
            lastVerdict: now))
    }

    /// What the chooser needs now.
    func status(now: Int64) -> DeploymentStatus {
        state.withLock {
            DeploymentStatus(deployment: deployment, available: $0.breaker.isAvailable(now: now), inFlight: $0.inFlight,
                             capacity: capacity, averageFirstToken: $0.firstToken.value,
                             cappedUntil: $0.usage.cappedUntil(now: now))
        }
    }

    /// The breaker's state, for the gauge and `/health/ready`.
    var breakerState: CircuitBreaker.State { state.withLock { $0.breaker.state } }

    /// Claims a request: refused while the deployment is at a per-minute cap (until the minute ends),
    /// else the breaker's verdict; on `allowed` or `probe` the request counts as in flight, and against
    /// the caps with `estimate` tokens, until ``finish(_:wasProbe:now:estimate:used:)``.
    func begin(now: Int64, estimate: Int) -> (CircuitBreaker.Admission, CircuitBreaker.Transition?) {
        state.withLock { state in
            if let until = state.usage.cappedUntil(now: now) { return (.refused(until: until), nil) }
            let (admission, transition) = state.breaker.admit(now: now)
            if case .refused = admission { return (admission, transition) }
            state.inFlight += 1
            state.usage.claim(now: now, estimate: estimate)
            return (admission, transition)
        }
    }

    /// How a claimed request (or a health probe) ended, for the breaker.
    enum Outcome {
        /// Answered; the first token (or the reply) came after `firstToken` seconds (nil: a probe).
        case success(firstToken: Double?)
        /// The deployment failed in a way that says it is unwell; `retryAfter` nanoseconds when it asked.
        case failure(reason: String, retryAfter: Int64?)
        /// No verdict on the deployment's health (cancelled, or the request itself was refused).
        case neutral
    }

    /// Ends a claimed request.
    /// - Parameters:
    ///   - wasProbe: The request was admitted as the half-open probe (so no verdict frees the slot).
    ///   - estimate: The tokens ``begin(now:estimate:)`` reserved.
    ///   - used: The tokens the request used, for the `tpm` cap.
    /// - Returns: The breaker's transition, if any, for the log and the gauge.
    func finish(_ outcome: Outcome, wasProbe: Bool, now: Int64, estimate: Int, used: Int) -> CircuitBreaker.Transition? {
        state.withLock { state in
            state.inFlight = max(0, state.inFlight - 1)
            state.usage.settle(now: now, estimate: estimate, used: used)
            if case .success(let firstToken?) = outcome { state.firstToken.add(firstToken) }
            return Self.judge(&state, outcome, now: now, releasesProbe: wasProbe)
        }
    }

    /// What the prober does next for this deployment.
    enum ProbePlan: Equatable {
        /// Probe now; `halfOpen`: the probe is the breaker's half-open one.
        case probe(halfOpen: Bool)
        /// Nothing to do before `until` (monotonic nanoseconds).
        case wait(until: Int64)
    }

    /// Decides whether to probe now: an open breaker past its open period (the probe turns it
    /// half-open and is its one admitted request), a half-open breaker with no probe out, or — when
    /// `idleInterval` is set — a closed deployment with nothing in flight that no request or probe has
    /// judged for that long. A `probe` must be followed by ``finishProbe(_:halfOpen:now:)``.
    /// - Parameter claimHalfOpen: false: leave an open or half-open breaker to requests (its modeld
    ///   does not answer probes).
    func planProbe(now: Int64, idleInterval: Int64?, claimHalfOpen: Bool = true) -> (ProbePlan, CircuitBreaker.Transition?) {
        state.withLock { state in
            guard !state.probing else { return (.wait(until: now &+ breakerOpenDuration), nil) }
            switch state.breaker.state {
            case .open, .halfOpen:
                guard claimHalfOpen else { return (.wait(until: .max), nil) }
                let (admission, transition) = state.breaker.admit(now: now)
                switch admission {
                case .probe:
                    state.probing = true
                    return (.probe(halfOpen: true), transition)
                case .refused(let until):
                    return (.wait(until: until), transition)
                case .allowed:
                    return (.wait(until: now), transition)
                }
            case .closed:
                guard let idleInterval else { return (.wait(until: .max), nil) }
                let due = state.lastVerdict &+ idleInterval
                guard state.inFlight == 0, now >= due else { return (.wait(until: max(due, now &+ idleInterval / 4)), nil) }
                state.probing = true
                return (.probe(halfOpen: false), nil)
            }
        }
    }

    /// Ends a health probe: it moves the breaker as a request would (a success closes a half-open
    /// breaker or resets the failure count; a failure counts or reopens); no verdict frees the
    /// half-open slot for the next request.
    func finishProbe(_ outcome: Outcome, halfOpen: Bool, now: Int64) -> CircuitBreaker.Transition? {
        state.withLock { state in
            state.probing = false
            return Self.judge(&state, outcome, now: now, releasesProbe: halfOpen)
        }
    }

    private static func judge(_ state: inout State, _ outcome: Outcome, now: Int64, releasesProbe: Bool) -> CircuitBreaker.Transition? {
        switch outcome {
        case .success:
            state.lastVerdict = now
            return state.breaker.recordSuccess()
        case .failure(let reason, let retryAfter):
            state.lastVerdict = now
            return state.breaker.recordFailure(now: now, retryAfter: retryAfter, reason: reason)
        case .neutral:
            if releasesProbe { state.breaker.releaseProbe() }
            return nil
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
    let size: RequestSize
    private var modelIndex = 0
    private var tried: Set<String> = []
    /// The earliest moment a deployment left out for its per-minute caps takes requests again.
    private(set) var capsLiftAt: Int64?
    /// Why a model was passed over because the prompt surely exceeds its deployments' context (the
    /// last such), for the answer when nothing else is left.
    private(set) var contextRefusal: String?

    init(chain: [ModelRoute], size: RequestSize) {
        self.chain = chain
        self.size = size
    }

    /// The model being tried now.
    var currentModel: ModelRoute? { modelIndex < chain.count ? chain[modelIndex] : nil }

    /// Gives up on the current model (e.g. the prompt exceeds its context): the next try is a fallback.
    mutating func skipModel() {
        modelIndex += 1
    }

    /// The next deployment to try and the model it answers as, or nil when every one is tried, open,
    /// at its per-minute caps, or too short for the prompt (``PromptBound``).
    mutating func next(now: Int64, random: Double) -> (ModelRoute, DeploymentBackend)? {
        while let route = currentModel {
            let untried = route.deployments.filter { !tried.contains($0.deployment.name) }
            let fitting = untried.filter { !PromptBound.exceeds(bytes: size.contextBytes, contextLength: $0.deployment.contextLength) }
            if fitting.isEmpty, let longest = untried.compactMap(\.deployment.contextLength).max() {
                contextRefusal = "the prompt (\(size.contextBytes) bytes, so at least \(PromptBound.minimumTokens(bytes: size.contextBytes)) "
                    + "tokens) exceeds the context of \(route.name) (\(longest) tokens)"
            }
            let statuses = fitting.map { $0.status(now: now) }
            for status in statuses where status.available {
                if let until = status.cappedUntil { capsLiftAt = min(capsLiftAt ?? until, until) }
            }
            let order = DeploymentChooser.order(statuses, strategy: route.strategy, promptTokens: size.promptTokens,
                                                maxTokens: size.maxTokens, random: random)
            if let first = order.first {
                tried.insert(fitting[first].deployment.name)
                return (route, fitting[first])
            }
            modelIndex += 1
        }
        return nil
    }
}

/// What batchd knows of a request's size without a tokenizer: prompt tokens estimated from its bytes
/// (÷ 4), the most tokens it may generate, and the bytes the context check counts.
struct RequestSize: Sendable {
    var promptTokens: Int
    var maxTokens: Int
    /// The prompt's UTF-8 bytes for ``PromptBound`` (0: not checked — an embedding's inputs are each a
    /// sequence of their own).
    var contextBytes: Int = 0

    /// The tokens reserved against a deployment's `tpm` while the request runs.
    var estimate: Int { promptTokens + maxTokens }
}
