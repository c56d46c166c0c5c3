import Synchronization

/// The memory tier every call consults: the exact ``LRUCache``, the ``SemanticIndex`` over the entries
/// stored with a semantic key, and the ``ClaimTable``, under one lock so they never disagree (an entry that
/// leaves the LRU leaves the index in the same critical section).
final class ResponseCache: Sendable {
    /// What a semantic lookup found.
    struct SemanticLookup: Equatable {
        /// The index's answer: best similarity, and the matching key when it reached the threshold.
        var search: SemanticIndex.Search
        /// The match's value when this tier holds it (nil on a miss, or when the value lives in Redis only).
        var value: [UInt8]?
    }

    /// What a store did.
    struct StoreResult: Equatable {
        /// Stored (and what was evicted for it), or too large.
        var outcome: LRUCache.StoreOutcome
        /// Whether the semantic index took it (false without a semantic key, or for a vector whose
        /// dimension differs from its group's).
        var indexed: Bool
    }

    /// The state behind the lock.
    struct State {
        var entries: LRUCache
        var index: SemanticIndex
        var claims = ClaimTable()
        /// Moves on with every store and clear, so the snapshot writer can tell nothing changed.
        var generation: UInt64 = 0

        /// Takes the entries that left the LRU out of the index too.
        mutating func unindexLeftEntries() {
            guard !entries.leftIndexed.isEmpty else { return }
            for key in entries.leftIndexed { index.remove(key) }
            entries.leftIndexed.removeAll(keepingCapacity: true)
        }
    }

    /// The TTL of an entry stored without one (`CACHE_DEFAULT_TTL`).
    let defaultTTL: Duration
    private let state: Mutex<State>

    /// An empty cache.
    /// - Parameters:
    ///   - maxEntries: Most entries kept (`CACHE_MAX_SIZE`).
    ///   - maxBytes: Most key and value bytes kept (`CACHE_MAX_BYTES`).
    ///   - defaultTTL: The TTL of an entry stored without one (`CACHE_DEFAULT_TTL`).
    ///   - maxIndexed: Most entries in the semantic index (`SEMANTIC_CACHE_MAX_ENTRIES`).
    init(maxEntries: Int, maxBytes: Int, defaultTTL: Duration, maxIndexed: Int = 10_000) {
        self.defaultTTL = defaultTTL
        state = Mutex(State(entries: LRUCache(maxEntries: maxEntries, maxBytes: maxBytes),
                            index: SemanticIndex(maxEntries: maxIndexed)))
    }

    /// A `Put`'s TTL in nanoseconds: its own, or ``defaultTTL`` for 0.
    func ttl(seconds: UInt32) -> Int64 {
        let nanosecondsPerSecond: Int64 = 1_000_000_000
        return seconds == 0 ? defaultTTL.nanoseconds : Int64(seconds) * nanosecondsPerSecond
    }

    /// Looks `key` up.
    /// - Parameters:
    ///   - key: The key.
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: What was found.
    func get(_ key: String, now: Int64) -> LRUCache.Lookup {
        state.withLock { state in
            let lookup = state.entries.get(key, now: now)
            state.unindexLeftEntries()
            return lookup
        }
    }

    /// Stores `value` under `key`, indexes it when a semantic key comes with it, and ends any claim on it.
    /// - Parameters:
    ///   - key: The key.
    ///   - model: The model the value came from.
    ///   - value: The value.
    ///   - ttlSeconds: Seconds to keep it; 0 for ``defaultTTL``.
    ///   - semantic: The entry's group and (checked) vector, or nil.
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: Whether it was stored, what was evicted, and whether it was indexed.
    func put(
        key: String, model: String, value: [UInt8], ttlSeconds: UInt32, semantic: (group: String, vector: UnitVector)? = nil,
        now: Int64
    ) -> StoreResult {
        let ttl = ttl(seconds: ttlSeconds)
        return put(key: key, model: model, value: value, storedAt: now, expiresAt: LRUCache.expiry(now, plus: ttl),
                   semantic: semantic, now: now)
    }

    /// Stores an entry with given times (from a snapshot or Redis), as ``put(key:model:value:ttlSeconds:semantic:now:)``.
    func put(
        key: String, model: String, value: [UInt8], storedAt: Int64, expiresAt: Int64,
        semantic: (group: String, vector: UnitVector)?, now: Int64
    ) -> StoreResult {
        state.withLock { state in
            state.generation &+= 1
            state.claims.release(key)
            let outcome = state.entries.put(
                key: key, model: model, value: value, storedAt: storedAt, expiresAt: expiresAt, now: now,
                indexed: semantic != nil)
            state.unindexLeftEntries()
            guard case .stored = outcome, let semantic else {
                state.index.remove(key)
                return StoreResult(outcome: outcome, indexed: false)
            }
            // nil: a vector of another dimension than its group's; the entry is findable by key only.
            let indexed = state.index.insert(
                key: key, group: semantic.group, vector: semantic.vector, storedAt: storedAt, expiresAt: expiresAt) != nil
            return StoreResult(outcome: outcome, indexed: indexed)
        }
    }

    /// Indexes an entry whose value lives elsewhere (Redis), so a semantic lookup can find its key.
    /// - Returns: False when the vector's dimension differs from its group's.
    func index(key: String, group: String, vector: UnitVector, storedAt: Int64, expiresAt: Int64) -> Bool {
        state.withLock { $0.index.insert(key: key, group: group, vector: vector, storedAt: storedAt, expiresAt: expiresAt) != nil }
    }

    /// Takes `key` out of the semantic index (its value is gone from Redis).
    func unindex(_ key: String) {
        state.withLock { _ = $0.index.remove(key) }
    }

    /// Whether `key` is in the semantic index.
    func isIndexed(_ key: String) -> Bool {
        state.withLock { $0.index.contains(key) }
    }

    /// Finds the entry of `group` most similar to `vector`, and its value when this tier holds it.
    /// - Parameters:
    ///   - group: The semantic group.
    ///   - vector: The query.
    ///   - threshold: The least similarity that is a hit.
    ///   - maxAge: Nanoseconds; 0 for any age.
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: The search, and the value of a match held here.
    func semanticGet(group: String, vector: UnitVector, threshold: Float, maxAge: Int64, now: Int64) -> SemanticLookup {
        state.withLock { state in
            let search = state.index.search(group: group, vector: vector, threshold: threshold, maxAge: maxAge, now: now)
            guard let key = search.key else { return SemanticLookup(search: search, value: nil) }
            switch state.entries.get(key, now: now) {
            case .hit(let value, _):
                return SemanticLookup(search: search, value: value)
            case .miss, .expired:
                state.unindexLeftEntries()
                return SemanticLookup(search: search, value: nil)
            }
        }
    }

    /// Claims `key` for `lease` nanoseconds (see ``ClaimTable``).
    func claim(_ key: String, lease: Int64, now: Int64) -> ClaimTable.Decision {
        state.withLock { $0.claims.claim(key, lease: lease, now: now) }
    }

    /// Ends the claim on `key` (its answer was stored elsewhere: Redis).
    func releaseClaim(_ key: String) {
        state.withLock { $0.claims.release(key) }
    }

    /// Drops every entry, or one model's (and their places in the index).
    /// - Parameter model: The model, or nil for all.
    /// - Returns: How many entries were dropped.
    func clear(model: String?) -> Int {
        state.withLock { state in
            state.generation &+= 1
            let removed = state.entries.clear(model: model)
            if model == nil {
                state.index.removeAll()
                state.entries.leftIndexed.removeAll()
            } else {
                state.unindexLeftEntries()
            }
            return removed
        }
    }

    /// Entries and bytes held now, and entries in the semantic index.
    var size: (entries: Int, bytes: Int, indexed: Int) {
        state.withLock { ($0.entries.count, $0.entries.bytes, $0.index.count) }
    }

    /// The bounds: most entries and most bytes kept.
    var bounds: (entries: Int, bytes: Int) {
        state.withLock { ($0.entries.maxEntries, $0.entries.maxBytes) }
    }

    /// Moves on with every store and clear.
    var generation: UInt64 {
        state.withLock { $0.generation }
    }

    /// Every live entry as the snapshot keeps it, least recently used first, then the index's entries whose
    /// values live elsewhere (Redis). Values are shared, not copied (arrays are copy-on-write), so the lock
    /// is held for a walk over the entries, not for the bytes.
    /// - Parameter clocks: Now, on both clocks.
    /// - Returns: The records, and the generation they are from.
    func snapshotRecords(at clocks: ClockPair) -> (records: [SnapshotRecord], generation: UInt64) {
        state.withLock { state in
            var semantic: [String: (SnapshotRecord.Semantic, storedAt: Int64, expiresAt: Int64)] = [:]
            state.index.forEach { key, group, vector, storedAt, expiresAt in
                semantic[key] = (.init(group: group, vector: Array(vector)), storedAt, expiresAt)
            }
            var records: [SnapshotRecord] = []
            records.reserveCapacity(state.entries.count + semantic.count)
            state.entries.forEachFromOldest { key, model, value, storedAt, expiresAt in
                guard expiresAt > clocks.monotonic else { return }
                records.append(SnapshotRecord(
                    key: key, stored: .init(model: model, value: value), storedAt: clocks.wall(fromMonotonic: storedAt),
                    expiresAt: clocks.wall(fromMonotonic: expiresAt), semantic: semantic.removeValue(forKey: key)?.0))
            }
            for (key, entry) in semantic where entry.expiresAt > clocks.monotonic {
                records.append(SnapshotRecord(
                    key: key, stored: nil, storedAt: clocks.wall(fromMonotonic: entry.storedAt),
                    expiresAt: clocks.wall(fromMonotonic: entry.expiresAt), semantic: entry.0))
            }
            return (records, state.generation)
        }
    }

    /// Loads a snapshot's records (into an empty cache, at start): expired ones are skipped, the bounds
    /// hold as for any store (so a snapshot from larger bounds keeps its most recent entries).
    /// - Parameters:
    ///   - records: The records, least recently used first.
    ///   - clocks: Now, on both clocks.
    /// - Returns: How many records were loaded and how many had expired.
    func restore(_ records: [SnapshotRecord], at clocks: ClockPair) -> (loaded: Int, expired: Int) {
        var loaded = 0, expired = 0
        for record in records {
            let expiresAt = clocks.monotonic(fromWall: record.expiresAt)
            guard expiresAt > clocks.monotonic else {
                expired += 1
                continue
            }
            let storedAt = min(clocks.monotonic, clocks.monotonic(fromWall: record.storedAt))
            let semantic = record.semantic.flatMap { key in UnitVector(key.vector).map { (group: key.group, vector: $0) } }
            if let stored = record.stored {
                _ = put(key: record.key, model: stored.model, value: stored.value, storedAt: storedAt, expiresAt: expiresAt,
                        semantic: semantic, now: clocks.monotonic)
            } else if let semantic {
                _ = index(key: record.key, group: semantic.group, vector: semantic.vector, storedAt: storedAt, expiresAt: expiresAt)
            }
            loaded += 1
        }
        return (loaded, expired)
    }
}
