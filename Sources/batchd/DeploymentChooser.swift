import Registry

/// What the chooser knows of one deployment at the moment of a request.
struct DeploymentStatus: Sendable {
    /// The deployment (its prices and weight).
    let deployment: Deployment
    /// Whether its breaker would let a request go.
    let available: Bool
    /// Requests it is running now.
    let inFlight: Int
    /// The most it takes at once.
    let capacity: Int
    /// Moving average of its time to first token, seconds; nil before the first answer.
    let averageFirstToken: Double?
    /// When its per-minute caps lift, while it is at one (monotonic nanoseconds); nil: it has room.
    var cappedUntil: Int64? = nil
}

/// Orders a model's deployments for one request by the model's ``RoutingStrategy``: the first is tried
/// first, the rest are where a retry goes. Unavailable deployments (breaker open) and those at a
/// per-minute cap (`rpm`, `tpm`) are left out; deployments at capacity go after those with room.
enum DeploymentChooser {
    /// - Parameters:
    ///   - statuses: The model's deployments.
    ///   - strategy: The model's strategy.
    ///   - promptTokens: The request's prompt tokens (estimated), for `cost`.
    ///   - maxTokens: The request's max tokens, for `cost`.
    ///   - random: A number in [0, 1), for `weighted`.
    /// - Returns: Indices into `statuses`, best first.
    static func order(_ statuses: [DeploymentStatus], strategy: RoutingStrategy, promptTokens: Int, maxTokens: Int,
                      random: Double) -> [Int] {
        let candidates = statuses.indices.filter { statuses[$0].available && statuses[$0].cappedUntil == nil }
        let withRoom = candidates.filter { statuses[$0].inFlight < statuses[$0].capacity }
        let full = candidates.filter { statuses[$0].inFlight >= statuses[$0].capacity }
        return rank(withRoom, statuses, strategy, promptTokens, maxTokens, random)
            + rank(full, statuses, .leastBusy, promptTokens, maxTokens, random)
    }

    private static func rank(_ indices: [Int], _ statuses: [DeploymentStatus], _ strategy: RoutingStrategy,
                             _ promptTokens: Int, _ maxTokens: Int, _ random: Double) -> [Int] {
        func load(_ i: Int) -> Double { Double(statuses[i].inFlight) / Double(max(1, statuses[i].capacity)) }
        // Every ordering ends with registry order, so equal candidates are taken in a stable way.
        func byThen(_ key: (Int) -> Double) -> [Int] {
            indices.sorted { a, b in
                let ka = key(a), kb = key(b)
                if ka != kb { return ka < kb }
                if load(a) != load(b) { return load(a) < load(b) }
                return a < b
            }
        }
        switch strategy {
        case .cost:
            return byThen { statuses[$0].deployment.cost(inputTokens: promptTokens, outputTokens: maxTokens) }
        case .leastBusy:
            return byThen(load)
        case .latency:
            // Unmeasured deployments first, so each gets measured.
            return byThen { statuses[$0].averageFirstToken ?? -1 }
        case .weighted:
            let total = indices.reduce(0) { $0 + statuses[$1].deployment.weight }
            guard total > 0, !indices.isEmpty else { return indices }
            var target = min(max(random, 0), 0.999_999_999) * total
            var first = indices[indices.count - 1]
            for i in indices {
                target -= statuses[i].deployment.weight
                if target < 0 { first = i; break }
            }
            return [first] + byThen(load).filter { $0 != first }
        }
    }
}
