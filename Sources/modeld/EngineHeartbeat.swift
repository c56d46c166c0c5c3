import Dispatch
import Synchronization

/// When an engine thread last went round its loop: the watchdog's evidence that it is not stuck.
///
/// The loop beats at every step and at least once per idle wait, so a stale heartbeat means one step (or
/// the thread) has hung.
final class EngineHeartbeat: Sendable {
    private let last = Atomic<UInt64>(DispatchTime.now().uptimeNanoseconds)

    /// Records that the loop is turning.
    func beat() {
        last.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
    }

    /// Time since the last beat.
    var age: Duration {
        let now = DispatchTime.now().uptimeNanoseconds
        let then = last.load(ordering: .relaxed)
        return .nanoseconds(Int64(clamping: now >= then ? now - then : 0))
    }

    /// Whether the loop beat within `limit`.
    func isRecent(within limit: Duration) -> Bool { age <= limit }
}

extension DispatchTime {
    /// The time `duration` from now, for a semaphore's timed wait.
    static func after(_ duration: Duration) -> DispatchTime {
        .now() + .nanoseconds(Int(clamping: duration.nanoseconds))
    }
}
