import Synchronization

/// A count shared between a stand-in and the test (attempts made, streams cancelled).
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    /// A count at zero.
    public init() {}

    /// Adds one.
    /// - Returns: The new count.
    @discardableResult
    public func increment() -> Int { value.add(1, ordering: .sequentiallyConsistent).newValue }

    /// The count now.
    public var current: Int { value.load(ordering: .sequentiallyConsistent) }
}
