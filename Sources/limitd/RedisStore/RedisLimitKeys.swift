/// The names limitd gives its state in Redis (docs/limitd.md, "Redis backend").
///
/// A key's five names share its hash tag (`{key:<id>}`), so every script of that key touches one Redis
/// Cluster slot; the lease index has a tag of its own, and so does each reservation's index entry.
struct RedisLimitKeys: Sendable, Equatable {
    /// A hash: the TATs of each limit (`rpm`, `rph`, `tpm`; `m:<model>:rpm`, ... for a key-and-model
    /// scope) and the settled token totals (`pt`, `ct`).
    let rate: String
    /// A hash: the budget period (`ps`, `pe`, and `pn`, the end of the one after), `spent`, `held`,
    /// `total`, and `replayed:<host>` for spend a host charged while Redis was away.
    let spend: String
    /// A hash: open reservations per scope (`k`, `m:<model>:`).
    let inflight: String
    /// A sorted set: reservation ids by lease end (ms).
    let leases: String
    /// A hash: reservation id to the reservation.
    let reservations: String

    /// What every name starts with.
    static let prefix = "infer:"
    /// Keys with leases, by their earliest lease end (ms): where housekeeping finds what to expire.
    static let leaseIndex = "infer:{leases}:index"
    /// Per key in ``leaseIndex``, a count moved on by every reservation, so a sweep that raced one keeps it.
    static let leaseGenerations = "infer:{leases}:generations"

    /// The names of one limited key (`key:<id>` or `ip:<address>`).
    init(key: String) {
        let tagged = Self.prefix + "{" + key + "}:"
        rate = tagged + "rate"
        spend = tagged + "spend"
        inflight = tagged + "inflight"
        leases = tagged + "leases"
        reservations = tagged + "res"
    }

    /// KEYS of `reserve`, `commit` and `expire`, in their order.
    var all: [String] { [rate, spend, inflight, leases, reservations] }

    /// The index entry of a reservation: which key it belongs to (and its budget terms), for a `Commit`
    /// that names the reservation alone.
    static func reservation(_ id: UInt64) -> String { prefix + "reservation:{" + String(id) + "}" }

    /// The key whose spend hash `name` is, or nil.
    static func key(ofSpend name: String) -> String? {
        let head = prefix + "{", tail = "}:spend"
        guard name.hasPrefix(head), name.hasSuffix(tail), name.count > head.count + tail.count else { return nil }
        return String(name.dropFirst(head.count).dropLast(tail.count))
    }

    /// The SCAN pattern of every spend hash.
    static let spendPattern = prefix + "{*}:spend"

    /// The field prefix of a key-and-model scope in the hashes ("" for none).
    static func modelPrefix(_ model: String) -> String { "m:" + model + ":" }
}
