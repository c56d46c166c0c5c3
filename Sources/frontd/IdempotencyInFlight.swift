import Synchronization

/// The idempotency keys this frontd is answering right now, so a duplicate that arrives while the first
/// request runs waits for it and gets its reply instead of running the model a second time.
final class IdempotencyInFlight: Sendable {
    /// What `acquire` decided.
    enum Acquisition: Sendable {
        /// No request with this key is running here: the caller runs it and must `release` the key.
        case owner
        /// A request with this key but another fingerprint is running: 409.
        case conflict
        /// A request with this key ran while the caller waited; its record, or nil when it failed (or
        /// was not stored), in which case the caller tries again.
        case finished(IdempotencyRecord?)
    }

    private struct Entry {
        let fingerprint: String
        var waiters: [CheckedContinuation<Acquisition, Never>]
    }

    private let entries = Mutex<[String: Entry]>([:])

    init() {}

    /// Becomes the owner of `key`, or waits for the owner to finish.
    func acquire(_ key: IdempotencyKey) async -> Acquisition {
        await withCheckedContinuation { (continuation: CheckedContinuation<Acquisition, Never>) in
            // Checked and registered under one lock, so a release cannot slip between the two.
            let now: Acquisition? = entries.withLock { table in
                guard var entry = table[key.recordKey] else {
                    table[key.recordKey] = Entry(fingerprint: key.fingerprint, waiters: [])
                    return .owner
                }
                guard entry.fingerprint == key.fingerprint else { return .conflict }
                entry.waiters.append(continuation)
                table[key.recordKey] = entry
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Ends ownership of `key`, handing `record` (nil: no reply to share) to every waiter.
    func release(_ key: IdempotencyKey, record: IdempotencyRecord?) {
        let waiters = entries.withLock { $0.removeValue(forKey: key.recordKey)?.waiters ?? [] }
        for w in waiters { w.resume(returning: .finished(record)) }
    }

    /// Keys being answered now (tests, diagnostics).
    var count: Int { entries.withLock { $0.count } }

    /// Requests waiting for `key`'s owner (tests, diagnostics).
    func waiting(_ key: IdempotencyKey) -> Int { entries.withLock { $0[key.recordKey]?.waiters.count ?? 0 } }
}
