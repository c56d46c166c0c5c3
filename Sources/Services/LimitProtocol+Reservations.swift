import Basics
import Wire

/// limitd's reservation messages (types 3 to 7), added beside `Admit` and `Settle` so that an older frontd
/// keeps working against a newer limitd (docs/PROTOCOL.md, "limitd during a rolling restart").
extension LimitProtocol {
    /// The limits of one scope: a key, or a key and one model (``RateLimits``); in a key's own scope a 0
    /// means limitd's default (`RATE_LIMIT_RPM`, `RATE_LIMIT_RPH`, `RATE_LIMIT_TPM`, `RATE_LIMIT_MAX_PARALLEL`).
    public typealias Limits = RateLimits

    /// A key's spending budget: at most ``maxNanoUSD`` per period of ``period`` counted from ``anchor``.
    public struct Budget: WireFields, Equatable {
        /// The budget in billionths of a US dollar; 0 for none (spend is still counted).
        public var maxNanoUSD: UInt64
        /// The period, as the keys file writes it (`30d`, `1mo`); empty: one period that never ends.
        public var period: String
        /// When the first period starts, in seconds since 1970 (the key's creation time).
        public var anchor: Int64

        public init() { self.init(maxNanoUSD: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&maxNanoUSD, .uint64)
            try v.field(&period, .string(maxLength: 16))
            try v.field(&anchor, .int64)
        }

        public init(maxNanoUSD: UInt64 = 0, period: String = "", anchor: Int64 = 0) {
            self.maxNanoUSD = maxNanoUSD
            self.period = period
            self.anchor = anchor
        }
    }

    /// Where one kind of limit stands, as the `x-ratelimit-*` headers say it.
    public struct LimitStatus: WireFields, Equatable {
        /// The limit (requests or tokens per its window); 0 when there is no such limit.
        public var limit: UInt32
        /// What may still be used at this instant.
        public var remaining: UInt32
        /// Milliseconds until the allowance is whole again.
        public var resetMs: UInt32

        public init() { self.init(limit: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&limit, .uint32)
            try v.field(&remaining, .uint32)
            try v.field(&resetMs, .uint32)
        }

        public init(limit: UInt32 = 0, remaining: UInt32 = 0, resetMs: UInt32 = 0) {
            self.limit = limit
            self.remaining = remaining
            self.resetMs = resetMs
        }
    }

    /// Where a key's budget stands.
    public struct BudgetStatus: WireFields, Equatable {
        /// The budget (0: none).
        public var maxNanoUSD: UInt64
        /// Charged in the current period.
        public var spentNanoUSD: UInt64
        /// Held by requests still running (their worst case).
        public var reservedNanoUSD: UInt64
        /// When the current period ends, in seconds since 1970 (0: never).
        public var periodEnd: Int64

        public init() { self.init(maxNanoUSD: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&maxNanoUSD, .uint64)
            try v.field(&spentNanoUSD, .uint64)
            try v.field(&reservedNanoUSD, .uint64)
            try v.field(&periodEnd, .int64)
        }

        public init(maxNanoUSD: UInt64 = 0, spentNanoUSD: UInt64 = 0, reservedNanoUSD: UInt64 = 0, periodEnd: Int64 = 0) {
            self.maxNanoUSD = maxNanoUSD
            self.spentNanoUSD = spentNanoUSD
            self.reservedNanoUSD = reservedNanoUSD
            self.periodEnd = periodEnd
        }
    }

    /// Asks to admit one request and hold what it may use until it is settled: a request slot, its
    /// worst-case tokens and its worst-case cost. Reply: ``ReserveReply``.
    public struct Reserve: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 3
        /// The reservation's id, chosen by the caller (random, nonzero), so that a Reserve sent again after
        /// a lost connection is answered from the reservation it already made instead of making another.
        public var reservation: UInt64
        /// Who is limited (`key:<id>` or `ip:<address>`).
        public var key: String
        /// The model asked for ("" for none): the scope of ``modelLimits``.
        public var model: String
        /// The route, for logs.
        public var route: String
        /// The key's own limits (0: limitd's default).
        public var limits: Limits
        /// The key's limits for this model (0: none).
        public var modelLimits: Limits
        /// Tokens to hold: an upper bound of the prompt's plus the most the request may generate.
        public var tokens: UInt32
        /// Cost to hold against the budget: the worst case, in billionths of a US dollar.
        public var costNanoUSD: UInt64
        public var budget: Budget
        /// How long the reservation lives unless settled: what a frontd that died leaves behind is
        /// settled at its worst case once this has passed.
        public var leaseMs: UInt32

        public init() { self.init(reservation: 0, key: "", model: "", route: "", leaseMs: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&reservation, .uint64)
            try v.field(&key, .string(maxLength: 512))
            try v.field(&model, .string(maxLength: 512))
            try v.field(&route, .string(maxLength: 512))
            try v.field(&limits, .nested(Limits.self))
            try v.field(&modelLimits, .nested(Limits.self))
            try v.field(&tokens, .uint32)
            try v.field(&costNanoUSD, .uint64)
            try v.field(&budget, .nested(Budget.self))
            try v.field(&leaseMs, .uint32)
        }

        public init(reservation: UInt64, key: String, model: String, route: String, limits: Limits = .none, modelLimits: Limits = .none,
                    tokens: UInt32 = 0, costNanoUSD: UInt64 = 0, budget: Budget = Budget(), leaseMs: UInt32) {
            self.reservation = reservation
            self.key = key
            self.model = model
            self.route = route
            self.limits = limits
            self.modelLimits = modelLimits
            self.tokens = tokens
            self.costNanoUSD = costNanoUSD
            self.budget = budget
            self.leaseMs = leaseMs
        }
    }

    /// Admits a request the cache already answered: decided exactly as a ``Reserve`` with the same fields
    /// (every limit checked, a refusal the same), but an admitted one is counted by the requests limits
    /// alone and holds nothing — no slot, tokens or cost —, so no ``Commit`` follows it. Reply:
    /// ``ReserveReply`` with ``ReserveReply/reservation`` 0. The payload is a ``Reserve``'s, byte for byte
    /// (its ``Reserve/reservation`` and ``Reserve/leaseMs`` are used only by a store that holds and
    /// releases at once). A limitd older than it answers ERROR `unknownType` (docs/PROTOCOL.md).
    public struct AdmitCached: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 7
        /// The request as a ``Reserve`` would ask it.
        public var reserve: Reserve

        public init() { self.init(Reserve()) }
        public init(_ reserve: Reserve) { self.reserve = reserve }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try reserve.visitFields(&v)
        }
    }

    /// What a ``Reserve`` was answered.
    public enum Outcome: UInt8, Sendable, Equatable {
        /// Admitted; the reservation holds until settled or expired.
        case allowed = 0
        /// A rate or concurrency limit refused it; retry after ``ReserveReply/retryAfterMs``.
        case rateLimited = 1
        /// The key's budget cannot cover the request's worst case until the period ends.
        case budgetExceeded = 2
        /// The request alone asks for more tokens than the key's token limit allows at all.
        case tooLarge = 3
        /// limitd cannot decide: its shared store (Redis) is unreachable and its policy is to fail closed
        /// (`LIMITS_REDIS_FAILURE=closed`); frontd answers 503 with Retry-After.
        case unavailable = 4
    }

    /// limitd's answer to a ``Reserve``.
    public struct ReserveReply: WireFields, Equatable {
        public var outcome: Outcome
        /// The limit that refused (`rpm`, `rph`, `tpm`, `max_parallel`, `budget`, each prefixed `model_`
        /// for the key-and-model scope); empty when allowed.
        public var refusedBy: String
        /// The reservation to settle (nonzero when allowed).
        public var reservation: UInt64
        /// When refused: milliseconds until the request would be admitted (rounded up, at least 1).
        public var retryAfterMs: UInt32
        /// The requests limit that binds most (RPM or RPH, key or key-and-model).
        public var requests: LimitStatus
        /// The tokens limit that binds most.
        public var tokens: LimitStatus
        public var budget: BudgetStatus

        public init() { self.init(outcome: .allowed) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&outcome, .rawValue(Outcome.self, name: "outcome"))
            try v.field(&refusedBy, .string(maxLength: 64))
            try v.field(&reservation, .uint64)
            try v.field(&retryAfterMs, .uint32)
            try v.field(&requests, .nested(LimitStatus.self))
            try v.field(&tokens, .nested(LimitStatus.self))
            try v.field(&budget, .nested(BudgetStatus.self))
        }

        public init(outcome: Outcome, refusedBy: String = "", reservation: UInt64 = 0, retryAfterMs: UInt32 = 0,
                    requests: LimitStatus = LimitStatus(), tokens: LimitStatus = LimitStatus(), budget: BudgetStatus = BudgetStatus()) {
            self.outcome = outcome
            self.refusedBy = refusedBy
            self.reservation = reservation
            self.retryAfterMs = retryAfterMs
            self.requests = requests
            self.tokens = tokens
            self.budget = budget
        }
    }

    /// Settles (part of) a reservation with what the request really used. `final` ends it: its slot is
    /// freed and whatever it held beyond what was settled is given back. Reply: empty, sent only once
    /// the charge is on disk.
    public struct Commit: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 4
        public var reservation: UInt64
        public var promptTokens: UInt32
        public var completionTokens: UInt32
        /// The real cost, in billionths of a US dollar.
        public var costNanoUSD: UInt64
        /// Whether the request is over (a batch settles each item, then ends its reservation).
        public var final: Bool

        public init() { self.init(reservation: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&reservation, .uint64)
            try v.field(&promptTokens, .uint32)
            try v.field(&completionTokens, .uint32)
            try v.field(&costNanoUSD, .uint64)
            try v.field(&final, .bool)
        }

        public init(reservation: UInt64, promptTokens: UInt32 = 0, completionTokens: UInt32 = 0, costNanoUSD: UInt64 = 0, final: Bool = true) {
            self.reservation = reservation
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.costNanoUSD = costNanoUSD
            self.final = final
        }
    }

    /// Asks where a key stands, without using anything. Reply: ``UsageReply``.
    public struct Usage: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 5
        public var key: String
        /// The key's limits, as in ``Reserve``.
        public var limits: Limits
        public var budget: Budget

        public init() { self.init(key: "") }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .string(maxLength: 512))
            try v.field(&limits, .nested(Limits.self))
            try v.field(&budget, .nested(Budget.self))
        }

        public init(key: String, limits: Limits = .none, budget: Budget = Budget()) {
            self.key = key
            self.limits = limits
            self.budget = budget
        }
    }

    /// Where a key stands.
    public struct UsageReply: WireFields, Equatable {
        /// The limits in force after limitd's defaults.
        public var limits: Limits
        public var requests: LimitStatus
        public var tokens: LimitStatus
        public var budget: BudgetStatus
        /// Requests admitted and not yet settled.
        public var inFlight: UInt32
        /// Tokens settled since limitd first saw the key (its state survives restarts).
        public var promptTokens: UInt64
        public var completionTokens: UInt64
        /// Everything the key was ever charged, in billionths of a US dollar.
        public var totalSpentNanoUSD: UInt64

        public init() {
            self.init(limits: .none, requests: LimitStatus(), tokens: LimitStatus(), budget: BudgetStatus(), inFlight: 0,
                      promptTokens: 0, completionTokens: 0, totalSpentNanoUSD: 0)
        }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&limits, .nested(Limits.self))
            try v.field(&requests, .nested(LimitStatus.self))
            try v.field(&tokens, .nested(LimitStatus.self))
            try v.field(&budget, .nested(BudgetStatus.self))
            try v.field(&inFlight, .uint32)
            try v.field(&promptTokens, .uint64)
            try v.field(&completionTokens, .uint64)
            try v.field(&totalSpentNanoUSD, .uint64)
        }

        public init(limits: Limits, requests: LimitStatus, tokens: LimitStatus, budget: BudgetStatus, inFlight: UInt32,
                    promptTokens: UInt64, completionTokens: UInt64, totalSpentNanoUSD: UInt64) {
            self.limits = limits
            self.requests = requests
            self.tokens = tokens
            self.budget = budget
            self.inFlight = inFlight
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalSpentNanoUSD = totalSpentNanoUSD
        }
    }

    /// Asks for the spend of every key limitd charged (for `inferctl keys list`). Reply: ``SpendListReply``.
    public struct SpendList: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 6

        public init() {}
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {}
    }

    /// One key's spend.
    public struct KeySpend: WireFields, Equatable {
        public var key: String
        /// The period the spend below belongs to, in seconds since 1970 (end 0: it never ends).
        public var periodStart: Int64
        public var periodEnd: Int64
        public var spentNanoUSD: UInt64
        public var reservedNanoUSD: UInt64
        public var totalSpentNanoUSD: UInt64

        public init() { self.init(key: "", periodStart: 0, periodEnd: 0, spentNanoUSD: 0, reservedNanoUSD: 0, totalSpentNanoUSD: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .string(maxLength: 512))
            try v.field(&periodStart, .int64)
            try v.field(&periodEnd, .int64)
            try v.field(&spentNanoUSD, .uint64)
            try v.field(&reservedNanoUSD, .uint64)
            try v.field(&totalSpentNanoUSD, .uint64)
        }

        public init(key: String, periodStart: Int64, periodEnd: Int64, spentNanoUSD: UInt64, reservedNanoUSD: UInt64, totalSpentNanoUSD: UInt64) {
            self.key = key
            self.periodStart = periodStart
            self.periodEnd = periodEnd
            self.spentNanoUSD = spentNanoUSD
            self.reservedNanoUSD = reservedNanoUSD
            self.totalSpentNanoUSD = totalSpentNanoUSD
        }
    }

    /// Every charged key's spend.
    public struct SpendListReply: WireFields, Equatable {
        public var keys: [KeySpend]

        public init() { self.init(keys: []) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            // 44 bytes: a KeySpend with an empty key (u32 length, five 8-byte fields).
            try v.field(&keys, .array(.nested(KeySpend.self), maxCount: 1_000_000, minElementSize: 44))
        }

        public init(keys: [KeySpend]) { self.keys = keys }
    }
}

extension RateLimits: WireFields {
    public init() { self = .none }
    /// Four u32 in order: requests per minute, per hour, tokens per minute, requests at once.
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&requestsPerMinute, .uint32)
        try v.field(&requestsPerHour, .uint32)
        try v.field(&tokensPerMinute, .uint32)
        try v.field(&maxParallel, .uint32)
    }
}

/// USD as limitd counts it: whole billionths of a dollar (nano-USD), so sums are exact.
public enum NanoUSD {
    /// Nano-USD in one dollar.
    public static let perDollar = 1_000_000_000.0

    /// A cost in dollars as nano-USD, rounded up (what a reservation holds must not be less than the cost).
    public static func roundingUp(_ dollars: Double) -> UInt64 {
        guard dollars > 0, dollars.isFinite else { return 0 }
        return UInt64(min((dollars * perDollar).rounded(.up), Double(UInt64.max / 2)))
    }

    /// A cost in dollars as nano-USD, to the nearest.
    public static func rounded(_ dollars: Double) -> UInt64 {
        guard dollars > 0, dollars.isFinite else { return 0 }
        return UInt64(min((dollars * perDollar).rounded(), Double(UInt64.max / 2)))
    }

    /// Nano-USD as dollars.
    public static func dollars(_ nano: UInt64) -> Double { Double(nano) / perDollar }

    /// Dollars as people read them in messages and tables: up to six decimals, trailing zeros dropped
    /// (`0.05`, `1.000125`, `3`).
    public static func text(_ dollars: Double) -> String {
        let micro = Int64((max(0, dollars) * 1_000_000).rounded())
        var fraction = String(micro % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return String(micro / 1_000_000) + (fraction.isEmpty ? "" : "." + fraction)
    }
}
