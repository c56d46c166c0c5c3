/// A bounded queue in priority order: higher priority first, and in order of arrival within a priority.
///
/// Kept as a sorted array: queues are short (`BATCH_QUEUE_MAX`, 256 by default), batches are taken from
/// the front, and removal of a cancelled entry is a scan — all cheaper than a heap at this size.
struct BatchQueue<Element> {
    private(set) var entries: [(priority: UInt8, element: Element)] = []
    /// Most entries held; ``push(_:priority:)`` refuses beyond it.
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var isFull: Bool { entries.count >= capacity }

    /// Adds an element behind every element of the same or higher priority.
    /// - Returns: false when the queue is full (nothing is added).
    @discardableResult
    mutating func push(_ element: Element, priority: UInt8) -> Bool {
        guard !isFull else { return false }
        // First position whose priority is lower: binary search over a descending order.
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].priority >= priority {
                low = middle + 1
            } else {
                high = middle
            }
        }
        entries.insert((priority, element), at: low)
        return true
    }

    /// Takes up to `n` elements from the front.
    mutating func popFirst(_ n: Int) -> [Element] {
        let taken = entries.prefix(max(0, n)).map(\.element)
        entries.removeFirst(taken.count)
        return taken
    }

    /// Removes and returns the first element that matches.
    mutating func remove(where matches: (Element) -> Bool) -> Element? {
        guard let index = entries.firstIndex(where: { matches($0.element) }) else { return nil }
        return entries.remove(at: index).element
    }

    /// Removes and returns every element that matches, in queue order.
    mutating func removeAll(where matches: (Element) -> Bool) -> [Element] {
        let removed = entries.filter { matches($0.element) }.map(\.element)
        if !removed.isEmpty { entries.removeAll { matches($0.element) } }
        return removed
    }

    /// The elements in queue order.
    var elements: [Element] { entries.map(\.element) }
}
