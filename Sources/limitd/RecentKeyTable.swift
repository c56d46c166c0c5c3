import Basics

/// What limitd remembers about one scope (a key, or a key and a model): a GCRA theoretical arrival time
/// (TAT) per limit, in nanoseconds on limitd's clock (0: nothing outstanding), and the tokens settled.
struct KeyRecord: Sendable, Equatable {
    /// TAT of the requests-per-window limit (`RATE_LIMIT_RPM` over `RATE_LIMIT_WINDOW_SEC`).
    var theoreticalArrival: Int64 = 0
    /// TAT of the requests-per-hour limit.
    var hourArrival: Int64 = 0
    /// TAT of the tokens-per-minute limit.
    var tokenArrival: Int64 = 0
    /// Prompt tokens settled for the scope since it was first seen (or last forgotten).
    var promptTokens: UInt64 = 0
    /// Completion tokens settled for the scope since it was first seen (or last forgotten).
    var completionTokens: UInt64 = 0
}

/// The keys limitd tracks, bounded: beyond ``capacity`` the least recently seen key is forgotten.
///
/// A dictionary from key to slot, the slots in one array, and their ``RecencyList``, so finding, touching
/// and forgetting a key are O(1) and touching allocates nothing. Forgetting a key only gives it a fresh
/// allowance: a key quiet for long enough to be the least recently seen of `capacity` keys has usually
/// earned it back anyway.
struct RecentKeyTable {
    private struct Slot {
        var key: String
        var record: KeyRecord
    }

    /// Most keys kept.
    let capacity: Int
    private var index: [String: Int] = [:]
    private var slots: [Slot] = []
    private var recency: RecencyList
    /// Keys forgotten to stay within ``capacity`` since the table was made.
    private(set) var forgottenCount = 0

    /// An empty table.
    /// - Parameter capacity: Most keys kept (at least 1).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
        // Grow as keys arrive rather than reserving the whole bound up front.
        let initialReservation = min(self.capacity, 1024)
        slots.reserveCapacity(initialReservation)
        recency = RecencyList(reservingCapacity: initialReservation)
    }

    /// Keys tracked now.
    var count: Int { slots.count }

    /// Finds the record of `key` (making a fresh one when the key is new, forgetting the least recently seen
    /// key when the table is full), marks the key as the most recently seen, and lets `body` update it.
    /// - Parameters:
    ///   - key: The key.
    ///   - body: Reads or updates the record.
    /// - Returns: What `body` returns.
    mutating func withRecord<Result>(for key: String, _ body: (inout KeyRecord) -> Result) -> Result {
        let slot: Int
        if let found = index[key] {
            slot = found
        } else if slots.count >= capacity, let oldest = recency.oldest {
            // Full: the least recently seen key's slot is reused for the new key.
            slot = oldest
            index.removeValue(forKey: slots[slot].key)
            slots[slot] = Slot(key: key, record: KeyRecord())
            index[key] = slot
            forgottenCount += 1
        } else {
            slot = slots.count
            slots.append(Slot(key: key, record: KeyRecord()))
            index[key] = slot
        }
        recency.touch(slot)
        return body(&slots[slot].record)
    }

    /// The record of `key`, without marking it as seen.
    /// - Parameter key: The key.
    /// - Returns: The record, or nil when the key is not tracked.
    func record(for key: String) -> KeyRecord? {
        index[key].map { slots[$0].record }
    }

    /// Replaces the record of `key` (a journal or snapshot being read back), marking it the most recently seen.
    mutating func set(_ key: String, _ record: KeyRecord) {
        withRecord(for: key) { $0 = record }
    }

    /// Every key and record from the least to the most recently seen (what a snapshot writes, so that
    /// reading it back in order restores the recency).
    var oldestFirst: [(key: String, record: KeyRecord)] {
        recency.fromNewest.reversed().map { (slots[$0].key, slots[$0].record) }
    }

    /// The keys from the most to the least recently seen (for tests and debugging; O(n)).
    var keysByRecency: [String] {
        recency.fromNewest.map { slots[$0].key }
    }
}
