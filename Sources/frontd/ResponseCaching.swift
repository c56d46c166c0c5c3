import Basics
import HTTP
import IPC
import Metrics
import Services
import Synchronization
import Tracing

/// A cache miss this request is to fill: the semantic vector computed during the lookup (stored with the
/// answer), and, when it leads an in-process fill, the requests waiting to share its answer. Whatever
/// way the request ends, the waiters are released: with the answer by ``Frontend/store(_:_:)``, or
/// with nothing when the fill is dropped unfinished (they then run the model themselves).
final class CacheFill: Sendable {
    let plan: CachePlan
    let vector: [Float]?
    private let fills: InFlightFills?
    private let released = Atomic<Bool>(false)

    init(plan: CachePlan, vector: [Float]?, leading fills: InFlightFills?) {
        self.plan = plan
        self.vector = vector
        self.fills = fills
    }

    /// Hands the answer (or nil: none) to the requests waiting for it; only the first call counts.
    func release(_ completion: CachedCompletion?) {
        guard let key = plan.key, let fills, !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        fills.finish(key, completion)
    }

    deinit { release(nil) }
}

/// Identical deterministic requests in flight at once in this frontd: the first runs the model, the others
/// wait for its answer (coalescing). Keys are scoped cache keys, so only requests that could share a
/// cache entry share an answer.
final class InFlightFills: Sendable {
    enum Turn: Sendable {
        /// Run the model; ``finish(_:_:)`` must follow.
        case lead
        /// Another request ran it: its answer, or nil when it failed.
        case shared(CachedCompletion?)
    }

    private let waiting = Mutex<[String: [CheckedContinuation<Turn, Never>]]>([:])

    /// Leads the fill of `key`, or waits for the one in progress.
    func join(_ key: String) async -> Turn {
        await withCheckedContinuation { continuation in
            let leads = waiting.withLock { table -> Bool in
                if table[key] != nil {
                    table[key, default: []].append(continuation)
                    return false
                }
                table[key] = []
                return true
            }
            if leads { continuation.resume(returning: .lead) }
        }
    }

    /// Ends the fill of `key`, waking its waiters with `completion`.
    func finish(_ key: String, _ completion: CachedCompletion?) {
        let waiters = waiting.withLock { $0.removeValue(forKey: key) } ?? []
        for waiter in waiters { waiter.resume(returning: .shared(completion)) }
    }

    /// Fills in progress (for tests).
    var count: Int { waiting.withLock { $0.count } }

    /// Requests waiting for `key`'s fill (for tests).
    func waiterCount(_ key: String) -> Int { waiting.withLock { $0[key]?.count ?? 0 } }
}

/// The outcome of a lookup: an answer, or a fill to make.
enum CacheLookup: Sendable {
    case hit(CacheHit)
    case miss(CacheFill)
}

extension Frontend {
    /// The cache plan of a generation: cacheable when deterministic, keyed within the caller's scope, with
    /// the request's controls; semantic when the request or its model's default says so.
    func cachePlan(_ c: RequestContext, _ generate: GenerationProtocol.Generate, control: CacheControl) -> CachePlan {
        guard generate.isDeterministic else { return .bypass(model: generate.model) }
        let scope = cacheScope.prefix(keyID: c.principal?.id, namespace: control.namespace)
        let semanticOn = control.semantic ?? semanticModels.contains(generate.model)
        let probe = semanticOn ? SemanticProbe.of(generate, scope: scope, threshold: semanticThreshold) : nil
        return CachePlan(key: generate.scopedCacheKey(scope: scope), model: generate.model, control: control, semantic: probe)
    }

    /// Looks a request up: exactly, then by meaning; on a miss, joins or leads the fill of its key (in this
    /// frontd, then across hosts through cached's claims). Counted in `infer_frontd_cache_lookups_total`.
    func lookup(_ plan: CachePlan) async -> CacheLookup {
        guard plan.reads, let key = plan.key else {
            countLookup("bypass")
            return .miss(CacheFill(plan: plan, vector: nil, leading: nil))
        }
        let exact: CacheHit?, claim: Bool
        switch plan.exact {
        case .hit(let hit): (exact, claim) = (hit, false)
        case .miss(let needed): (exact, claim) = (nil, needed)
        case .notMade: (exact, claim) = await exactGet(key, plan)
        }
        if let hit = exact {
            countLookup("hit")
            return .hit(hit)
        }
        var vector: [Float]?
        if let probe = plan.semantic {
            let (hit, probed) = await semanticHit(probe, plan)
            if let hit {
                countLookup("hit-semantic")
                return .hit(hit)
            }
            vector = probed
        }
        switch await fills.join(key) {
        case .shared(let completion?):
            countLookup("coalesced")
            return .hit(CacheHit(completion: completion, status: "HIT", ageMs: 0))
        case .shared(nil):
            // The request it waited for failed; this one runs on its own (and leads no one).
            countLookup("miss")
            return .miss(CacheFill(plan: plan, vector: vector, leading: nil))
        case .lead:
            let fill = CacheFill(plan: plan, vector: vector, leading: fills)
            // Claims matter across hosts only; this process's own fills are coalesced above.
            if plan.writes, claim, let hit = await awaitOtherHost(key, plan) {
                fill.release(hit.completion)
                countLookup("coalesced")
                return .hit(hit)
            }
            countLookup("miss")
            return .miss(fill)
        }
    }

    /// Stores a fill's answer (unless `no-store`) and wakes the requests waiting for it. Best effort: a
    /// cached that is down loses the entry, not the answer.
    func store(_ fill: CacheFill, _ completion: CachedCompletion) async {
        fill.release(completion)
        guard fill.plan.writes, let key = fill.plan.key else { return }
        var semantic: CacheProtocol.SemanticKey?
        if let probe = fill.plan.semantic, let vector = fill.vector { semantic = CacheProtocol.SemanticKey(group: probe.group, vector: vector) }
        let put = CacheProtocol.Put(key: key, model: fill.plan.model, value: completion.encoded(), ttlSeconds: fill.plan.ttlSeconds,
                                    semantic: semantic)
        do {
            try await cache.put(put, timeout: dependencyTimeout)
        } catch where semantic != nil {
            // A cached from before the semantic index refuses the longer Put: store the exact entry alone.
            try? await cache.put(CacheProtocol.Put(key: key, model: put.model, value: put.value, ttlSeconds: put.ttlSeconds),
                                 timeout: dependencyTimeout)
        } catch {}
    }

    /// The exact lookup alone, for ``prepareGeneration`` to make before limitd decides: no counting, no
    /// fill joined, nothing claimed — a request refused afterwards leaves no trace in frontd's counts or
    /// the fills (cached counts the get and refreshes the entry's recency).
    func exactLookup(_ plan: CachePlan) async -> ExactLookup {
        guard plan.reads, let key = plan.key else { return .notMade }
        let (hit, claim) = await exactGet(key, plan)
        return hit.map { .hit($0) } ?? .miss(claim: claim)
    }

    private func exactHit(_ key: String, _ plan: CachePlan) async -> CacheHit? {
        await exactGet(key, plan).hit
    }

    /// cached's entry for `key` when usable, and on a miss whether a fill must claim the key: unless
    /// cached said its claims are this host's alone (an older cached, or none reached, says nothing).
    private func exactGet(_ key: String, _ plan: CachePlan) async -> (hit: CacheHit?, claim: Bool) {
        guard let reply = try? await cache.get(key, timeout: dependencyTimeout) else { return (nil, true) }
        guard let value = reply.value, plan.accepts(ageMs: reply.ageMs), let completion = CachedCompletion(decoding: value) else {
            return (nil, reply.claimsSpanHosts ?? true)
        }
        return (CacheHit(completion: completion, status: "HIT", ageMs: reply.ageMs), false)
    }

    /// The closest cached answer by meaning, and the probe's vector (nil when the embedding failed).
    private func semanticHit(_ probe: SemanticProbe, _ plan: CachePlan) async -> (CacheHit?, [Float]?) {
        let embed = GenerationProtocol.Embed(requestID: "semantic", model: semanticEmbeddingModel, inputs: [probe.text])
        guard let reply = try? await batch.embed(embed, timeout: requestTimeout), let raw = reply.vectors.first, !raw.isEmpty else {
            logger.debug("semantic cache: the embedding failed; exact lookup only")
            return (nil, nil)
        }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let vector = norm > 0 ? raw.map { $0 / norm } : raw
        let get = CacheProtocol.SemanticGet(key: CacheProtocol.SemanticKey(group: probe.group, vector: vector),
                                            threshold: probe.threshold, maxAgeMs: plan.maxAgeMs)
        guard let found = try? await cache.semanticGet(get, timeout: dependencyTimeout), let value = found.value,
              let completion = CachedCompletion(decoding: value) else { return (nil, vector) }
        return (CacheHit(completion: completion, status: "HIT-SEMANTIC", ageMs: found.ageMs), vector)
    }

    /// When another host holds the claim on `key`, waits (polling cached) for its answer until the claim
    /// lapses; nil when this request should run the model (claim granted, lapsed, or cached unable to say).
    private func awaitOtherHost(_ key: String, _ plan: CachePlan) async -> CacheHit? {
        let lease = UInt32(clamping: min(requestTimeout, Self.maxClaim).milliseconds)
        guard let claim = try? await cache.claim(key, leaseMs: lease, timeout: dependencyTimeout), !claim.granted else { return nil }
        let until = ContinuousClock.now + .milliseconds(Int(claim.heldForMs))
        while ContinuousClock.now < until {
            try? await Task.sleep(for: Self.claimPoll)
            if let hit = await exactHit(key, plan) { return hit }
        }
        return nil
    }

    /// Counts a lookup's result in `infer_frontd_cache_lookups_total` and names it on the request's span
    /// (`infer.cache.result`), so a trace says whether the model ran.
    private func countLookup(_ result: String) {
        cacheResults.increment([MetricLabel("result", result)])
        Span.current?.set("infer.cache.result", .string(result))
        AccessRecord.current?.cache(result)
    }

    /// Longest claim on a fill: another host waits at most this long for an answer that never comes.
    static let maxClaim: Duration = .seconds(15)
    /// How often a request waiting for another host's fill looks for the answer.
    static let claimPoll: Duration = .milliseconds(50)
}
