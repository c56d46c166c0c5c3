import Synchronization

/// The event ids seen recently, to refuse a webhook delivered twice.
///
/// An id is remembered for the window after the later of its signed timestamp and its arrival: as long
/// as any copy of the signed request could still pass the timestamp check. Older ids are forgotten
/// (swept at most once a second), so memory is bounded by the events of about two
/// windows, and by `capacity` in any case.
final class ReplayGuard: Sendable {
    /// What `claim` decided.
    enum Claim: Equatable {
        /// The id is new and is now remembered.
        case claimed
        /// The id was seen within the window.
        case replayed
        /// `capacity` ids are remembered and none has expired.
        case full
    }

    private struct State {
        /// Event id → the last second at which a replay of it could pass the timestamp check.
        var expiries: [String: Int] = [:]
        var nextSweep = Int.min
    }

    private let state = Mutex(State())
    /// Seconds a timestamp may differ from now (WEBHOOK_TIMESTAMP_WINDOW).
    let window: Int
    /// Most ids remembered at once.
    let capacity: Int

    init(window: Int, capacity: Int) {
        self.window = window
        self.capacity = capacity
    }

    /// Remembers `id` unless it was seen within the window.
    /// - Parameters:
    ///   - timestamp: The request's signed timestamp.
    ///   - now: Seconds since the epoch.
    func claim(_ id: String, timestamp: Int, now: Int) -> Claim {
        let expiry = max(timestamp, now) + window
        return state.withLock { s in
            // Nothing expires between two sweeps in the same second, so once a second is enough.
            if now >= s.nextSweep { Self.sweep(&s, now: now) }
            if let seen = s.expiries[id], seen >= now { return .replayed }
            guard s.expiries.count < capacity else { return .full }
            s.expiries[id] = expiry
            return .claimed
        }
    }

    /// Forgets a claimed id whose event was not accepted after all (the journal failed), so that the
    /// sender's retry is not refused as a replay.
    func release(_ id: String) {
        _ = state.withLock { $0.expiries.removeValue(forKey: id) }
    }

    /// Remembers an id read back from the journal at start; one already expired is ignored.
    /// - Returns: Whether it is still within the window.
    @discardableResult
    func remember(_ id: String, timestamp: Int, received: Int, now: Int) -> Bool {
        let expiry = max(timestamp, received) + window
        guard expiry >= now else { return false }
        state.withLock { s in s.expiries[id] = max(expiry, s.expiries[id] ?? .min) }
        return true
    }

    /// Whether `id` is remembered (and not expired) at `now`.
    func contains(_ id: String, now: Int) -> Bool {
        state.withLock { ($0.expiries[id] ?? .min) >= now }
    }

    /// Ids remembered, expired ones not yet swept included.
    var count: Int { state.withLock { $0.expiries.count } }

    private static func sweep(_ s: inout State, now: Int) {
        s.expiries = s.expiries.filter { $0.value >= now }
        s.nextSweep = now + 1
    }
}
