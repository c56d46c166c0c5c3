import Basics
import DaemonRuntime
import IPC
import Services
import Synchronization
import Wire

/// How batchd probes its deployments' health (``HealthProber``).
struct ProbePolicy: Sendable {
    /// How long a closed deployment may go unjudged — no request answered or failed, none in flight —
    /// before it is probed (`CIRCUIT_BREAKER_PROBE_INTERVAL_SEC`); nil: closed deployments are not probed.
    var idleInterval: Duration? = .seconds(10)
    /// How long a probe may take. modeld answers a little before it ("not ready" when its upstream did not
    /// answer in time); no answer at all by then counts as a failure.
    var timeout: Duration = .seconds(5)
}

/// Probes each deployment's modeld with `Health`, which costs no tokens (modeld answers from its own
/// readiness, or for an upstream from `GET {url}/models`), and moves the deployment's breaker with the
/// answer as a request would:
///
/// - an **open** breaker whose open period is over is probed at once: the probe is its half-open
///   request; success closes it, failure opens it for another period — so a deployment recovers without
///   a client's request paying for the test;
/// - a **closed** deployment that nothing has judged for `idleInterval` (no request in flight) is probed;
///   a failure counts toward `CIRCUIT_BREAKER_FAILURE_THRESHOLD`, so an idle deployment whose upstream
///   went away opens before a client finds out; busy deployments are judged by their requests;
/// - a modeld older than the probe (ERROR `unknownType`), one that is restarting (never reached, or the
///   connection lost) gives no verdict: a half-open breaker then waits for a request as its probe (and an
///   older modeld's half-open breaker is not probed again until a probe of it is answered).
///
/// One task per deployment, sleeping until its next due time.
final class HealthProber: Sendable {
    /// A deployment and the model whose gauge it is under.
    struct Target: Sendable {
        let model: String
        let deployment: DeploymentBackend
    }

    let targets: [Target]
    let policy: ProbePolicy
    let breakers: BreakerLog
    let metrics: BatchMetrics
    let logger: Logger
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(router: DeploymentRouter, policy: ProbePolicy, metrics: BatchMetrics, logger: Logger) {
        var seen: Set<String> = []
        targets = router.routes.values.sorted { $0.name < $1.name }.flatMap { route in
            route.deployments.filter { seen.insert($0.deployment.name).inserted }.map { Target(model: route.name, deployment: $0) }
        }
        self.policy = policy
        breakers = BreakerLog(metrics: metrics)
        self.metrics = metrics
        self.logger = logger
    }

    /// Starts one probing task per deployment.
    func start() {
        let started = targets.map { target in Task { await self.run(target) } }
        tasks.withLock { $0 = started }
    }

    /// Stops probing (a probe in flight is cancelled).
    func stop() {
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    private func run(_ target: Target) async {
        let idle = policy.idleInterval?.nanoseconds
        // Wake at least this often: a breaker opened by requests meanwhile is seen by its reopening time.
        let longestSleep = max(10_000_000, min(target.deployment.breakerOpenDuration, idle ?? .max))
        var knowsProbe = true
        while !Task.isCancelled {
            let rest = await probeIfDue(target, idleInterval: idle, knowsProbe: &knowsProbe) ?? 0
            let sleep = min(max(rest, 1_000_000), longestSleep)
            do { try await Task.sleep(for: .nanoseconds(sleep)) } catch { return }
        }
    }

    /// Probes `target` if it is due.
    /// - Parameter knowsProbe: Whether its modeld answers `Health`; false after an `unknownType` (an
    ///   older modeld), and then the probe never claims a half-open breaker's one request (which a
    ///   request will be instead); true again once a probe of a closed deployment is answered.
    /// - Returns: Nanoseconds until it may be due again: nil right after a verdict (look again at
    ///   once), `.max` after no verdict (wait the longest sleep).
    func probeIfDue(_ target: Target, idleInterval: Int64?, knowsProbe: inout Bool) async -> Int64? {
        let now = MonotonicClock.nowSigned()
        let name = target.deployment.deployment.name
        let (plan, transition) = target.deployment.planProbe(now: now, idleInterval: idleInterval, claimHalfOpen: knowsProbe)
        breakers.record(transition, model: target.model, deployment: name, logger: logger)
        guard case .probe(let halfOpen) = plan else {
            if case .wait(let until) = plan { return until == .max ? .max : max(0, until &- now) }
            return nil
        }
        let answer = await probe(target)
        let outcome: DeploymentBackend.Outcome
        switch answer {
        case .verdict(let verdict):
            knowsProbe = true
            outcome = verdict
        case .unknownToModeld:
            knowsProbe = false
            outcome = .neutral
        case .unanswered:
            outcome = .neutral
        }
        let result = target.deployment.finishProbe(outcome, halfOpen: halfOpen, now: MonotonicClock.nowSigned())
        breakers.record(result, model: target.model, deployment: name, logger: logger)
        if case .neutral = outcome { return .max }
        return nil
    }

    /// What one `Health` call said.
    private enum Answer {
        /// A verdict on the deployment: ready (success), or not, or no answer in time (failure).
        case verdict(DeploymentBackend.Outcome)
        /// modeld does not know the message (older than the probe).
        case unknownToModeld
        /// No verdict: modeld unreachable or restarting, the connection lost.
        case unanswered
    }

    /// One `Health` call.
    private func probe(_ target: Target) async -> Answer {
        let name = target.deployment.deployment.name
        do {
            let reply = try await target.deployment.backend.health(timeout: policy.timeout)
            if reply.ready {
                metrics.probed(target.model, name, .ok)
                return .verdict(.success(firstToken: nil))
            }
            let retryAfter = reply.retryAfterSeconds > 0 ? Int64(reply.retryAfterSeconds) * 1_000_000_000 : nil
            return failed(target, reason: "health probe: \(reply.reason)", retryAfter: retryAfter)
        } catch IPCError.timeout {
            return failed(target, reason: "health probe: no answer within \(policy.timeout)", retryAfter: nil)
        } catch IPCError.remote(let code, _) where code == IPCErrorCode.unknownType {
            metrics.probed(target.model, name, .unanswered)
            logger.debug("health probe unknown to modeld (an older version)", ["model": .string(target.model), "deployment": .string(name)])
            return .unknownToModeld
        } catch {
            metrics.probed(target.model, name, .unanswered)
            logger.debug("health probe unanswered", ["model": .string(target.model), "deployment": .string(name), "reason": .string("\(error)")])
            return .unanswered
        }
    }

    private func failed(_ target: Target, reason: String, retryAfter: Int64?) -> Answer {
        metrics.probed(target.model, target.deployment.deployment.name, .failed)
        logger.info("health probe failed", [
            "model": .string(target.model), "deployment": .string(target.deployment.deployment.name), "reason": .string(reason),
        ])
        return .verdict(.failure(reason: reason, retryAfter: retryAfter))
    }
}
