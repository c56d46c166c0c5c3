import Synchronization

/// A value shared between a handler and the test, read and written under a lock.
public final class SharedValue<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    /// A box holding `value`.
    public init(_ value: Value) { state = Mutex(value) }

    /// The value now; setting it replaces it.
    public var value: Value {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    /// Changes the value in place, under the lock.
    public func update(_ body: (inout Value) -> Void) { state.withLock { body(&$0) } }
}
