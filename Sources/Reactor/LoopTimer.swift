/// A one-shot timer of an ``EpollLoopCore``, kept to cancel it. Its mutable state is guarded by the
/// core's lock.
package final class LoopTimer: @unchecked Sendable {
    /// When it fires, in ``MonotonicClock`` nanoseconds.
    let deadline: UInt64
    let action: @Sendable () -> Void
    /// Position in the core's heap, -1 once fired or cancelled. Guarded by the core's lock.
    var heapIndex = -1

    init(deadline: UInt64, action: @escaping @Sendable () -> Void) {
        self.deadline = deadline
        self.action = action
    }
}
