import Services
import Synchronization

/// limitd's store in this process: one ``LimitLedger`` behind a mutex, every change staged in a
/// ``StateJournal`` (written before its caller is answered, settlements fsync'd before theirs:
/// ``whenRecorded(durable:_:)``), and a snapshot now and then — for any number of threads at once.
///
/// A decision is a dictionary lookup and a few integer operations, far shorter than the IPC call around
/// it, so one lock serves hundreds of thousands of admissions a second. Records are staged under the lock
/// (so the journal's order is the state's); the journal writes each loop turn's records with one
/// `write(2)`, and callers that arrive together share one `fsync(2)`.
final class RateLimiter: LimitBackend {
    /// The limits of keys whose requests name none.
    let defaults: LimitDefaults
    /// The policy of keys without an override: `RATE_LIMIT_RPM` over `RATE_LIMIT_WINDOW_SEC`.
    let defaultPolicy: RateLimitPolicy
    /// The window every requests-per-minute policy uses.
    let window: Duration
    private let ledger: Mutex<LimitLedger>
    private let journal: StateJournal?
    private let snapshots: Mutex<SnapshotClock>

    private struct SnapshotClock {
        var last: Int64
        var writtenAtLast: UInt64 = 0
    }

    /// Most journal bytes between two snapshots, whatever the interval says.
    static let snapshotJournalBytes: UInt64 = 64 << 20

    /// A store with nothing tracked yet.
    /// - Parameters:
    ///   - defaults: The limits of keys whose requests name none.
    ///   - maxKeys: Most rate records remembered; the least recently seen are forgotten beyond it.
    ///   - journal: Where the state is kept across restarts; nil keeps it in memory only.
    ///   - snapshotInterval: Least time between two snapshots, in nanoseconds.
    init(defaults: LimitDefaults, maxKeys: Int, journal: StateJournal? = nil, snapshotInterval: Int64 = 60_000_000_000, now: Int64 = 0) {
        self.defaults = defaults
        defaultPolicy = defaults.minutePolicy(defaults.requestsPerMinute)
        window = .nanoseconds(defaults.window)
        ledger = Mutex(LimitLedger(defaults: defaults, maxKeys: maxKeys))
        self.journal = journal
        self.snapshotInterval = snapshotInterval
        snapshots = Mutex(SnapshotClock(last: now))
    }

    /// A store of requests-per-minute limits alone, in memory.
    convenience init(requestsPerMinute: Int, window: Duration, maxKeys: Int) {
        self.init(defaults: LimitDefaults(requestsPerMinute: requestsPerMinute, window: window), maxKeys: maxKeys)
    }

    private let snapshotInterval: Int64

    /// Reads the state back from the journal (nothing without one).
    /// - Throws: ``StateJournal/Failure`` when it cannot be read.
    func load() throws(StateJournal.Failure) -> StateJournal.LoadReport {
        guard let journal else { return StateJournal.LoadReport() }
        return try ledger.withLock { (ledger: inout LimitLedger) throws(StateJournal.Failure) -> StateJournal.LoadReport in
            try journal.load(into: &ledger)
        }
    }

    /// Runs `change` on the ledger and stages the records it returns, under the lock.
    /// - Returns: What `change` returns.
    private func change<Result>(_ change: (inout LimitLedger) -> (Result, [JournalRecord])) -> Result {
        ledger.withLock { ledger in
            let (result, records) = change(&ledger)
            journal?.stage(records)
            return result
        }
    }

    // MARK: LimitBackend

    func reserve(_ request: LimitProtocol.Reserve, now: Int64) -> LimitProtocol.ReserveReply {
        change { ledger in
            // The caller's id (so a retry finds its reservation), or one of limitd's own.
            var id = request.reservation
            var generator = SystemRandomNumberGenerator()
            while id == 0 { id = generator.next() }
            return ledger.reserve(request, id: id, now: now)
        }
    }

    func admitCached(_ request: LimitProtocol.Reserve, now: Int64) -> (reply: LimitProtocol.ReserveReply, durable: Bool) {
        (change { $0.reserve(request, id: 0, now: now, holding: false) }, false)
    }

    func commit(_ commit: LimitProtocol.Commit, now: Int64) async -> LimitLedger.CommitResult {
        change { $0.commit(commit, now: now) }
    }

    func whenRecorded(durable: Bool, _ action: @escaping @Sendable () -> Void) {
        guard let journal else { return action() }
        if durable { journal.whenDurable(action) } else { journal.whenWritten(action) }
    }

    func usage(_ request: LimitProtocol.Usage, now: Int64) -> LimitProtocol.UsageReply {
        ledger.withLock { $0.usage(request, now: now) }
    }

    func spendList() -> LimitProtocol.SpendListReply {
        ledger.withLock { $0.spendList() }
    }

    /// Decides whether `key` may make a request now (the requests-per-window limit alone), and counts it
    /// when it may. A refused request is not counted: a client retrying too early does not push its own
    /// wait further out.
    func admit(key: String, requestsPerMinute: UInt32 = 0, now: Int64) -> RateDecision {
        change { $0.admit(key: key, requestsPerMinute: requestsPerMinute, now: now) }
    }

    func settle(key: String, promptTokens: UInt32, completionTokens: UInt32, now: Int64) {
        change { ((), $0.settle(key: key, promptTokens: promptTokens, completionTokens: completionTokens, now: now)) }
    }

    func maintain(now: Int64) async -> Int {
        let expired = change { $0.expire(now: now) }
        // Expired reservations are charges: on disk before anything else happens.
        if expired > 0 { await journal?.sync() }
        snapshotIfDue(now: now)
        return expired
    }

    var trackedKeys: Int { ledger.withLock { $0.rates.count } }
    var heldReservations: Int { ledger.withLock { $0.reservations.count } }

    // MARK: Snapshots

    /// Writes a snapshot when the interval has passed since the last or the journal has grown past
    /// ``snapshotJournalBytes``.
    func snapshotIfDue(now: Int64) {
        guard let journal else { return }
        let due = snapshots.withLock { clock in
            now - clock.last >= snapshotInterval || journal.written - clock.writtenAtLast >= Self.snapshotJournalBytes
        }
        if due { try? snapshot(now: now) }
    }

    /// Writes a snapshot now: the state and a new journal generation taken together under the lock,
    /// the file written outside it.
    func snapshot(now: Int64) throws(StateJournal.Failure) {
        guard let journal else { return }
        let (records, generation) = try ledger.withLock { (ledger: inout LimitLedger) throws(StateJournal.Failure) -> ([JournalRecord], UInt64) in
            (ledger.snapshot(), try journal.rotate())
        }
        try journal.writeSnapshot(records, generation: generation)
        snapshots.withLock { $0 = SnapshotClock(last: now, writtenAtLast: journal.written) }
    }

    /// The first journal error since the last call, for the log.
    func takeJournalFailure() -> String? { journal?.takeFailure() }

    // MARK: For tests and the gauges

    /// What limitd remembers of `key`, without marking it as seen.
    func record(for key: String) -> KeyRecord? {
        ledger.withLock { $0.rates.record(for: key) }
    }

    /// The policy for a request: the default, or the key's own rate when `requestsPerMinute` > 0.
    func policy(requestsPerMinute: UInt32) -> RateLimitPolicy {
        requestsPerMinute > 0 ? defaults.minutePolicy(requestsPerMinute) : defaultPolicy
    }

    /// Whether reservation `id` is held.
    func holds(_ id: UInt64) -> Bool { ledger.withLock { $0.reservations[id] != nil } }

    /// Keys forgotten to stay within the bound since start.
    var forgottenKeys: Int { ledger.withLock { $0.rates.forgottenCount } }
}
