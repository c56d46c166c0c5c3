import DaemonRuntime
import Synchronization

/// Where each call goes, by `CACHE_BACKEND`:
///
/// | backend | lookups | stores | claims |
/// |---|---|---|---|
/// | memory | memory | memory | memory |
/// | tiered | memory, then Redis (a Redis hit fills memory) | memory and Redis | Redis |
/// | redis | Redis | Redis | Redis |
///
/// When Redis fails (down, timed out, refusing), the call goes to memory instead: logged once when Redis
/// goes and once when it is back, and counted (`infer_cached_redis_errors_total`); the Redis client
/// reconnects by itself. With `redis`, memory is only this stand-in: it holds what was stored while Redis
/// failed, and a lookup Redis cannot answer (or misses) looks there too.
///
/// Semantic lookups scan this host's index (``SemanticIndex``), which holds the entries stored through
/// this host and, with Redis, those another host stored in the same group: a miss reloads the group's
/// unknown entries from Redis, at most once per ``groupRefreshInterval`` per group.
final class CacheTiers: Sendable {
    /// What a lookup found.
    enum Found: Equatable {
        /// The value, its age in nanoseconds, and the tier it came from.
        case hit(value: [UInt8], age: Int64, tier: Tier)
        case miss
        /// An expired entry, now removed from memory.
        case expired
    }

    /// Where a hit came from (a label of `infer_cached_tier_hits_total`).
    enum Tier: String {
        case memory
        case redis
    }

    /// What a semantic lookup found.
    struct SemanticFound: Equatable {
        var value: [UInt8]?
        /// Nanoseconds since the match was stored (0 on a miss).
        var age: Int64
        /// The best similarity in the group (-1 when none).
        var best: Float
        var tier: Tier?
    }

    let backend: CacheBackend
    let memory: ResponseCache
    let shared: RedisTier?
    private let metrics: CacheMetrics
    private let logger: Logger
    private let clocks: @Sendable () -> ClockPair
    /// Least time between two reloads of one group from Redis (nanoseconds).
    let groupRefreshInterval: Int64
    private let redisUp = Atomic<Bool>(true)
    private let lastRefresh = Mutex<[String: Int64]>([:])
    /// The clears counter last seen in Redis (tiered: a change empties memory).
    private let seenClears = Mutex<Int64?>(nil)

    private static let nanosecondsPerMillisecond: Int64 = 1_000_000
    /// Groups remembered for the refresh throttle before the old ones are forgotten.
    private static let refreshMemory = 10_000

    /// The tiers of one cached.
    /// - Parameters:
    ///   - backend: `CACHE_BACKEND`.
    ///   - memory: The memory tier (also the stand-in while Redis is down).
    ///   - shared: The Redis tier, for `redis` and `tiered`.
    ///   - metrics: Where Redis failures and tier hits are counted.
    ///   - logger: Where Redis going and coming back is logged.
    ///   - groupRefreshInterval: Least time between two reloads of a semantic group from Redis.
    ///   - clocks: Now, on both clocks.
    init(
        backend: CacheBackend, memory: ResponseCache, shared: RedisTier?, metrics: CacheMetrics, logger: Logger,
        groupRefreshInterval: Duration = .seconds(1), clocks: @escaping @Sendable () -> ClockPair
    ) {
        self.backend = backend
        self.memory = memory
        self.shared = backend == .memory ? nil : shared
        self.metrics = metrics
        self.logger = logger
        self.groupRefreshInterval = groupRefreshInterval.nanoseconds
        self.clocks = clocks
    }

    /// Whether memory answers first (memory and tiered), rather than only while Redis is down.
    private var memoryInFront: Bool { backend != .redis }

    /// Whether the last Redis call succeeded (true without Redis).
    var isRedisUp: Bool { redisUp.load(ordering: .relaxed) }

    // MARK: Calls

    /// Looks `key` up in memory and/or Redis.
    func get(_ key: String) async -> Found {
        let now = clocks()
        var local = Found.miss
        if memoryInFront {
            switch memory.get(key, now: now.monotonic) {
            case .hit(let value, let age): return .hit(value: value, age: age, tier: .memory)
            case .expired: local = .expired
            case .miss: break
            }
        }
        guard let shared else { return local }
        do {
            if let entry = try await liveEntry(shared, key, now: now) {
                return .hit(value: entry.value, age: max(0, now.wall - entry.storedAtMs * Self.nanosecondsPerMillisecond), tier: .redis)
            }
        } catch {
            markDown("get", error)
        }
        // redis: memory holds what was stored while Redis failed (a store that timed out included).
        guard !memoryInFront else { return local }
        switch memory.get(key, now: now.monotonic) {
        case .hit(let value, let age): return .hit(value: value, age: age, tier: .memory)
        case .expired: return .expired
        case .miss: return .miss
        }
    }

    /// Stores an entry in memory and/or Redis.
    /// - Returns: What memory did with it (nil when only Redis took it).
    func put(
        key: String, model: String, value: [UInt8], ttlSeconds: UInt32, semantic: (group: String, vector: UnitVector)?
    ) async -> ResponseCache.StoreResult? {
        let now = clocks()
        let ttl = memory.ttl(seconds: ttlSeconds)
        let expiresAt = LRUCache.expiry(now.monotonic, plus: ttl)
        func storeInMemory() -> ResponseCache.StoreResult {
            memory.put(key: key, model: model, value: value, storedAt: now.monotonic, expiresAt: expiresAt, semantic: semantic,
                       now: now.monotonic)
        }
        var result = memoryInFront ? storeInMemory() : nil
        guard let shared else { return result }
        if case .tooLarge = result?.outcome { return result }
        let entry = RedisEntry(
            storedAtMs: now.wall / Self.nanosecondsPerMillisecond,
            expiresAtMs: now.wall(fromMonotonic: expiresAt) / Self.nanosecondsPerMillisecond, model: model,
            semantic: semantic.map { .init(group: $0.group, vector: Array($0.vector.padded[0..<$0.vector.dimension])) }, value: value)
        do {
            try await shared.put(key, entry, ttlMs: ttl / Self.nanosecondsPerMillisecond)
            markUp()
            memory.releaseClaim(key)
            if !memoryInFront, let semantic {
                // The value lives in Redis; this host's index still finds it.
                _ = memory.index(key: key, group: semantic.group, vector: semantic.vector, storedAt: now.monotonic, expiresAt: expiresAt)
            }
        } catch {
            markDown("put", error)
            if !memoryInFront { result = storeInMemory() }
        }
        return result
    }

    /// Finds the closest entry of a group: this host's index, then (on a miss, with Redis) the group's
    /// entries other hosts stored.
    func semanticGet(group: String, vector: UnitVector, threshold: Float, maxAge: Int64) async -> SemanticFound {
        let now = clocks()
        var found = await semanticSearch(group: group, vector: vector, threshold: threshold, maxAge: maxAge, now: now)
        if found.value == nil, let shared, refreshDue(group, now: now.monotonic) {
            do {
                let entries = try await shared.groupEntries(group, nowMs: now.wall / Self.nanosecondsPerMillisecond) {
                    memory.isIndexed($0)
                }
                markUp()
                for (key, entry) in entries {
                    guard let semantic = entry.semantic, let unit = UnitVector(semantic.vector) else { continue }
                    let times = monotonicTimes(entry, now: now)
                    _ = memory.index(key: key, group: semantic.group, vector: unit, storedAt: times.storedAt, expiresAt: times.expiresAt)
                }
                if !entries.isEmpty {
                    found = await semanticSearch(group: group, vector: vector, threshold: threshold, maxAge: maxAge, now: now)
                }
            } catch {
                markDown("semantic", error)
            }
        }
        return found
    }

    /// Whether a claim reaches other hosts: true with a Redis tier (even while Redis is down and claims
    /// fall back to memory); with memory alone claims are this host's.
    var claimsSpanHosts: Bool { shared != nil }

    /// Grants the right to fill `key`: through Redis (one fill cluster-wide), or memory when Redis is down.
    func claim(_ key: String, lease: Int64) async -> ClaimTable.Decision {
        if let shared {
            do {
                let claim = try await shared.claim(key, leaseMs: max(1, lease / Self.nanosecondsPerMillisecond))
                markUp()
                return claim.granted ? .granted : .heldBy(remaining: claim.remainingMs * Self.nanosecondsPerMillisecond)
            } catch {
                markDown("claim", error)
            }
        }
        return memory.claim(key, lease: lease, now: clocks().monotonic)
    }

    /// Drops every entry, or one model's, from memory and Redis.
    /// - Returns: How many were removed: Redis's count with Redis, memory's without (or when Redis failed).
    func clear(model: String?) async -> Int {
        let inMemory = memory.clear(model: model)
        guard let shared else { return inMemory }
        do {
            let (removed, clears) = try await shared.clear(model: model)
            markUp()
            seenClears.withLock { $0 = clears }
            return removed
        } catch {
            markDown("clear", error)
            return inMemory
        }
    }

    /// Once per tick: reads Redis's clears counter. A clear made on another host empties this host's
    /// memory tier too (entries copied from Redis, or stored in memory while Redis was down, would
    /// otherwise outlive it). Also notices Redis coming back without waiting for a request.
    func watchClears() async {
        guard let shared else { return }
        do {
            let clears = try await shared.clears()
            markUp()
            let previous = seenClears.withLock { seen in
                defer { seen = clears }
                return seen
            }
            if let previous, previous != clears {
                let removed = memory.clear(model: nil)
                logger.info("a clear on another host: memory tier emptied", ["removed": LogValue(removed)])
            }
        } catch {
            markDown("watch", error)
        }
    }

    // MARK: Helpers

    /// The index's best match, with its value from memory or (when only the index knows it) Redis; an
    /// entry gone from Redis leaves the index and the search runs again.
    private func semanticSearch(group: String, vector: UnitVector, threshold: Float, maxAge: Int64, now: ClockPair) async -> SemanticFound {
        // Each pass either answers or takes one key out of the index; two passes cover the usual case of
        // one stale entry without letting a group full of stale entries hold the call.
        let passes = 2
        var found = memory.semanticGet(group: group, vector: vector, threshold: threshold, maxAge: maxAge, now: now.monotonic)
        for _ in 0..<passes {
            if let value = found.value {
                return SemanticFound(value: value, age: found.search.age, best: found.search.best, tier: .memory)
            }
            guard let key = found.search.key else { break }
            if let shared {
                do {
                    if let entry = try await liveEntry(shared, key, now: now) {
                        return SemanticFound(value: entry.value, age: found.search.age, best: found.search.best, tier: .redis)
                    }
                } catch {
                    markDown("semantic", error)
                    break
                }
            }
            // Gone from Redis, or (memory backend) an index entry without a value, from a snapshot a
            // Redis backend wrote: it must not shadow a real match.
            memory.unindex(key)
            found = memory.semanticGet(group: group, vector: vector, threshold: threshold, maxAge: maxAge, now: now.monotonic)
        }
        return SemanticFound(value: nil, age: 0, best: found.search.best, tier: nil)
    }

    /// `key`'s entry in Redis while it is live (copied into memory too when tiered); nil when Redis has
    /// none, or only an expired one. Redis answering marks it up.
    /// - Throws: What the Redis call failed with.
    private func liveEntry(_ shared: RedisTier, _ key: String, now: ClockPair) async throws -> RedisEntry? {
        let entry = try await shared.get(key)
        markUp()
        guard let entry, entry.expiresAtMs * Self.nanosecondsPerMillisecond > now.wall else { return nil }
        if backend == .tiered { fill(key, entry, now: now) }
        return entry
    }

    /// Copies a Redis entry into memory, with its age and expiry (and its place in the index).
    private func fill(_ key: String, _ entry: RedisEntry, now: ClockPair) {
        let times = monotonicTimes(entry, now: now)
        let semantic = entry.semantic.flatMap { key in UnitVector(key.vector).map { (group: key.group, vector: $0) } }
        _ = memory.put(key: key, model: entry.model, value: entry.value, storedAt: times.storedAt, expiresAt: times.expiresAt,
                       semantic: semantic, now: now.monotonic)
    }

    private func monotonicTimes(_ entry: RedisEntry, now: ClockPair) -> (storedAt: Int64, expiresAt: Int64) {
        let storedAt = now.monotonic(fromWall: entry.storedAtMs.multipliedReportingOverflow(by: Self.nanosecondsPerMillisecond).partialValue)
        let expiresAt = now.monotonic(fromWall: entry.expiresAtMs.multipliedReportingOverflow(by: Self.nanosecondsPerMillisecond).partialValue)
        return (min(storedAt, now.monotonic), expiresAt)
    }

    /// Whether `group` may be reloaded from Redis now (and, if so, notes that it is).
    private func refreshDue(_ group: String, now: Int64) -> Bool {
        lastRefresh.withLock { last in
            if let previous = last[group], now - previous < groupRefreshInterval { return false }
            if last.count >= Self.refreshMemory {
                last = last.filter { now - $0.value < groupRefreshInterval }
            }
            last[group] = now
            return true
        }
    }

    private func markUp() {
        if !redisUp.exchange(true, ordering: .relaxed) {
            logger.info("Redis reachable again: the shared tier is back")
        }
    }

    private func markDown(_ operation: String, _ error: any Error) {
        metrics.recordRedisError(operation)
        if redisUp.exchange(false, ordering: .relaxed) {
            logger.warn("Redis unreachable: serving from memory only until it is back", [
                "operation": .string(operation), "error": .string("\(error)"),
            ])
        }
    }
}
