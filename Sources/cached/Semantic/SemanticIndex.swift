import Basics

/// The semantic index: for each group, the unit vectors of its entries, searched by an exact scan.
///
/// A group is everything that must be equal for two requests to share an answer (frontd hashes scope,
/// model, parameters and earlier messages into it), so a lookup only ever scans its own group's vectors:
/// one contiguous array of floats per group, padded to whole SIMD blocks, scanned with ``UnitVector/dot``.
/// Removal swaps the group's last entry into the hole, so the arrays stay dense.
///
/// The index is bounded (`SEMANTIC_CACHE_MAX_ENTRIES`): when it is full, the least recently stored or hit
/// entry leaves it (the entry itself may stay in the exact cache, findable by its key). It knows entries
/// by their exact-cache key only; the values live in the exact cache or Redis.
///
/// Times are monotonic nanoseconds passed by the caller.
struct SemanticIndex {
    /// What a search found.
    struct Search: Equatable {
        /// The best similarity among the group's live entries young enough, or -1 when there were none.
        var best: Float
        /// The key of that entry when `best` reached the threshold, else nil.
        var key: String?
        /// Nanoseconds since that entry was stored (0 on a miss).
        var age: Int64
    }

    private struct Slot {
        var key: String
        var group: String
        var position: Int
    }

    private struct Group {
        /// Floats per vector (the dimension rounded up to whole SIMD blocks).
        let stride: Int
        /// The dimension every vector of the group has.
        let dimension: Int
        /// `stride` floats per entry, in positions order.
        var vectors: [Float] = []
        var slots: [Int] = []
        var storedAt: [Int64] = []
        var expiresAt: [Int64] = []

        var count: Int { slots.count }
    }

    private static let emptyBest: Float = -1

    /// Most entries indexed.
    let maxEntries: Int
    /// Entries indexed now.
    private(set) var count = 0

    private var groups: [String: Group] = [:]
    private var slots = SlotArray<Slot>()
    private var slotOfKey: [String: Int] = [:]
    private var recency: RecencyList

    /// An empty index.
    /// - Parameter maxEntries: Most entries kept (at least 1).
    init(maxEntries: Int) {
        self.maxEntries = max(1, maxEntries)
        recency = RecencyList(reservingCapacity: min(self.maxEntries, 1024))
    }

    /// Indexes `key` in `group` (replacing what it had), as the most recent entry; the least recent one
    /// leaves when the index is full.
    /// - Parameters:
    ///   - key: The entry's exact-cache key.
    ///   - group: Its group.
    ///   - vector: Its embedding.
    ///   - storedAt: When it was stored.
    ///   - expiresAt: When it expires.
    /// - Returns: How many other entries left to make room, or nil when the vector's dimension differs
    ///   from the group's (nothing is indexed then, and an older entry under `key` is gone).
    @discardableResult
    mutating func insert(key: String, group: String, vector: UnitVector, storedAt: Int64, expiresAt: Int64) -> Int? {
        remove(key)
        if let existing = groups[group], existing.dimension != vector.dimension { return nil }
        var evicted = 0
        while count >= maxEntries, let oldest = recency.oldest {
            removeSlot(oldest)
            evicted += 1
        }
        let slot = slots.store(Slot(key: key, group: group, position: groups[group]?.count ?? 0))
        // Mutated in place through the dictionary's default subscript: no copy of the group's arrays.
        let fresh = Group(stride: vector.padded.count, dimension: vector.dimension)
        groups[group, default: fresh].vectors.append(contentsOf: vector.padded)
        groups[group, default: fresh].slots.append(slot)
        groups[group, default: fresh].storedAt.append(storedAt)
        groups[group, default: fresh].expiresAt.append(expiresAt)
        slotOfKey[key] = slot
        recency.touch(slot)
        count += 1
        return evicted
    }

    /// Finds the entry of `group` most similar to `vector` among those not expired and at most `maxAge`
    /// old; expired entries met on the way leave the index.
    /// - Parameters:
    ///   - group: The group to scan.
    ///   - vector: The query.
    ///   - threshold: The least similarity that is a match.
    ///   - maxAge: Nanoseconds; 0 for any age.
    ///   - now: The current time.
    /// - Returns: The best similarity, and the match when it reaches `threshold`; a match becomes the
    ///   most recently used entry.
    mutating func search(group: String, vector: UnitVector, threshold: Float, maxAge: Int64, now: Int64) -> Search {
        guard let entries = groups[group], entries.dimension == vector.dimension else {
            return Search(best: Self.emptyBest, key: nil, age: 0)
        }
        var best = Self.emptyBest
        var bestPosition = -1
        var expired: [Int] = []
        let stride = entries.stride
        entries.vectors.withUnsafeBufferPointer { vectors in
            vector.padded.withUnsafeBufferPointer { query in
                guard let base = vectors.baseAddress, let q = query.baseAddress else { return }
                for position in 0..<entries.count {
                    if now >= entries.expiresAt[position] {
                        expired.append(entries.slots[position])
                        continue
                    }
                    if maxAge > 0 && now - entries.storedAt[position] > maxAge { continue }
                    let similarity = UnitVector.dot(base + position * stride, q, stride: stride)
                    if similarity > best {
                        best = similarity
                        bestPosition = position
                    }
                }
            }
        }
        var result = Search(best: best, key: nil, age: 0)
        if bestPosition >= 0, best >= threshold {
            let slot = entries.slots[bestPosition]
            result.key = slots[slot].key
            result.age = max(0, now - entries.storedAt[bestPosition])
            recency.touch(slot)
        }
        for slot in expired { removeSlot(slot) }
        return result
    }

    /// Takes `key` out of the index, if it is there.
    /// - Parameter key: The entry's key.
    /// - Returns: Whether it was indexed.
    @discardableResult
    mutating func remove(_ key: String) -> Bool {
        guard let slot = slotOfKey[key] else { return false }
        removeSlot(slot)
        return true
    }

    /// Empties the index.
    mutating func removeAll() {
        groups.removeAll(keepingCapacity: true)
        slots.removeAll()
        slotOfKey.removeAll(keepingCapacity: true)
        recency.removeAll()
        count = 0
    }

    /// Whether `key` is indexed.
    func contains(_ key: String) -> Bool {
        slotOfKey[key] != nil
    }

    /// Entries of each group (for tests and debugging).
    var groupSizes: [String: Int] {
        groups.mapValues(\.count)
    }

    /// Every indexed entry with its vector and times, for the snapshot.
    func forEach(_ body: (_ key: String, _ group: String, _ vector: ArraySlice<Float>, _ storedAt: Int64, _ expiresAt: Int64) -> Void) {
        for (name, group) in groups {
            for position in 0..<group.count {
                let start = position * group.stride
                body(slots[group.slots[position]].key, name, group.vectors[start..<start + group.dimension],
                     group.storedAt[position], group.expiresAt[position])
            }
        }
    }

    private mutating func removeSlot(_ slot: Int) {
        let entry = slots[slot]
        recency.remove(slot)
        slotOfKey.removeValue(forKey: entry.key)
        slots.free(slot, leaving: Slot(key: "", group: "", position: -1))
        count -= 1
        guard var group = groups.removeValue(forKey: entry.group) else { return }
        let last = group.count - 1
        let position = entry.position
        if position != last {
            // Swap the last entry into the hole; its slot learns its new position.
            let stride = group.stride
            for offset in 0..<stride {
                group.vectors[position * stride + offset] = group.vectors[last * stride + offset]
            }
            group.slots[position] = group.slots[last]
            group.storedAt[position] = group.storedAt[last]
            group.expiresAt[position] = group.expiresAt[last]
            slots[group.slots[position]].position = position
        }
        group.vectors.removeLast(group.stride)
        group.slots.removeLast()
        group.storedAt.removeLast()
        group.expiresAt.removeLast()
        if group.count > 0 { groups[entry.group] = group }
    }
}
