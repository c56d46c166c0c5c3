import Foundation
import IPC
import Spawn

/// One daemon under supervision: its plan, its sockets (held by inferctl), and where it is in its life.
final class SupervisedDaemon {
    /// Where a daemon is in its life.
    enum Phase {
        /// Not started, or stopped for good when the stack stops.
        case inactive
        /// Started; READY=1 not yet received.
        case starting(ChildProcess)
        /// READY=1 received.
        case running(ChildProcess)
        /// Asked to stop (SIGTERM, or SIGABRT for a missed watchdog); SIGKILL at `killAt`.
        case stopping(ChildProcess, reason: StopReason, killAt: ContinuousClock.Instant, killed: Bool)
        /// Failed; starts again at the given time.
        case restartPending(at: ContinuousClock.Instant)
        /// Exited cleanly on its own; starts again when a client connects to one of its sockets.
        case waitingForConnection
        /// Exited 78 (configuration error); never restarted.
        case failed
    }

    /// Why inferctl is stopping a daemon.
    enum StopReason: String {
        /// The stack stops.
        case shutdown
        /// It missed its watchdog deadline (or sent WATCHDOG=trigger).
        case watchdog
        /// It did not send READY=1 within the start timeout.
        case startTimeout = "start timeout"
    }

    let plan: DaemonPlan
    /// The listening sockets, in fd order (3, 4, ...); open for the whole life of the stack.
    let listeners: [OpenListener]
    var phase: Phase = .inactive
    var backoff = RestartBackoff()
    /// How many times a process was started for it.
    var starts = 0
    /// Whether it ever sent READY=1.
    var everReady = false
    /// The last STATUS= line.
    var status: String?
    /// How the last process ended.
    var lastOutcome: ChildOutcome?
    /// When the current process was started.
    var startedAt: ContinuousClock.Instant?
    /// The same moment on the wall clock, for `inferctl status`' uptime.
    var startedWall: Date?
    /// When the current process must have sent READY=1.
    var startDeadline: ContinuousClock.Instant?
    /// When the current process must have pinged the watchdog; nil before READY=1 or without a watchdog.
    var watchdogDeadline: ContinuousClock.Instant?
    /// The watchdog interval of the current process (WATCHDOG_USEC, or what it asked for).
    var watchdogInterval: Duration?

    init(plan: DaemonPlan, listeners: [OpenListener]) {
        self.plan = plan
        self.listeners = listeners
    }

    /// The unit's name: `limitd`, `modeld@smollm2`.
    var unit: String { plan.unit }

    /// The running process, in every phase that has one.
    var child: ChildProcess? {
        switch phase {
        case .starting(let child), .running(let child), .stopping(let child, _, _, _): child
        case .inactive, .restartPending, .waitingForConnection, .failed: nil
        }
    }

    /// The phase in one word, for logs and the state file.
    var stateName: String {
        switch phase {
        case .inactive: "inactive"
        case .starting: "starting"
        case .running: "running"
        case .stopping(_, let reason, _, _): reason == .shutdown ? "stopping" : "stopping (\(reason.rawValue))"
        case .restartPending: "restarting"
        case .waitingForConnection: "waiting for a connection"
        case .failed: "failed"
        }
    }
}
