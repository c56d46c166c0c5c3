import Synchronization

/// A clock the test moves by hand, in nanoseconds (the `now:` a daemon's service takes instead of the
/// monotonic clock).
public final class ManualClock: Sendable {
    private let nanoseconds: Atomic<Int64>

    /// A clock at `start` nanoseconds.
    public init(start: Int64 = 1_000_000_000_000) {
        nanoseconds = Atomic(start)
    }

    /// The current time.
    public var now: Int64 { nanoseconds.load(ordering: .sequentiallyConsistent) }

    /// Moves the clock on by `duration` nanoseconds.
    public func advance(by duration: Int64) {
        nanoseconds.add(duration, ordering: .sequentiallyConsistent)
    }
}

/// Nanoseconds in a second, for readable test arithmetic with ``ManualClock``.
public let second: Int64 = 1_000_000_000
/// Nanoseconds in a millisecond.
public let millisecond: Int64 = 1_000_000
