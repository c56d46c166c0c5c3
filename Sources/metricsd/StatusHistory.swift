import Synchronization

/// The last minutes of the status page's figures, kept by metricsd so that a page opened now draws its
/// charts and rates at once instead of after its own first polls: one entry per gathering for the page,
/// at most one a second, the last `capacity`.
final class StatusHistory: Sendable {
    /// How many entries are kept (at one a second or slower: the last 90 s or more).
    let capacity: Int
    private let entries = Mutex<[[String: any Sendable]]>([])

    init(capacity: Int = 90) { self.capacity = capacity }

    /// Adds the cumulative figures of one gathering (`time`, `totals`, `latency`, `ttft` of
    /// ``StatusFigures``) unless the last entry is less than a second old.
    func record(_ entry: [String: any Sendable], time: Double) {
        entries.withLock { list in
            if let last = list.last?["time"] as? Double, time - last < 1 { return }
            list.append(entry)
            if list.count > capacity { list.removeFirst(list.count - capacity) }
        }
    }

    /// The entries, oldest first.
    var all: [[String: any Sendable]] { entries.withLock { $0 } }
}
