import DaemonRuntime

/// Where a circuit breaker's change of state goes: a `warn` log line (`"circuit breaker"`, with model,
/// deployment, from, to and reason) and `infer_batchd_breaker_state{model,deployment}`. Requests and
/// health probes report through the same one.
struct BreakerLog: Sendable {
    let metrics: BatchMetrics

    /// Logs `transition` (if any) of `deployment`'s breaker and sets its gauge.
    /// - Parameter logger: The request's logger (with its request id), or the daemon's for a probe.
    func record(_ transition: CircuitBreaker.Transition?, model: String, deployment: String, logger: Logger) {
        guard let transition else { return }
        metrics.breaker(model, deployment, transition.to)
        logger.warn("circuit breaker", [
            "model": .string(model), "deployment": .string(deployment),
            "from": .string(transition.from.rawValue), "to": .string(transition.to.rawValue), "reason": .string(transition.reason),
        ])
    }
}
