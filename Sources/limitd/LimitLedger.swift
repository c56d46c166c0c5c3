import Basics
import Services

/// Every decision limitd makes, on its whole state, as plain values: the rate records of keys and
/// key-and-model scopes (bounded, least recently seen forgotten), API keys' spend, and the
/// reservations of running requests. Each change returns the ``JournalRecord``s that make it durable;
/// ``apply(_:)`` reads them back. Not thread-safe: ``RateLimiter`` holds it behind a mutex.
///
/// Times are nanoseconds since 1970 (limitd's clock, wall time, so that state read back after a
/// restart or a reboot — and, with a shared store, on another host — means the same instants).
struct LimitLedger {
    let defaults: LimitDefaults
    private(set) var rates: RecentKeyTable
    private(set) var spends: [String: SpendRecord] = [:]
    private(set) var reservations: [UInt64: Reservation] = [:]
    /// Requests in flight per scope (derived from the reservations).
    private(set) var inFlight: [String: UInt32] = [:]

    /// Refusals of a concurrency limit carry this wait: a slot frees when some running request ends,
    /// which nothing predicts.
    static let concurrencyRetry: Int64 = 1_000_000_000
    static let nanosecondsPerSecond: Int64 = 1_000_000_000
    /// The separator of a key-and-model scope's name (a control character: never in a key or a model name).
    static let scopeSeparator = "\u{1F}"

    init(defaults: LimitDefaults, maxKeys: Int) {
        self.defaults = defaults
        rates = RecentKeyTable(capacity: maxKeys)
    }

    // MARK: The limits of a request

    /// One limit of one scope, resolved: what every store (this ledger, the Redis scripts) checks.
    struct Rule {
        enum Kind { case minute, hour, tokens }
        /// The refusal's name (`rpm`, `model_tpm`, ...).
        let name: String
        let kind: Kind
        let scope: String
        let policy: RateLimitPolicy
    }

    /// The rate rules of a key's scope (after defaults) and of its key-and-model scope.
    private func rules(key: String, limits: LimitProtocol.Limits, modelScope: String?, modelLimits: LimitProtocol.Limits) -> [Rule] {
        Self.rules(defaults: defaults, key: key, limits: limits, modelScope: modelScope, modelLimits: modelLimits)
    }

    /// The rate rules of a key's scope (its zeros replaced by `defaults`) and of its key-and-model scope
    /// (nil: none), in the order every store checks them.
    static func rules(defaults: LimitDefaults, key: String, limits: LimitProtocol.Limits, modelScope: String?,
                      modelLimits: LimitProtocol.Limits) -> [Rule] {
        var rules = Self.rules(scope: key, prefix: "", defaults.resolve(limits), defaults: defaults)
        if let modelScope { rules += Self.rules(scope: modelScope, prefix: "model_", modelLimits, defaults: defaults) }
        return rules
    }

    private static func rules(scope: String, prefix: String, _ limits: LimitProtocol.Limits, defaults: LimitDefaults) -> [Rule] {
        var rules: [Rule] = []
        if limits.requestsPerMinute > 0 {
            rules.append(Rule(name: prefix + "rpm", kind: .minute, scope: scope, policy: defaults.minutePolicy(limits.requestsPerMinute)))
        }
        if limits.requestsPerHour > 0 {
            rules.append(Rule(name: prefix + "rph", kind: .hour, scope: scope,
                              policy: RateLimitPolicy(limit: UInt64(limits.requestsPerHour), windowNanoseconds: LimitDefaults.nanosecondsPerHour)))
        }
        if limits.tokensPerMinute > 0 {
            rules.append(Rule(name: prefix + "tpm", kind: .tokens, scope: scope,
                              policy: RateLimitPolicy(limit: UInt64(limits.tokensPerMinute), windowNanoseconds: LimitDefaults.nanosecondsPerMinute)))
        }
        return rules
    }

    /// A key's limits with limitd's defaults in place of its zeros.
    func resolve(_ limits: LimitProtocol.Limits) -> LimitProtocol.Limits { defaults.resolve(limits) }

    private static func arrival(_ record: KeyRecord, _ kind: Rule.Kind) -> Int64 {
        switch kind {
        case .minute: record.theoreticalArrival
        case .hour: record.hourArrival
        case .tokens: record.tokenArrival
        }
    }

    private static func setArrival(_ record: inout KeyRecord, _ kind: Rule.Kind, _ value: Int64) {
        switch kind {
        case .minute: record.theoreticalArrival = value
        case .hour: record.hourArrival = value
        case .tokens: record.tokenArrival = value
        }
    }

    /// The scope of a key and model, or nil when the model has no limits of its own.
    static func modelScope(key: String, model: String, limits: LimitProtocol.Limits) -> String? {
        model.isEmpty || limits.isNone ? nil : key + scopeSeparator + model
    }

    /// Whether limitd keeps spend for a key: API keys only (`key:<id>`, bounded by the keys file), not
    /// client addresses.
    static func keepsSpend(_ key: String) -> Bool { key.hasPrefix("key:") }

    // MARK: Reserve

    /// Decides one request and, when it is admitted, holds its request slot, tokens and worst-case cost.
    ///
    /// Every limit must pass, checked before any is taken (a refused request takes nothing): a token cost
    /// above a token limit is `tooLarge`; a budget that cannot cover the worst case on top of what is
    /// spent and held is `budgetExceeded` (retry at the period's end); a full rate or concurrency limit
    /// is `rateLimited`, with the wait after which every rate limit conforms (the longest of their exact
    /// waits; a concurrency refusal waits ``concurrencyRetry``).
    /// - Parameters:
    ///   - request: The request.
    ///   - id: The reservation id to use if admitted (nonzero); one already held for the same key answers
    ///     the request as admitted again without taking anything.
    ///   - now: Nanoseconds since 1970.
    ///   - holding: false for a request the cache answered (``LimitProtocol/AdmitCached``): decided the
    ///     same way, but once admitted only the requests limits (per minute, per hour) take their unit;
    ///     no slot, tokens or cost are held, so nothing is left to settle (the state is what a `Reserve`
    ///     then a final `Commit` of nothing leave) and the reply's reservation is 0.
    /// - Returns: The reply and the journal records of the change (none when refused).
    mutating func reserve(_ request: LimitProtocol.Reserve, id: UInt64, now: Int64, holding: Bool = true) -> (LimitProtocol.ReserveReply, [JournalRecord]) {
        if holding, let held = reservations[id], held.key == request.key {
            // The same Reserve again (its reply was lost): answered from the reservation, nothing taken twice.
            return (LimitProtocol.ReserveReply(outcome: .allowed, reservation: id), [])
        }
        let key = request.key
        let modelScope = Self.modelScope(key: key, model: request.model, limits: request.modelLimits)
        let limits = resolve(request.limits)
        let rules = rules(key: key, limits: request.limits, modelScope: modelScope, modelLimits: request.modelLimits)
        let keyRecord = rates.record(for: key) ?? KeyRecord()
        let modelRecord = modelScope.map { rates.record(for: $0) ?? KeyRecord() }
        func record(_ scope: String) -> KeyRecord { scope == key ? keyRecord : (modelRecord ?? KeyRecord()) }

        var checks: [(Rule, CostCheck)] = []
        for rule in rules {
            let cost = rule.kind == .tokens ? Int64(request.tokens) : 1
            checks.append((rule, rule.policy.check(arrival: Self.arrival(record(rule.scope), rule.kind), now: now, cost: cost)))
        }
        var spend = Self.keepsSpend(key) ? currentSpend(key, budget: request.budget, now: now) : nil
        let statuses = { (checks: [(Rule, CostCheck)]) in Self.statuses(checks, now: now) }
        let budgetStatus = { (s: SpendRecord?) in Self.budgetStatus(s, budget: request.budget) }

        if let (rule, _) = checks.first(where: { $0.1.tooLarge }) {
            let (requests, tokens) = statuses(checks)
            return (LimitProtocol.ReserveReply(outcome: .tooLarge, refusedBy: rule.name, requests: requests, tokens: tokens,
                                               budget: budgetStatus(spend)), [])
        }
        if let s = spend, request.budget.maxNanoUSD > 0, s.spent &+ s.reserved &+ request.costNanoUSD > request.budget.maxNanoUSD {
            let (requests, tokens) = statuses(checks)
            let wait = s.periodEnd > 0 ? max(1, s.periodEnd * Self.nanosecondsPerSecond - now) : 0
            return (LimitProtocol.ReserveReply(outcome: .budgetExceeded, refusedBy: "budget", retryAfterMs: Self.milliseconds(wait),
                                               requests: requests, tokens: tokens, budget: budgetStatus(spend)), [])
        }
        var refusedBy = ""
        var wait: Int64 = 0
        for (rule, check) in checks where !check.allowed && check.decision.retryAfter > wait {
            refusedBy = rule.name
            wait = check.decision.retryAfter
        }
        for (scope, limit, name) in [(key, limits.maxParallel, "max_parallel"), (modelScope ?? "", request.modelLimits.maxParallel, "model_max_parallel")]
        where limit > 0 && !scope.isEmpty && (inFlight[scope] ?? 0) >= limit && wait < Self.concurrencyRetry {
            refusedBy = name
            wait = Self.concurrencyRetry
        }
        if wait > 0 {
            let (requests, tokens) = statuses(checks)
            return (LimitProtocol.ReserveReply(outcome: .rateLimited, refusedBy: refusedBy, retryAfterMs: Self.milliseconds(wait),
                                               requests: requests, tokens: tokens, budget: budgetStatus(spend)), [])
        }

        // Admitted: take everything at once.
        var newKey = keyRecord
        var newModel = modelRecord
        var keyTokenInterval: Int64 = 0, modelTokenInterval: Int64 = 0
        for (rule, check) in checks where holding || rule.kind != .tokens {
            if rule.scope == key {
                Self.setArrival(&newKey, rule.kind, check.arrival)
                if rule.kind == .tokens { keyTokenInterval = rule.policy.interval }
            } else {
                Self.setArrival(&newModel!, rule.kind, check.arrival)
                if rule.kind == .tokens { modelTokenInterval = rule.policy.interval }
            }
        }
        var records: [JournalRecord] = [.rate(key, newKey)]
        rates.set(key, newKey)
        if let modelScope, let newModel {
            rates.set(modelScope, newModel)
            records.append(.rate(modelScope, newModel))
        }
        // A hit holds no cost: its spend record changes only when a new period or new terms begin.
        if var s = spend, holding || spends[key] != s {
            if holding { s.reserved &+= request.costNanoUSD }
            spends[key] = s
            spend = s
            records.append(.spend(key, s))
        }
        let (requests, tokens) = statuses(checks)
        guard holding else {
            return (LimitProtocol.ReserveReply(outcome: .allowed, requests: requests, tokens: tokens, budget: budgetStatus(spend)), records)
        }
        let lease = Int64(request.leaseMs) * 1_000_000
        let reservation = Reservation(id: id, key: key, modelScope: modelScope ?? "", tokens: request.tokens, cost: request.costNanoUSD,
                                      keyTokenInterval: keyTokenInterval, modelTokenInterval: modelTokenInterval, expires: now + lease)
        hold(reservation)
        records.append(.reserved(reservation))
        return (LimitProtocol.ReserveReply(outcome: .allowed, reservation: id, requests: requests, tokens: tokens,
                                           budget: budgetStatus(spend)), records)
    }

    /// The tightest requests limit and tightest tokens limit among the checks, as headers report them:
    /// the one with the least remaining (after the request, when it was admitted).
    private static func statuses(_ checks: [(Rule, CostCheck)], now: Int64) -> (LimitProtocol.LimitStatus, LimitProtocol.LimitStatus) {
        var requests = LimitProtocol.LimitStatus(), tokens = LimitProtocol.LimitStatus()
        for (rule, check) in checks {
            let status = LimitProtocol.LimitStatus(limit: rule.policy.limit, remaining: check.decision.remaining,
                                                   resetMs: milliseconds(rule.policy.reset(arrival: check.arrival, now: now)))
            if rule.kind == .tokens {
                if tokens.limit == 0 || status.remaining < tokens.remaining { tokens = status }
            } else if requests.limit == 0 || status.remaining < requests.remaining {
                requests = status
            }
        }
        return (requests, tokens)
    }

    private static func budgetStatus(_ spend: SpendRecord?, budget: LimitProtocol.Budget) -> LimitProtocol.BudgetStatus {
        LimitProtocol.BudgetStatus(maxNanoUSD: budget.maxNanoUSD, spentNanoUSD: spend?.spent ?? 0,
                                   reservedNanoUSD: spend?.reserved ?? 0, periodEnd: spend?.periodEnd ?? 0)
    }

    /// Nanoseconds as whole milliseconds, rounded up.
    static func milliseconds(_ nanoseconds: Int64) -> UInt32 {
        guard nanoseconds > 0 else { return 0 }
        return UInt32(clamping: (nanoseconds + 999_999) / 1_000_000)
    }

    /// The key's spend in the period that holds `now` under `budget`: a new period (or changed terms
    /// that start another) begins at zero.
    func currentSpend(_ key: String, budget: LimitProtocol.Budget, now: Int64) -> SpendRecord {
        var s = spends[key] ?? SpendRecord()
        let seconds = now / Self.nanosecondsPerSecond
        let (start, end): (Int64, Int64) = BudgetPeriod(budget.period).map { $0.bounds(anchor: budget.anchor, now: seconds) } ?? (0, 0)
        if start != s.periodStart || end != s.periodEnd {
            // Another period: what was spent belongs to the old one. Terms changed within the same start
            // keep the spend (a budget raised mid-period does not forgive what was spent).
            if start != s.periodStart { s.spent = 0 }
            s.periodStart = start
            s.periodEnd = end
        }
        s.budget = budget
        return s
    }

    private mutating func hold(_ reservation: Reservation) {
        reservations[reservation.id] = reservation
        inFlight[reservation.key, default: 0] += 1
        if !reservation.modelScope.isEmpty { inFlight[reservation.modelScope, default: 0] += 1 }
    }

    private mutating func release(_ reservation: Reservation) {
        reservations[reservation.id] = nil
        for scope in [reservation.key, reservation.modelScope] where !scope.isEmpty {
            let left = (inFlight[scope] ?? 1) - 1
            inFlight[scope] = left == 0 ? nil : left
        }
    }

    // MARK: Settle

    /// What a commit found.
    enum CommitResult: Equatable {
        /// Settled.
        case settled
        /// No such reservation: already ended, expired, or never made.
        case unknown
    }

    /// Settles (part of) a reservation with what the request really used: its tokens and cost are
    /// charged; when `final`, the reservation ends, its slot frees, and the tokens it held beyond what
    /// was used are given back (tokens used beyond it are charged on top).
    /// - Parameter givingBack: Whether a final commit gives back the tokens held beyond those used (not
    ///   when a lease expires: what the request used is unknown, so all it held stays taken).
    mutating func commit(_ commit: LimitProtocol.Commit, now: Int64, givingBack: Bool = true) -> (CommitResult, [JournalRecord]) {
        guard var reservation = reservations[commit.reservation] else { return (.unknown, []) }
        let heldBefore = reservation.heldCost
        let used = UInt64(commit.promptTokens) + UInt64(commit.completionTokens)
        reservation.usedTokens &+= used
        reservation.usedCost &+= commit.costNanoUSD
        var records: [JournalRecord] = []
        var keyRecord = rates.record(for: reservation.key) ?? KeyRecord()
        keyRecord.promptTokens &+= UInt64(commit.promptTokens)
        keyRecord.completionTokens &+= UInt64(commit.completionTokens)
        var modelRecord = reservation.modelScope.isEmpty ? nil : rates.record(for: reservation.modelScope) ?? KeyRecord()
        modelRecord?.promptTokens &+= UInt64(commit.promptTokens)
        modelRecord?.completionTokens &+= UInt64(commit.completionTokens)
        if commit.final && givingBack {
            // Give back (or charge on top) the difference between what was held and what was used.
            let difference = Int64(clamping: reservation.usedTokens) - Int64(reservation.tokens)
            Self.settleTokens(&keyRecord, difference: difference, interval: reservation.keyTokenInterval, now: now)
            if modelRecord != nil {
                Self.settleTokens(&modelRecord!, difference: difference, interval: reservation.modelTokenInterval, now: now)
            }
        }
        rates.set(reservation.key, keyRecord)
        records.append(.rate(reservation.key, keyRecord))
        if let modelRecord {
            rates.set(reservation.modelScope, modelRecord)
            records.append(.rate(reservation.modelScope, modelRecord))
        }
        if Self.keepsSpend(reservation.key) {
            var s = spends[reservation.key] ?? SpendRecord()
            if let period = BudgetPeriod(s.budget.period), now / Self.nanosecondsPerSecond >= s.periodEnd, s.periodEnd > 0 {
                // Settled in a later period than it was admitted in: charged to the current one.
                let (start, end) = period.bounds(anchor: s.budget.anchor, now: now / Self.nanosecondsPerSecond)
                s.periodStart = start
                s.periodEnd = end
                s.spent = 0
            }
            s.spent &+= commit.costNanoUSD
            s.total &+= commit.costNanoUSD
            // What the reservation still holds shrinks by what was charged against it (all of it at the end).
            let freed = heldBefore - (commit.final ? 0 : reservation.heldCost)
            s.reserved = s.reserved >= freed ? s.reserved - freed : 0
            spends[reservation.key] = s
            records.append(.spend(reservation.key, s))
        }
        if commit.final {
            release(reservation)
            records.append(.finished(reservation.id))
        } else {
            reservations[reservation.id] = reservation
            records.append(.reserved(reservation))
        }
        return (.settled, records)
    }

    /// A token TAT after a reservation's end: `difference` < 0 gives units back, > 0 charges more
    /// (from the clock when the TAT is behind it, as a new charge would be).
    private static func settleTokens(_ record: inout KeyRecord, difference: Int64, interval: Int64, now: Int64) {
        guard interval > 0, difference != 0 else { return }
        let base = difference > 0 ? max(record.tokenArrival, now) : record.tokenArrival
        let (delta, overflow) = difference.multipliedReportingOverflow(by: interval)
        record.tokenArrival = overflow ? base : base + delta
    }

    /// Ends every reservation whose lease ran out, as if settled at its worst case: its tokens stay
    /// taken and the part of its cost not yet settled is charged (limitd cannot know what a frontd that
    /// died used, and charging less could let a budget be exceeded).
    /// - Returns: How many ended, and the journal records.
    mutating func expire(now: Int64) -> (Int, [JournalRecord]) {
        let due = reservations.values.filter { $0.expires <= now }
        var records: [JournalRecord] = []
        for reservation in due.sorted(by: { $0.id < $1.id }) {
            // Charged as if settled at the worst case: the held tokens stay taken (not counted as used,
            // which no one knows), the rest of the held cost is spent.
            let (_, changes) = commit(LimitProtocol.Commit(reservation: reservation.id, costNanoUSD: reservation.heldCost, final: true),
                                      now: now, givingBack: false)
            records += changes
        }
        return (due.count, records)
    }

    // MARK: Read-only

    /// Where a key stands (nothing is taken).
    func usage(_ request: LimitProtocol.Usage, now: Int64) -> LimitProtocol.UsageReply {
        let limits = resolve(request.limits)
        let record = rates.record(for: request.key) ?? KeyRecord()
        let checks = rules(key: request.key, limits: request.limits, modelScope: nil, modelLimits: .none).map { rule in
            // A look at each limit without taking anything: a zero cost conforms and moves nothing.
            (rule, rule.policy.check(arrival: Self.arrival(record, rule.kind), now: now, cost: 0))
        }
        let (requests, tokens) = Self.statuses(checks, now: now)
        let spend = Self.keepsSpend(request.key) ? currentSpend(request.key, budget: request.budget, now: now) : nil
        return LimitProtocol.UsageReply(
            limits: limits, requests: requests, tokens: tokens, budget: Self.budgetStatus(spend, budget: request.budget),
            inFlight: inFlight[request.key] ?? 0, promptTokens: record.promptTokens, completionTokens: record.completionTokens,
            totalSpentNanoUSD: spend?.total ?? 0)
    }

    /// Every API key's spend, sorted by key.
    func spendList() -> LimitProtocol.SpendListReply {
        LimitProtocol.SpendListReply(keys: spends.keys.sorted().compactMap { key in
            spends[key].map {
                LimitProtocol.KeySpend(key: key, periodStart: $0.periodStart, periodEnd: $0.periodEnd, spentNanoUSD: $0.spent,
                                       reservedNanoUSD: $0.reserved, totalSpentNanoUSD: $0.total)
            }
        })
    }

    // MARK: Protocol version 1 (Admit, Settle)

    /// `Admit` of a frontd older than reservations: the requests-per-window limit only (the key's own rate,
    /// or the default), on the same record reservations use, so both kinds of frontd share one allowance
    /// during a rolling restart.
    mutating func admit(key: String, requestsPerMinute: UInt32, now: Int64) -> (RateDecision, [JournalRecord]) {
        let policy = defaults.minutePolicy(requestsPerMinute > 0 ? requestsPerMinute : defaults.requestsPerMinute)
        var record = rates.record(for: key) ?? KeyRecord()
        let decision = policy.decide(arrival: &record.theoreticalArrival, now: now)
        // The key counts as seen either way (the table's recency), but only an admission changes it.
        rates.set(key, record)
        return (decision, decision.allowed ? [.rate(key, record)] : [])
    }

    /// `Settle` of an older frontd: the tokens are added to the key's totals and, under a default
    /// `RATE_LIMIT_TPM`, charged to its token limit after the fact (nothing was reserved).
    mutating func settle(key: String, promptTokens: UInt32, completionTokens: UInt32, now: Int64) -> [JournalRecord] {
        var record = rates.record(for: key) ?? KeyRecord()
        record.promptTokens &+= UInt64(promptTokens)
        record.completionTokens &+= UInt64(completionTokens)
        if defaults.tokensPerMinute > 0 {
            let policy = RateLimitPolicy(limit: UInt64(defaults.tokensPerMinute), windowNanoseconds: LimitDefaults.nanosecondsPerMinute)
            Self.settleTokens(&record, difference: Int64(promptTokens) + Int64(completionTokens), interval: policy.interval, now: now)
        }
        rates.set(key, record)
        return [.rate(key, record)]
    }

    // MARK: Reading back

    /// Applies one record read back from the snapshot or the journal.
    mutating func apply(_ record: JournalRecord) {
        switch record {
        case .rate(let key, let r): rates.set(key, r)
        case .spend(let key, let s): spends[key] = s
        case .reserved(let r):
            if let old = reservations[r.id] { release(old) }
            hold(r)
        case .finished(let id):
            if let old = reservations[id] { release(old) }
        }
    }

    /// After reading back: what is derived from the reservations (the spend they hold) made consistent.
    mutating func finishReading() {
        var held: [String: UInt64] = [:]
        for r in reservations.values { held[r.key, default: 0] &+= r.heldCost }
        for key in spends.keys { spends[key]?.reserved = held[key] ?? 0 }
    }

    /// The whole state as records, the oldest rate records first.
    func snapshot() -> [JournalRecord] {
        var records: [JournalRecord] = rates.oldestFirst.map { .rate($0.key, $0.record) }
        records += spends.keys.sorted().compactMap { key in spends[key].map { .spend(key, $0) } }
        records += reservations.keys.sorted().compactMap { reservations[$0].map { .reserved($0) } }
        return records
    }
}
