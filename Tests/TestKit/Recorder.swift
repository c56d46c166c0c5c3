import Synchronization

/// A list that several threads and tasks append to (calls a stand-in saw, the order things ran in).
public final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    /// An empty list.
    public init() {}

    /// Appends `item`.
    public func append(_ item: Element) { items.withLock { $0.append(item) } }

    /// Everything appended so far, in order.
    public var all: [Element] { items.withLock { $0 } }

    /// How many items have been appended.
    public var count: Int { items.withLock { $0.count } }
}
