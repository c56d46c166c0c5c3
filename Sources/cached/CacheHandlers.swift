import Basics
import DaemonRuntime
import IPC
import Services
import Wire

/// cached's handlers: lookups (exact and semantic), stores, claims, clears and figures from frontd (the
/// shell answers metricsd's stats). Each goes through ``CacheTiers``, which picks memory and/or Redis.
struct CacheHandlers: Sendable {
    let tiers: CacheTiers
    let metrics: CacheMetrics
    let logger: Logger

    private static let nanosecondsPerMillisecond: Int64 = 1_000_000

    private var cache: ResponseCache { tiers.memory }

    /// The shell that routes cached's calls here.
    func shell() -> ServiceShell {
        var shell = ServiceShell(name: "cached", metrics: metrics.registry) { [cache, metrics, tiers] in
            let size = cache.size
            metrics.updateSize(entries: size.entries, bytes: size.bytes, indexed: size.indexed)
            if tiers.shared != nil { metrics.setRedisUp(tiers.isRedisUp) }
        } onRefusal: { [logger] refusal in
            logger.debug("request refused", ["type": LogValue(refusal.type), "reason": .string(refusal.message)])
        }
        // Exact lookups, stores and claims take microseconds (a Redis tier is awaited, not waited on):
        // they start on the socket's I/O thread. A semantic scan computes, so it gets a thread of the pool.
        shell.register(CacheProtocol.Get.self, inline: true, get)
        shell.register(CacheProtocol.Put.self, inline: true, put)
        shell.register(CacheProtocol.Clear.self, clear)
        shell.register(CacheProtocol.Stats.self, stats)
        shell.register(CacheProtocol.SemanticGet.self, semanticGet)
        shell.register(CacheProtocol.Claim.self, inline: true, claim)
        return shell
    }

    /// Looks a key up and counts the hit or miss; a miss says whether claims reach other hosts.
    func get(_ get: CacheProtocol.Get, _ call: IPCCall) async {
        let reply: CacheProtocol.GetReply
        switch await tiers.get(get.key) {
        case .hit(let value, let age, let tier):
            metrics.recordLookup(hit: true)
            metrics.recordTierHit(tier)
            reply = CacheProtocol.GetReply(value: value, ageMs: UInt64(age / Self.nanosecondsPerMillisecond))
        case .miss:
            metrics.recordLookup(hit: false)
            reply = CacheProtocol.GetReply(value: nil, ageMs: 0, claimsSpanHosts: tiers.claimsSpanHosts)
        case .expired:
            metrics.recordLookup(hit: false)
            metrics.recordEvictions(capacity: 0, expired: 1)
            reply = CacheProtocol.GetReply(value: nil, ageMs: 0, claimsSpanHosts: tiers.claimsSpanHosts)
        }
        call.reply(reply)
    }

    /// Stores a value (one too large for the byte bound is dropped quietly); the reply is empty.
    func put(_ put: CacheProtocol.Put, _ call: IPCCall) async {
        let semantic = put.semantic.flatMap { key in UnitVector(key.vector).map { (group: key.group, vector: $0) } }
        if put.semantic != nil && semantic == nil {
            logger.debug("semantic key with an empty, zero or non-finite vector: stored for exact lookups only", [
                "model": .string(put.model), "dimension": LogValue(put.semantic?.vector.count ?? 0),
            ])
        }
        let stored = await tiers.put(key: put.key, model: put.model, value: put.value, ttlSeconds: put.ttlSeconds, semantic: semantic)
        if semantic != nil, let stored, !stored.indexed, case .stored = stored.outcome {
            logger.debug("semantic vector's dimension differs from its group's: stored for exact lookups only", [
                "model": .string(put.model), "dimension": LogValue(put.semantic?.vector.count ?? 0),
            ])
        }
        switch stored?.outcome {
        case .stored(let evicted, let expired):
            metrics.recordStore()
            metrics.recordEvictions(capacity: evicted - expired, expired: expired)
        case .tooLarge:
            // Not an error for the caller: the response was served; it just will not be cached.
            logger.debug("entry larger than CACHE_MAX_BYTES not stored", [
                "bytes": LogValue(put.key.utf8.count + put.value.count), "model": .string(put.model),
            ])
        case nil:
            metrics.recordStore()
        }
        call.reply([])
    }

    /// Drops every entry, or one model's.
    func clear(_ clear: CacheProtocol.Clear, _ call: IPCCall) async {
        let removed = await tiers.clear(model: clear.model)
        logger.info("cache cleared", ["model": clear.model.map { .string($0) } ?? .null, "removed": LogValue(removed)])
        call.reply(CacheProtocol.ClearReply(removed: UInt64(removed)))
    }

    /// Finds the closest entry of a group, if close enough and young enough.
    func semanticGet(_ get: CacheProtocol.SemanticGet, _ call: IPCCall) async {
        guard let vector = UnitVector(get.key.vector), !get.threshold.isNaN else {
            call.fail(code: IPCErrorCode.badRequest, message: "SemanticGet: the vector is empty, zero or not finite, or the threshold is NaN")
            return
        }
        let maxAge = Int64(clamping: get.maxAgeMs).multipliedReportingOverflow(by: Self.nanosecondsPerMillisecond)
        let found = await tiers.semanticGet(
            group: get.key.group, vector: vector, threshold: get.threshold, maxAge: maxAge.overflow ? 0 : maxAge.partialValue)
        metrics.recordSemanticLookup(hit: found.value != nil, similarity: found.best, threshold: get.threshold)
        if let tier = found.tier { metrics.recordTierHit(tier) }
        call.reply(CacheProtocol.SemanticGetReply(
            value: found.value, ageMs: UInt64(max(0, found.age) / Self.nanosecondsPerMillisecond), similarity: found.best))
    }

    /// Grants the right to fill a key unless another caller holds it.
    func claim(_ claim: CacheProtocol.Claim, _ call: IPCCall) async {
        let lease = Int64(max(1, claim.leaseMs)) * Self.nanosecondsPerMillisecond
        let reply: CacheProtocol.ClaimReply
        switch await tiers.claim(claim.key, lease: lease) {
        case .granted:
            reply = CacheProtocol.ClaimReply(granted: true, heldForMs: 0)
        case .heldBy(let remaining):
            let milliseconds = (remaining + Self.nanosecondsPerMillisecond - 1) / Self.nanosecondsPerMillisecond
            reply = CacheProtocol.ClaimReply(granted: false, heldForMs: UInt32(clamping: max(1, milliseconds)))
        }
        metrics.recordClaim(granted: reply.granted)
        call.reply(reply)
    }

    /// cached's size, bounds and lookup counts (the memory tier's size and bounds).
    func stats(_: CacheProtocol.Stats, _ call: IPCCall) {
        let size = cache.size, bounds = cache.bounds, lookups = metrics.lookups
        call.reply(CacheProtocol.StatsReply(
            entries: UInt64(size.entries), bytes: UInt64(size.bytes), maxEntries: UInt64(bounds.entries),
            maxBytes: UInt64(bounds.bytes), hits: lookups.hits, misses: lookups.misses, evictions: lookups.evictions))
    }
}
