import Basics
import Redis
import Services
import Synchronization

/// limitd's decisions made in Redis, so that every host sharing the server shares one set of limits,
/// reservations and spend: each method one of ``LimitScripts``, atomic in Redis, doing what
/// ``LimitLedger`` does. Every method throws when Redis cannot answer; what then happens is
/// ``SharedLimitBackend``'s policy.
///
/// A `Commit` names only its reservation, while the reservation lives under its key's hash tag: the
/// store keeps the key of each reservation it made (in memory, and in Redis under
/// ``RedisLimitKeys/reservation(_:)`` for a limitd restarted in between).
final class RedisLimitStore: Sendable {
    /// Why a reply could not be used.
    struct UnexpectedReply: Error, CustomStringConvertible {
        let description: String
    }

    /// What a reservation made here needs at its settlement.
    private struct Held: Sendable {
        let key: String
        let budget: LimitProtocol.Budget
        /// Lease end on limitd's clock (ns), after which the entry is dropped from memory.
        let expires: Int64
    }

    let client: RedisClient
    let defaults: LimitDefaults
    /// Whether times come from Redis's `TIME` (every host agrees) or from the caller (tests).
    private let redisClock: Bool
    private let held = Mutex<[UInt64: Held]>([:])

    /// Most keys one housekeeping pass expires leases of, and most leases per key.
    static let sweepKeys = 100
    static let sweepLeases = 1000
    /// How long a reservation's index entry outlives its lease (matches the scripts' margin).
    static let indexMarginMs: Int64 = 86_400_000
    /// The rate hash lives at least this long after its last admission (and at least its longest window).
    static let rateTTLMs: Int64 = 3_600_000

    /// A store on `client`.
    /// - Parameters:
    ///   - client: The Redis connection (shared by every call).
    ///   - defaults: limitd's default limits.
    ///   - redisClock: true in the daemon: Redis's `TIME` decides; false: each call's `now` (tests).
    init(client: RedisClient, defaults: LimitDefaults, redisClock: Bool = true) {
        self.client = client
        self.defaults = defaults
        self.redisClock = redisClock
    }

    private func clock(_ now: Int64) -> String { redisClock ? "" : String(now) }

    /// The period of `budget` that holds `now`, and the end of the one after (zeros without a period).
    static func period(_ budget: LimitProtocol.Budget, now: Int64) -> (start: Int64, end: Int64, next: Int64) {
        guard let period = BudgetPeriod(budget.period) else { return (0, 0, 0) }
        let (start, end) = period.bounds(anchor: budget.anchor, now: now / LimitLedger.nanosecondsPerSecond)
        return (start, end, period.bounds(anchor: budget.anchor, now: end).end)
    }

    /// A rule as the scripts read it: name, hash field, kind, limit, interval.
    private static func arguments(_ rules: [LimitLedger.Rule], key: String, modelPrefix: String) -> [any RedisArgument] {
        var arguments: [any RedisArgument] = [rules.count]
        for rule in rules {
            let kind: String
            switch rule.kind {
            case .minute: kind = "rpm"
            case .hour: kind = "rph"
            case .tokens: kind = "tpm"
            }
            arguments += [rule.name, (rule.scope == key ? "" : modelPrefix) + kind, rule.kind == .tokens ? "t" : "r",
                          Int(rule.policy.limit), rule.policy.interval]
        }
        return arguments
    }

    // MARK: The methods

    /// ``LimitLedger/reserve(_:id:now:)`` in Redis.
    func reserve(_ request: LimitProtocol.Reserve, now: Int64) async throws -> LimitProtocol.ReserveReply {
        var id = request.reservation
        var generator = SystemRandomNumberGenerator()
        while id == 0 { id = generator.next() }
        let key = request.key
        let keys = RedisLimitKeys(key: key)
        let modelScope = LimitLedger.modelScope(key: key, model: request.model, limits: request.modelLimits)
        let modelPrefix = modelScope == nil ? "" : RedisLimitKeys.modelPrefix(request.model)
        let rules = LimitLedger.rules(defaults: defaults, key: key, limits: request.limits, modelScope: modelScope,
                                      modelLimits: request.modelLimits)
        let limits = defaults.resolve(request.limits)
        let period = Self.period(request.budget, now: now)
        let longestWindow = rules.map { $0.policy.window / 1_000_000 }.max() ?? 0
        let arguments: [any RedisArgument] = [
            clock(now), String(id), modelPrefix, Int(request.tokens), String(request.costNanoUSD),
            LimitLedger.keepsSpend(key) ? "1" : "0", String(request.budget.maxNanoUSD), period.start, period.end, period.next,
            Int(request.leaseMs), Int(limits.maxParallel), Int(request.modelLimits.maxParallel),
            max(longestWindow, Self.rateTTLMs) + Int64(request.leaseMs),
        ] + Self.arguments(rules, key: key, modelPrefix: modelPrefix)
        let reply = try await client.evaluate(LimitScripts.reserve, keys: keys.all, arguments: arguments)
        guard let v = reply.array, v.count == 14, let outcome = v[0].integer else {
            throw UnexpectedReply(description: "reserve script answered \(reply)")
        }
        if outcome == 5 {
            return LimitProtocol.ReserveReply(outcome: .allowed, reservation: id)
        }
        guard let kind = LimitProtocol.Outcome(rawValue: UInt8(clamping: outcome)) else {
            throw UnexpectedReply(description: "reserve script answered outcome \(outcome)")
        }
        func u32(_ i: Int) -> UInt32 { UInt32(clamping: v[i].integer ?? 0) }
        func u64(_ i: Int) -> UInt64 { UInt64(v[i].string ?? "") ?? 0 }
        let answer = LimitProtocol.ReserveReply(
            outcome: kind, refusedBy: v[1].string ?? "", reservation: kind == .allowed ? id : 0, retryAfterMs: u32(2),
            requests: LimitProtocol.LimitStatus(limit: u32(3), remaining: u32(4), resetMs: u32(5)),
            tokens: LimitProtocol.LimitStatus(limit: u32(6), remaining: u32(7), resetMs: u32(8)),
            budget: LimitProtocol.BudgetStatus(maxNanoUSD: u64(9), spentNanoUSD: u64(10), reservedNanoUSD: u64(11),
                                               periodEnd: Int64(v[12].string ?? "") ?? 0))
        guard kind == .allowed else { return answer }
        let leaseEnd = v[13].integer ?? 0
        held.withLock { $0[id] = Held(key: key, budget: request.budget, expires: now + Int64(request.leaseMs) * 1_000_000) }
        // The reservation's index entry (for a Commit after a restart of this limitd), and the lease
        // index, after the script: a sweep racing it sees the generation move and keeps the key. The
        // reservation is made whatever happens here (this limitd still knows its key): if the note
        // fails, its lease is ended when the key's next reservation is noted.
        // Not awaited: the admission's answer needs only the script; the note follows it on the same
        // connection, long before the request's settlement could come back.
        let budget = request.budget
        Task { try? await self.note(id: id, key: key, budget: budget, leaseMs: Int64(request.leaseMs), leaseEnd: leaseEnd) }
        return answer
    }

    private func note(id: UInt64, key: String, budget: LimitProtocol.Budget, leaseMs: Int64, leaseEnd: Int64) async throws {
        let replies = try await client.pipeline([
            RedisCommand("SET", arguments: [RedisLimitKeys.reservation(id), Self.indexEntry(key: key, budget: budget), "PX", leaseMs + Self.indexMarginMs]),
            RedisCommand("EVALSHA", arguments: [LimitScripts.noteLease.sha1, 2, RedisLimitKeys.leaseIndex, RedisLimitKeys.leaseGenerations, key, leaseEnd]),
        ])
        if replies.count == 2, replies[1].errorMessage?.hasPrefix("NOSCRIPT") == true {
            _ = try await client.evaluate(LimitScripts.noteLease, keys: [RedisLimitKeys.leaseIndex, RedisLimitKeys.leaseGenerations],
                                          arguments: [key, leaseEnd])
        }
    }

    /// Remembers the key of a `Reserve` whose script may have run although no reply came (a timeout), so
    /// that a final `Commit` sent later ends the reservation it may have made.
    func remember(_ request: LimitProtocol.Reserve, now: Int64) {
        guard request.reservation != 0 else { return }
        held.withLock { $0[request.reservation] = Held(key: request.key, budget: request.budget, expires: now + Int64(request.leaseMs) * 1_000_000) }
    }

    /// `key`, the budget's period and anchor, as the reservation's index entry holds them.
    private static func indexEntry(key: String, budget: LimitProtocol.Budget) -> String {
        [key, budget.period, String(budget.anchor)].joined(separator: LimitLedger.scopeSeparator)
    }

    /// ``LimitLedger/commit(_:now:givingBack:)`` in Redis.
    func commit(_ commit: LimitProtocol.Commit, now: Int64) async throws -> LimitLedger.CommitResult {
        let id = commit.reservation
        var found = held.withLock { $0[id] }.map { ($0.key, $0.budget) }
        if found == nil, let entry = try await client.get(RedisLimitKeys.reservation(id)) {
            let parts = String(decoding: entry, as: UTF8.self).split(separator: Character(LimitLedger.scopeSeparator),
                                                                     omittingEmptySubsequences: false)
            if parts.count == 3 {
                found = (String(parts[0]), LimitProtocol.Budget(period: String(parts[1]), anchor: Int64(parts[2]) ?? 0))
            }
        }
        guard let (key, budget) = found else { return .unknown }
        let period = Self.period(budget, now: now)
        let reply = try await client.evaluate(
            LimitScripts.commit, keys: RedisLimitKeys(key: key).all,
            arguments: [clock(now), String(id), Int(commit.promptTokens), Int(commit.completionTokens), String(commit.costNanoUSD),
                        commit.final ? "1" : "0", LimitLedger.keepsSpend(key) ? "1" : "0", period.start, period.end, period.next])
        if commit.final {
            held.withLock { $0[id] = nil }
            // Not awaited: the settlement is done; the index entry would otherwise expire a day later.
            let client = client
            Task { _ = try? await client.del(RedisLimitKeys.reservation(id)) }
        }
        return reply.integer == 1 ? .settled : .unknown
    }

    /// ``LimitLedger/usage(_:now:)`` in Redis.
    func usage(_ request: LimitProtocol.Usage, now: Int64) async throws -> LimitProtocol.UsageReply {
        let rules = LimitLedger.rules(defaults: defaults, key: request.key, limits: request.limits, modelScope: nil, modelLimits: .none)
        let period = Self.period(request.budget, now: now)
        let keys = RedisLimitKeys(key: request.key)
        let reply = try await client.evaluate(
            LimitScripts.usage, keys: [keys.rate, keys.spend, keys.inflight],
            arguments: [clock(now), LimitLedger.keepsSpend(request.key) ? "1" : "0", String(request.budget.maxNanoUSD),
                        period.start, period.end, period.next] + Self.arguments(rules, key: request.key, modelPrefix: ""))
        guard let v = reply.array, v.count == 14 else { throw UnexpectedReply(description: "usage script answered \(reply)") }
        func u32(_ i: Int) -> UInt32 { UInt32(clamping: v[i].integer ?? 0) }
        func u64(_ i: Int) -> UInt64 { UInt64(v[i].string ?? "") ?? 0 }
        return LimitProtocol.UsageReply(
            limits: defaults.resolve(request.limits),
            requests: LimitProtocol.LimitStatus(limit: u32(0), remaining: u32(1), resetMs: u32(2)),
            tokens: LimitProtocol.LimitStatus(limit: u32(3), remaining: u32(4), resetMs: u32(5)),
            budget: LimitProtocol.BudgetStatus(maxNanoUSD: u64(6), spentNanoUSD: u64(7), reservedNanoUSD: u64(8),
                                               periodEnd: Int64(v[9].string ?? "") ?? 0),
            inFlight: u32(10), promptTokens: u64(11), completionTokens: u64(12), totalSpentNanoUSD: u64(13))
    }

    /// Every API key's spend in Redis (a SCAN of the spend hashes: for `inferctl keys list`, not the
    /// request path).
    func spendList() async throws -> LimitProtocol.SpendListReply {
        var cursor = "0"
        var keys: [LimitProtocol.KeySpend] = []
        repeat {
            let reply = try await client.send("SCAN", cursor, "MATCH", RedisLimitKeys.spendPattern, "COUNT", 1000)
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let names = parts[1].array else {
                throw UnexpectedReply(description: "SCAN answered \(reply)")
            }
            cursor = next
            for name in names.compactMap(\.string) {
                guard let key = RedisLimitKeys.key(ofSpend: name), LimitLedger.keepsSpend(key) else { continue }
                let fields = try await client.send("HMGET", name, "ps", "pe", "spent", "held", "total")
                let v = (fields.array ?? []).map { $0.string ?? "0" }
                guard v.count == 5 else { continue }
                keys.append(LimitProtocol.KeySpend(
                    key: key, periodStart: Int64(v[0]) ?? 0, periodEnd: Int64(v[1]) ?? 0, spentNanoUSD: UInt64(v[2]) ?? 0,
                    reservedNanoUSD: UInt64(v[3]) ?? 0, totalSpentNanoUSD: UInt64(v[4]) ?? 0))
            }
        } while cursor != "0"
        return LimitProtocol.SpendListReply(keys: keys.sorted { $0.key < $1.key })
    }

    /// ``LimitLedger/admit(key:requestsPerMinute:now:)`` (protocol version 1) in Redis.
    func admit(key: String, requestsPerMinute: UInt32, now: Int64) async throws -> RateDecision {
        let policy = defaults.minutePolicy(requestsPerMinute > 0 ? requestsPerMinute : defaults.requestsPerMinute)
        let reply = try await client.evaluate(
            LimitScripts.admit, keys: [RedisLimitKeys(key: key).rate],
            arguments: [clock(now), Int(policy.limit), policy.interval, max(policy.window / 1_000_000, Self.rateTTLMs)])
        guard let v = reply.array, v.count == 4 else { throw UnexpectedReply(description: "admit script answered \(reply)") }
        return RateDecision(allowed: v[0].integer == 1, limit: policy.limit, remaining: UInt32(clamping: v[2].integer ?? 0),
                            retryAfter: v[3].integer ?? 0)
    }

    /// ``LimitLedger/settle(key:promptTokens:completionTokens:now:)`` (protocol version 1) in Redis.
    func settle(key: String, promptTokens: UInt32, completionTokens: UInt32, now: Int64) async throws {
        let interval = defaults.tokensPerMinute > 0
            ? RateLimitPolicy(limit: UInt64(defaults.tokensPerMinute), windowNanoseconds: LimitDefaults.nanosecondsPerMinute).interval : 0
        _ = try await client.evaluate(LimitScripts.settleVersionOne, keys: [RedisLimitKeys(key: key).rate],
                                      arguments: [clock(now), Int(promptTokens), Int(completionTokens), interval])
    }

    /// ``LimitLedger/expire(now:)`` in Redis, for the keys the lease index says are due (any host's).
    /// - Returns: How many reservations ended.
    func expire(now: Int64) async throws -> Int {
        held.withLock { held in held = held.filter { $0.value.expires > now } }
        let index: [any RedisArgument] = [RedisLimitKeys.leaseIndex, RedisLimitKeys.leaseGenerations]
        let due = try await client.evaluate(LimitScripts.dueLeases, keys: index,
                                            arguments: [Self.sweepKeys, redisClock ? "" : String(now / 1_000_000)])
        let flat = (due.array ?? []).map { $0.string ?? "" }
        var ended = 0
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
            let key = flat[pair], generation = flat[pair + 1]
            let reply = try await client.evaluate(
                LimitScripts.expire, keys: RedisLimitKeys(key: key).all,
                arguments: [clock(now), LimitLedger.keepsSpend(key) ? "1" : "0", Self.sweepLeases])
            guard let v = reply.array, v.count == 2 else { throw UnexpectedReply(description: "expire script answered \(reply)") }
            ended += Int(v[0].integer ?? 0)
            _ = try await client.evaluate(LimitScripts.sweptLeases, keys: index, arguments: [key, generation, v[1].integer ?? 0])
        }
        return ended
    }

    /// Adds what this host charged `key` locally (`localTotal`, its running total) beyond what it added
    /// before: idempotent per host.
    /// - Returns: nano-USD added.
    func replaySpend(key: String, host: String, localTotal: UInt64, now: Int64) async throws -> UInt64 {
        let reply = try await client.evaluate(LimitScripts.replaySpend, keys: [RedisLimitKeys(key: key).spend],
                                              arguments: [host, String(localTotal), clock(now)])
        return UInt64(clamping: reply.integer ?? 0)
    }

    /// Reservations made through this store and not yet ended (a gauge).
    var heldHere: Int { held.withLock { $0.count } }
}
