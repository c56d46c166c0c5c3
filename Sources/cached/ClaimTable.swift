/// Who is computing which key now, on this host: the memory backend's stampede protection.
///
/// A claim is granted unless another unexpired claim holds the key; it lapses after its lease or when the
/// key is stored (``release(_:)``). Expired claims are swept when the table grows past ``sweepThreshold``,
/// so a caller that never stores (it failed) costs one entry until its lease ends.
struct ClaimTable {
    /// What ``claim(_:lease:now:)`` decided.
    enum Decision: Equatable {
        /// The caller computes the answer.
        case granted
        /// Another caller does; its claim has this many nanoseconds left.
        case heldBy(remaining: Int64)
    }

    /// Size past which a claim first sweeps out expired ones (the sweep is O(n), so it runs at most once
    /// per this many new claims).
    static let sweepThreshold = 4096

    private var expiries: [String: Int64] = [:]
    private var sweepAt = ClaimTable.sweepThreshold

    /// Claims currently held (expired ones included until swept).
    var count: Int { expiries.count }

    /// Claims `key` for `lease` nanoseconds, unless someone else holds it.
    /// - Parameters:
    ///   - key: The cache key.
    ///   - lease: How long the claim lasts without a store (at least 1 ns).
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: Granted, or how long the other claim has left.
    mutating func claim(_ key: String, lease: Int64, now: Int64) -> Decision {
        if let expiry = expiries[key], expiry > now {
            return .heldBy(remaining: expiry - now)
        }
        if expiries.count >= sweepAt {
            expiries = expiries.filter { $0.value > now }
            sweepAt = max(Self.sweepThreshold, expiries.count * 2)
        }
        expiries[key] = LRUCache.expiry(now, plus: lease)
        return .granted
    }

    /// Ends the claim on `key` (its answer was stored).
    mutating func release(_ key: String) {
        expiries.removeValue(forKey: key)
    }

    /// Ends every claim.
    mutating func removeAll() {
        expiries.removeAll()
    }
}
