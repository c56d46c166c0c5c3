/// What limitd remembers about one key.
struct KeyRecord: Sendable, Equatable {
    /// GCRA's theoretical arrival time, in monotonic nanoseconds (0: nothing outstanding).
    var theoreticalArrival: Int64 = 0
    /// Prompt tokens settled for the key since it was first seen (or last forgotten).
    var promptTokens: UInt64 = 0
    /// Completion tokens settled for the key since it was first seen (or last forgotten).
    var completionTokens: UInt64 = 0
}

/// The keys limitd tracks, bounded: beyond ``capacity`` the least recently seen key is forgotten.
///
/// A dictionary from key to slot, and the slots in one array threaded by a doubly-linked recency list of
/// array indices, so finding, touching and forgetting a key are O(1) and touching allocates nothing.
/// Forgetting a key only gives it a fresh allowance: a key quiet for long enough to be the least recently
/// seen of `capacity` keys has usually earned it back anyway.
struct RecentKeyTable {
    private static let none = -1

    private struct Slot {
        var key: String
        var record: KeyRecord
        /// The slot seen just after this one (towards the newest), or `none`.
        var newer: Int
        /// The slot seen just before this one (towards the oldest), or `none`.
        var older: Int
    }

    /// Most keys kept.
    let capacity: Int
    private var index: [String: Int] = [:]
    private var slots: [Slot] = []
    private var newest = RecentKeyTable.none
    private var oldest = RecentKeyTable.none
    /// Keys forgotten to stay within ``capacity`` since the table was made.
    private(set) var forgottenCount = 0

    /// An empty table.
    /// - Parameter capacity: Most keys kept (at least 1).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
        // Grow as keys arrive rather than reserving the whole bound up front.
        let initialReservation = 1024
        slots.reserveCapacity(min(self.capacity, initialReservation))
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
            if slot != newest {
                unlink(slot)
                linkAsNewest(slot)
            }
        } else if slots.count < capacity {
            slot = slots.count
            slots.append(Slot(key: key, record: KeyRecord(), newer: Self.none, older: Self.none))
            index[key] = slot
            linkAsNewest(slot)
        } else {
            // Full: the oldest slot is reused for the new key.
            slot = oldest
            unlink(slot)
            index.removeValue(forKey: slots[slot].key)
            slots[slot].key = key
            slots[slot].record = KeyRecord()
            index[key] = slot
            linkAsNewest(slot)
            forgottenCount += 1
        }
        return body(&slots[slot].record)
    }

    /// The record of `key`, without marking it as seen.
    /// - Parameter key: The key.
    /// - Returns: The record, or nil when the key is not tracked.
    func record(for key: String) -> KeyRecord? {
        index[key].map { slots[$0].record }
    }

    /// The keys from the most to the least recently seen (for tests and debugging; O(n)).
    var keysByRecency: [String] {
        var keys: [String] = []
        keys.reserveCapacity(slots.count)
        var slot = newest
        while slot != Self.none {
            keys.append(slots[slot].key)
            slot = slots[slot].older
        }
        return keys
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (slots[slot].newer, slots[slot].older)
        if newer != Self.none { slots[newer].older = older } else { newest = older }
        if older != Self.none { slots[older].newer = newer } else { oldest = newer }
        slots[slot].newer = Self.none
        slots[slot].older = Self.none
    }

    private mutating func linkAsNewest(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = Self.none
        if newest != Self.none { slots[newest].newer = slot }
        newest = slot
        if oldest == Self.none { oldest = slot }
    }
}
