import Basics

/// The exact-match cache: least recently used entries go first, each entry expires after its TTL, and the
/// whole is bounded by an entry count and a byte count.
///
/// A dictionary from key to slot, and the entries in one array of slots, in two doubly-linked lists of
/// array indices: a ``RecencyList`` (for eviction), and one list per model (so clearing a model walks only
/// its entries). Lookups, stores and evictions are O(1); a hit allocates nothing. Freed slots
/// are reused, so the array never holds more than the entry bound.
///
/// An entry's size is its key's UTF-8 bytes plus its value's bytes: what callers store, not the process's
/// memory (which adds a few dozen bytes of bookkeeping per entry).
///
/// Times are monotonic nanoseconds passed by the caller, so the clock is the caller's to choose.
struct LRUCache {
    private static let none = -1

    private struct Slot {
        var key: String
        var model: String
        var value: [UInt8]
        /// Key and value bytes.
        var size: Int
        var storedAt: Int64
        var expiresAt: Int64
        /// The next slot of the same model, or `none`.
        var nextOfModel: Int
        /// The previous slot of the same model, or `none`.
        var previousOfModel: Int
        /// Whether the semantic index knows the entry too (its key is reported when it leaves).
        var indexed: Bool

        /// What a freed slot holds: nothing, so its key and value are released at once.
        static let vacant = Slot(key: "", model: "", value: [], size: 0, storedAt: 0, expiresAt: 0,
                                 nextOfModel: LRUCache.none, previousOfModel: LRUCache.none, indexed: false)
    }

    /// What a lookup found.
    enum Lookup: Equatable {
        /// The value, and nanoseconds since it was stored.
        case hit(value: [UInt8], age: Int64)
        /// Nothing under that key.
        case miss
        /// An entry whose TTL had passed; it is removed now.
        case expired
    }

    /// What a store did.
    enum StoreOutcome: Equatable {
        /// Stored; `evicted` entries were dropped to make room, `expired` of them past their TTL anyway.
        case stored(evicted: Int, expired: Int)
        /// Not stored: the entry alone is larger than the byte bound (an older value under the key is
        /// dropped, so the cache never answers with it).
        case tooLarge
    }

    /// Most entries kept.
    let maxEntries: Int
    /// Most bytes (keys and values) kept.
    let maxBytes: Int
    /// Entries held now (expired ones included until they are looked up or evicted).
    private(set) var count = 0
    /// Key and value bytes held now.
    private(set) var bytes = 0
    /// Keys of indexed entries (``put(key:model:value:ttl:now:indexed:)``) that left since the caller last
    /// emptied this, so it can take them out of the semantic index.
    var leftIndexed: [String] = []

    private var index: [String: Int] = [:]
    private var slots: SlotArray<Slot>
    private var recency: RecencyList
    /// The first slot of each model's list.
    private var modelHeads: [String: Int] = [:]

    /// An empty cache.
    /// - Parameters:
    ///   - maxEntries: Most entries kept (at least 1).
    ///   - maxBytes: Most key and value bytes kept (at least 1).
    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
        // Grow as entries arrive rather than reserving the whole bound up front.
        let initialReservation = min(self.maxEntries, 1024)
        slots = SlotArray(reservingCapacity: initialReservation)
        recency = RecencyList(reservingCapacity: initialReservation)
    }

    /// Looks `key` up; a hit becomes the most recently used entry, an expired entry is removed.
    /// - Parameters:
    ///   - key: The key.
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: What was found.
    mutating func get(_ key: String, now: Int64) -> Lookup {
        guard let slot = index[key] else { return .miss }
        if now >= slots[slot].expiresAt {
            remove(slot)
            return .expired
        }
        recency.touch(slot)
        return .hit(value: slots[slot].value, age: max(0, now - slots[slot].storedAt))
    }

    /// Stores `value` under `key` (replacing what was there), as the most recently used entry, then evicts
    /// the least recently used entries until both bounds hold.
    /// - Parameters:
    ///   - key: The key.
    ///   - model: The model the value came from, for ``clear(model:)``.
    ///   - value: The value.
    ///   - ttl: Nanoseconds until it expires (at least 1).
    ///   - now: The current time in monotonic nanoseconds.
    ///   - indexed: Whether the semantic index knows the entry (its key goes to ``leftIndexed`` when the
    ///     entry leaves).
    /// - Returns: Whether it was stored, and what was evicted.
    mutating func put(key: String, model: String, value: [UInt8], ttl: Int64, now: Int64, indexed: Bool = false) -> StoreOutcome {
        put(key: key, model: model, value: value, storedAt: now, expiresAt: Self.expiry(now, plus: ttl), now: now, indexed: indexed)
    }

    /// `now + ttl` (at least 1), or `Int64.max` when that overflows.
    static func expiry(_ now: Int64, plus ttl: Int64) -> Int64 {
        let (expiry, overflow) = now.addingReportingOverflow(max(1, ttl))
        return overflow ? Int64.max : expiry
    }

    /// Stores `value` with given times (a snapshot's entry, or one filled from Redis keeps its age).
    /// - Parameters:
    ///   - key: The key.
    ///   - model: The model the value came from.
    ///   - value: The value.
    ///   - storedAt: When it was first stored (monotonic nanoseconds, may be before `now`).
    ///   - expiresAt: When it expires.
    ///   - now: The current time, for eviction.
    ///   - indexed: Whether the semantic index knows it.
    /// - Returns: Whether it was stored, and what was evicted.
    mutating func put(
        key: String, model: String, value: [UInt8], storedAt: Int64, expiresAt: Int64, now: Int64, indexed: Bool
    ) -> StoreOutcome {
        let size = key.utf8.count + value.count
        if let slot = index[key] {
            guard size <= maxBytes else {
                remove(slot)
                return .tooLarge
            }
            // Update in place: same slot, new value, new age, new TTL; a new model moves it between lists.
            if slots[slot].model != model {
                unlinkFromModel(slot)
                slots[slot].model = model
                linkIntoModel(slot)
            }
            bytes += size - slots[slot].size
            slots[slot].value = value
            slots[slot].size = size
            slots[slot].storedAt = storedAt
            slots[slot].expiresAt = expiresAt
            if slots[slot].indexed && !indexed { leftIndexed.append(key) }
            slots[slot].indexed = indexed
            recency.touch(slot)
        } else {
            guard size <= maxBytes else { return .tooLarge }
            let entry = Slot(
                key: key, model: model, value: value, size: size, storedAt: storedAt, expiresAt: expiresAt,
                nextOfModel: Self.none, previousOfModel: Self.none, indexed: indexed)
            let slot = slots.store(entry)
            index[key] = slot
            recency.touch(slot)
            linkIntoModel(slot)
            count += 1
            bytes += size
        }
        // The entry just stored is the newest and fits alone, so eviction stops before reaching it.
        var evicted = 0
        var expired = 0
        while count > maxEntries || bytes > maxBytes, let oldest = recency.oldest {
            if now >= slots[oldest].expiresAt { expired += 1 }
            remove(oldest)
            evicted += 1
        }
        return .stored(evicted: evicted, expired: expired)
    }

    /// Drops every entry, or every entry of one model.
    /// - Parameter model: The model, or nil for all.
    /// - Returns: How many entries were dropped.
    mutating func clear(model: String?) -> Int {
        guard let model else {
            let removed = count
            index.removeAll(keepingCapacity: true)
            slots.removeAll()
            modelHeads.removeAll(keepingCapacity: true)
            recency.removeAll()
            count = 0
            bytes = 0
            return removed
        }
        var removed = 0
        var slot = modelHeads[model] ?? Self.none
        while slot != Self.none {
            let next = slots[slot].nextOfModel
            remove(slot)
            removed += 1
            slot = next
        }
        return removed
    }

    /// Whether an entry is held under `key` (expired or not), without touching it.
    /// - Parameter key: The key.
    /// - Returns: True when an entry is held.
    func contains(_ key: String) -> Bool {
        index[key] != nil
    }

    /// Every entry from the least to the most recently used (storing them in this order rebuilds the same
    /// recency), for the snapshot.
    func forEachFromOldest(_ body: (_ key: String, _ model: String, _ value: [UInt8], _ storedAt: Int64, _ expiresAt: Int64) -> Void) {
        for slot in recency.fromNewest.reversed() {
            let entry = slots[slot]
            body(entry.key, entry.model, entry.value, entry.storedAt, entry.expiresAt)
        }
    }

    /// The keys from the most to the least recently used (for tests and debugging; O(n)).
    var keysByRecency: [String] {
        recency.fromNewest.map { slots[$0].key }
    }

    /// The models with entries now, and how many each has (for tests and debugging; O(n)).
    var entriesByModel: [String: Int] {
        var counts: [String: Int] = [:]
        for (model, head) in modelHeads {
            var slot = head
            while slot != Self.none {
                counts[model, default: 0] += 1
                slot = slots[slot].nextOfModel
            }
        }
        return counts
    }

    // MARK: Lists

    /// Unlinks a slot from everything, frees its value and puts it on the free list.
    private mutating func remove(_ slot: Int) {
        if slots[slot].indexed { leftIndexed.append(slots[slot].key) }
        index.removeValue(forKey: slots[slot].key)
        recency.remove(slot)
        unlinkFromModel(slot)
        count -= 1
        bytes -= slots[slot].size
        slots.free(slot, leaving: .vacant)
    }

    private mutating func linkIntoModel(_ slot: Int) {
        let model = slots[slot].model
        let head = modelHeads[model] ?? Self.none
        slots[slot].previousOfModel = Self.none
        slots[slot].nextOfModel = head
        if head != Self.none { slots[head].previousOfModel = slot }
        modelHeads[model] = slot
    }

    private mutating func unlinkFromModel(_ slot: Int) {
        let (previous, next) = (slots[slot].previousOfModel, slots[slot].nextOfModel)
        if next != Self.none { slots[next].previousOfModel = previous }
        if previous != Self.none {
            slots[previous].nextOfModel = next
        } else if next != Self.none {
            modelHeads[slots[slot].model] = next
        } else {
            modelHeads.removeValue(forKey: slots[slot].model)
        }
        slots[slot].previousOfModel = Self.none
        slots[slot].nextOfModel = Self.none
    }
}
