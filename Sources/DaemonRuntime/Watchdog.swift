import Dispatch
import Synchronization

/// Sends `WATCHDOG=1` at half the interval systemd asked for, while the daemon is responsive.
///
/// Each tick asks the probe (the service's `isHealthy()`) in a new task and pings only when it answers
/// true. A tick while the previous probe is still running sends nothing, so a daemon whose actor or queue
/// is stuck stops pinging, and systemd restarts it after `WatchdogSec=`; so does one whose concurrency
/// pool is starved, since the probe task never runs. Before a probe is set (while the daemon starts)
/// every tick pings: the runtime's own queue is turning.
final class Watchdog: Sendable {
    private struct State {
        var probe: (@Sendable () async -> Bool)?
        var probeRunning = false
    }

    /// The time between two pings: half of `WATCHDOG_USEC`.
    let period: Duration
    private let state = Mutex(State())
    private let timer: DispatchSourceTimerBox

    /// Starts the watchdog when systemd set one for this process.
    /// - Parameter queue: The queue the timer fires on.
    /// - Returns: The watchdog, or nil without `WATCHDOG_USEC` (or with another process's `WATCHDOG_PID`).
    static func startIfEnabled(queue: DispatchQueue) -> Watchdog? {
        guard let interval = SystemdNotifier.watchdogInterval() else { return nil }
        return Watchdog(period: interval / 2, queue: queue)
    }

    private init(period: Duration, queue: DispatchQueue) {
        self.period = period
        let source = DispatchSource.makeTimerSource(queue: queue)
        timer = DispatchSourceTimerBox(source)
        let (seconds, attoseconds) = period.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        // Leeway of a tenth of the period: pings may shift a little, never by half an interval.
        source.schedule(
            deadline: .now(), repeating: .nanoseconds(nanoseconds), leeway: .nanoseconds(nanoseconds / 10))
        source.setEventHandler { [weak self] in self?.tick() }
        source.activate()
    }

    /// From now on, ping only when `probe` answers true.
    func setProbe(_ probe: @escaping @Sendable () async -> Bool) {
        state.withLock { $0.probe = probe }
    }

    /// Stops the pings.
    func cancel() {
        timer.cancel()
    }

    private enum Decision {
        case ping
        case skip
        case probe(@Sendable () async -> Bool)
    }

    private func tick() {
        let decision: Decision = state.withLock { state in
            guard let probe = state.probe else { return .ping }
            if state.probeRunning { return .skip }
            state.probeRunning = true
            return .probe(probe)
        }
        switch decision {
        case .ping:
            SystemdNotifier.watchdogPing()
        case .skip:
            break
        case .probe(let probe):
            Task {
                let healthy = await probe()
                if healthy { SystemdNotifier.watchdogPing() }
                self.state.withLock { $0.probeRunning = false }
            }
        }
    }
}

/// Holds a dispatch timer, which is not `Sendable` but whose `cancel()` may be called from any thread.
final class DispatchSourceTimerBox: @unchecked Sendable {
    private let source: any DispatchSourceTimer

    init(_ source: any DispatchSourceTimer) {
        self.source = source
    }

    func cancel() {
        source.cancel()
    }
}
