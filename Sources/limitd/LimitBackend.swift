import Services

/// Where limitd's decisions are made and its state kept: the one seam between the IPC handlers and the
/// store. ``RateLimiter`` is the store in this process (a ``LimitLedger`` behind a mutex, journaled to
/// disk); a Redis store (one Lua script per method, keys hash-tagged by API key) is the next one, and
/// must keep the same semantics (docs/limitd.md, "Backends").
///
/// Times are nanoseconds since 1970 from limitd's clock.
protocol LimitBackend: Sendable {
    /// Decides a request and, when admitted, holds its slot, tokens and worst-case cost until settled.
    func reserve(_ request: LimitProtocol.Reserve, now: Int64) async -> LimitProtocol.ReserveReply
    /// Decides a request the cache answered (``LimitProtocol/AdmitCached``): the same checks as
    /// ``reserve(_:now:)``, but an admitted one holds nothing and needs no settlement.
    /// - Returns: The reply (reservation 0), and whether it waits for a durable record (a store that
    ///   reserved and released would have written a settlement).
    func admitCached(_ request: LimitProtocol.Reserve, now: Int64) async -> (reply: LimitProtocol.ReserveReply, durable: Bool)
    /// Settles (part of) a reservation; the charge is durable once ``whenRecorded(durable:_:)`` with
    /// `durable` runs its action.
    func commit(_ commit: LimitProtocol.Commit, now: Int64) async -> LimitLedger.CommitResult
    /// Where a key stands, taking nothing.
    func usage(_ request: LimitProtocol.Usage, now: Int64) async -> LimitProtocol.UsageReply
    /// Every API key's spend.
    func spendList() async -> LimitProtocol.SpendListReply
    /// Protocol version 1's `Admit`: the requests-per-window limit alone.
    func admit(key: String, requestsPerMinute: UInt32, now: Int64) async -> RateDecision
    /// Protocol version 1's `Settle`: tokens counted (and charged to a default token limit) after the fact.
    func settle(key: String, promptTokens: UInt32, completionTokens: UInt32, now: Int64) async
    /// Housekeeping, once a second: ends the reservations whose lease ran out, and whatever else keeps
    /// the store bounded.
    /// - Returns: How many reservations expired.
    func maintain(now: Int64) async -> Int
    /// Runs `action` (a reply) once every change made so far is as safe as a reply promises
    /// (docs/limitd.md, "State"): written to the kernel, or with `durable` on disk. The store in this
    /// process writes a loop turn's changes together, so replies wait for the end of the turn.
    func whenRecorded(durable: Bool, _ action: @escaping @Sendable () -> Void)
    /// Rate records remembered now (a gauge).
    var trackedKeys: Int { get }
    /// Reservations held now (a gauge).
    var heldReservations: Int { get }
}

extension LimitBackend {
    /// A store without its own way: reserves, then at once ends the reservation charging nothing (what
    /// frontd did for a hit before ``LimitProtocol/AdmitCached``); the release is a settlement, so the
    /// reply waits for it to be durable.
    func admitCached(_ request: LimitProtocol.Reserve, now: Int64) async -> (reply: LimitProtocol.ReserveReply, durable: Bool) {
        var reply = await reserve(request, now: now)
        guard reply.outcome == .allowed, reply.reservation != 0 else { return (reply, false) }
        _ = await commit(LimitProtocol.Commit(reservation: reply.reservation, final: true), now: now)
        reply.reservation = 0
        return (reply, true)
    }
}
