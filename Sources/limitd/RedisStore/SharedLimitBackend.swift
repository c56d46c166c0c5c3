import DaemonRuntime
import Redis
import Services
import Synchronization

/// `LIMITS_BACKEND=redis`: decisions in Redis (``RedisLimitStore``), shared by every host, with this
/// host's memory store (``RateLimiter``) standing in while Redis cannot answer, as
/// `LIMITS_REDIS_FAILURE` says:
///
/// - `open`: admissions are decided on the local store (limits per host); their settlements stay local;
///   the spend the local store charges is replayed into Redis once it answers again (per key, the local
///   total beyond what this host replayed before, recorded in Redis, so a replay is never counted twice).
/// - `closed`: admissions are refused as ``LimitProtocol/Outcome/unavailable``.
///
/// Either way a settlement of a reservation held in Redis is kept in memory and sent when Redis
/// answers again (if limitd stops first, the reservation's lease charges its worst case); questions
/// (usage, spend) are answered from the local store. Each change between reachable and unreachable is
/// logged once; decisions made without Redis are counted.
final class SharedLimitBackend: LimitBackend {
    let store: RedisLimitStore
    let local: RateLimiter
    let policy: RedisFailurePolicy
    /// This host's name in Redis's replay records (kept in the state directory).
    let host: String
    private let metrics: LimitMetrics
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var reachable = true
        /// Reservations the local store made (Redis was away): settled there.
        var localReservations: Set<UInt64> = []
        /// Settlements of Redis's reservations that could not be sent.
        var pendingCommits: [LimitProtocol.Commit] = []
        /// Per key, the local total this host last replayed into Redis.
        var replayed: [String: UInt64] = [:]
        /// Whether the local store may hold spend not yet replayed (always at start: a previous run's).
        var replayDue = true
    }

    /// Most settlements kept while Redis is away; beyond it the oldest are dropped (their leases charge
    /// their worst case), logged.
    static let maxPendingCommits = 100_000

    init(store: RedisLimitStore, local: RateLimiter, policy: RedisFailurePolicy, host: String, metrics: LimitMetrics, logger: Logger) {
        self.store = store
        self.local = local
        self.policy = policy
        self.host = host
        self.metrics = metrics
        self.logger = logger
        metrics.setRedisReachable(true)
    }

    /// Notes that Redis answered; logs the change back.
    private func reached() {
        let changed = state.withLock { s in
            defer { s.reachable = true }
            return !s.reachable
        }
        guard changed else { return }
        metrics.setRedisReachable(true)
        logger.info("Redis answers again: decisions are shared again; local spend and held settlements are sent on the next housekeeping")
    }

    /// Notes that Redis did not answer; logs the change once. A cancelled call (limitd stopping) says
    /// nothing about Redis.
    private func unreachable(_ error: any Error) {
        guard !(error is CancellationError) else { return }
        let changed = state.withLock { s in
            defer { s.reachable = false }
            return s.reachable
        }
        guard changed else { return }
        metrics.setRedisReachable(false)
        logger.error("Redis does not answer: \(error); LIMITS_REDIS_FAILURE=\(policy.rawValue): "
            + (policy == .open ? "deciding on this host's own limits until it returns" : "refusing admissions (503) until it returns"))
    }

    /// One call to Redis: its answer marks Redis reachable; a failure marks it unreachable (logged once)
    /// and `otherwise` decides instead.
    private func askRedis<Answer>(
        _ call: () async throws -> Answer, otherwise: (any Error) async -> Answer
    ) async -> Answer {
        do {
            let answer = try await call()
            reached()
            return answer
        } catch {
            unreachable(error)
            return await otherwise(error)
        }
    }

    func reserve(_ request: LimitProtocol.Reserve, now: Int64) async -> LimitProtocol.ReserveReply {
        await askRedis({ try await store.reserve(request, now: now) }) { error in
            metrics.recordRedisUnavailable()
            if (error as? RedisError)?.mayHaveRun ?? false {
                // The script may still run (a reply that timed out): end whatever it made, taking nothing,
                // once Redis answers; the request is decided here instead.
                store.remember(request, now: now)
                hold(LimitProtocol.Commit(reservation: request.reservation, final: true))
            }
            guard policy == .open else {
                return LimitProtocol.ReserveReply(outcome: .unavailable, retryAfterMs: UInt32(LimitLedger.concurrencyRetry / 1_000_000))
            }
            let reply = local.reserve(request, now: now)
            if reply.outcome == .allowed {
                state.withLock {
                    $0.localReservations.insert(reply.reservation)
                    $0.replayDue = true
                }
            }
            return reply
        }
    }

    func commit(_ commit: LimitProtocol.Commit, now: Int64) async -> LimitLedger.CommitResult {
        let isLocal = state.withLock { s in
            guard s.localReservations.contains(commit.reservation) else { return false }
            if commit.final { s.localReservations.remove(commit.reservation) }
            // Charged locally: the next housekeeping with Redis replays it.
            s.replayDue = true
            return true
        }
        if isLocal { return await local.commit(commit, now: now) }
        return await askRedis({ try await store.commit(commit, now: now) }) { _ in
            hold(commit)
            return .settled
        }
    }

    /// Redis answers once its change is made; what was decided here is in the local store's journal.
    func whenRecorded(durable: Bool, _ action: @escaping @Sendable () -> Void) {
        local.whenRecorded(durable: durable, action)
    }

    private func hold(_ commit: LimitProtocol.Commit) {
        let dropped = state.withLock { s in
            s.pendingCommits.append(commit)
            guard s.pendingCommits.count > Self.maxPendingCommits else { return false }
            s.pendingCommits.removeFirst()
            return true
        }
        if dropped { logger.warn("more than \(Self.maxPendingCommits) settlements wait for Redis: the oldest is dropped; its lease charges its worst case") }
    }

    func usage(_ request: LimitProtocol.Usage, now: Int64) async -> LimitProtocol.UsageReply {
        await askRedis({ try await store.usage(request, now: now) }) { _ in local.usage(request, now: now) }
    }

    func spendList() async -> LimitProtocol.SpendListReply {
        await askRedis({ try await store.spendList() }) { _ in local.spendList() }
    }

    func admit(key: String, requestsPerMinute: UInt32, now: Int64) async -> RateDecision {
        await askRedis({ try await store.admit(key: key, requestsPerMinute: requestsPerMinute, now: now) }) { _ in
            metrics.recordRedisUnavailable()
            guard policy == .open else {
                return RateDecision(allowed: false, limit: 0, remaining: 0, retryAfter: LimitLedger.concurrencyRetry)
            }
            return local.admit(key: key, requestsPerMinute: requestsPerMinute, now: now)
        }
    }

    func settle(key: String, promptTokens: UInt32, completionTokens: UInt32, now: Int64) async {
        await askRedis({ try await store.settle(key: key, promptTokens: promptTokens, completionTokens: completionTokens, now: now) }) { _ in
            local.settle(key: key, promptTokens: promptTokens, completionTokens: completionTokens, now: now)
        }
    }

    /// The local store's housekeeping, then Redis's: due leases of every host's keys, the settlements
    /// held while Redis was away, and the spend charged locally meanwhile.
    func maintain(now: Int64) async -> Int {
        var expired = await local.maintain(now: now)
        if expired > 0 {
            // Local leases ended at their worst case are local charges too.
            state.withLock { s in
                s.replayDue = true
                s.localReservations = s.localReservations.filter { self.local.holds($0) }
            }
        }
        do {
            expired += try await store.expire(now: now)
            reached()
            try await sendPendingCommits(now: now)
            try await replayLocalSpend(now: now)
        } catch {
            unreachable(error)
        }
        return expired
    }

    private func sendPendingCommits(now: Int64) async throws {
        let pending = state.withLock { s in
            defer { s.pendingCommits = [] }
            return s.pendingCommits
        }
        for (index, commit) in pending.enumerated() {
            do {
                _ = try await store.commit(commit, now: now)
            } catch {
                state.withLock { $0.pendingCommits.insert(contentsOf: pending[index...], at: 0) }
                throw error
            }
        }
    }

    /// Sends Redis each key's local spend total beyond what was replayed (the script keeps the replay
    /// idempotent per host, across restarts of this limitd too).
    private func replayLocalSpend(now: Int64) async throws {
        guard state.withLock({ s in
            defer { s.replayDue = false }
            return s.replayDue
        }) else { return }
        for spend in local.spendList().keys where spend.totalSpentNanoUSD > 0 {
            let sent = state.withLock { $0.replayed[spend.key] ?? 0 }
            guard spend.totalSpentNanoUSD > sent else { continue }
            do {
                let added = try await store.replaySpend(key: spend.key, host: host, localTotal: spend.totalSpentNanoUSD, now: now)
                state.withLock { $0.replayed[spend.key] = spend.totalSpentNanoUSD }
                if added > 0 {
                    logger.info("spend charged while Redis was away replayed", ["key": .string(spend.key), "nano_usd": LogValue(Int(clamping: added))])
                }
            } catch {
                state.withLock { $0.replayDue = true }
                throw error
            }
        }
    }

    var trackedKeys: Int { local.trackedKeys }
    var heldReservations: Int { store.heldHere + local.heldReservations }
}
