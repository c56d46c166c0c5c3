import DaemonRuntime
import Glibc
import IPC

/// How a daemon's process ended, as the supervisor records it.
enum ChildOutcome: Equatable, CustomStringConvertible {
    /// It called exit with this status.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    var description: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signaled(let signal): "killed by signal \(signal) (\(signalName(signal)))"
        }
    }
}

/// What to do after a daemon's process ended without being asked to: systemd's `Restart=on-failure`
/// with `RestartPreventExitStatus=78`, as the units say.
enum RestartDecision: Equatable {
    /// It failed: start it again after the backoff.
    case restart
    /// It ended cleanly (status 0, or SIGHUP/SIGINT/SIGTERM/SIGPIPE, which systemd counts as clean): leave
    /// it stopped until a client connects to one of its sockets, as socket activation would.
    case startOnConnection
    /// Exit 78 (EX_CONFIG): its configuration is wrong and a restart would fail the same way; stop the stack.
    case stopStack
}

/// The restart rules and the restart delay, kept apart from the supervisor's loop so they can be tested.
enum RestartPolicy {
    /// The exit status that means "my configuration is wrong" (EX_CONFIG): never restarted.
    static let configurationExitStatus: Int32 = 78

    /// Decides what follows the end of a daemon's process.
    /// - Parameters:
    ///   - outcome: How the process ended.
    ///   - killedBySupervisor: True when the supervisor killed it for a missed watchdog or start timeout:
    ///     that is a failure whatever the status.
    /// - Returns: The decision.
    static func decide(_ outcome: ChildOutcome, killedBySupervisor: Bool = false) -> RestartDecision {
        if killedBySupervisor { return .restart }
        switch outcome {
        case .exited(0):
            return .startOnConnection
        case .exited(configurationExitStatus):
            return .stopStack
        case .exited:
            return .restart
        case .signaled(let signal):
            return [SIGHUP, SIGINT, SIGTERM, SIGPIPE].contains(signal) ? .startOnConnection : .restart
        }
    }
}

/// The delay before restarting a failed daemon: 100 ms, doubling at each failure up to 5 s, and back to
/// 100 ms once the daemon has run 10 s, so a crash loop backs off while a rare crash is restarted at once.
struct RestartBackoff: Equatable {
    /// The first delay, and the delay after a run of at least `resetAfter`.
    let initial: Duration
    /// The longest delay.
    let maximum: Duration
    /// The uptime after which a failure counts as the first again.
    let resetAfter: Duration
    /// The delay the next failure gets.
    private(set) var nextDelay: Duration

    /// Makes a backoff; the defaults are the units' `RestartSec=100ms` and the brief's 5 s ceiling.
    init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5), resetAfter: Duration = .seconds(10)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.resetAfter = resetAfter
        nextDelay = initial
    }

    /// The delay before restarting a daemon that failed after running for `uptime`; doubles the next one.
    /// - Parameter uptime: How long the failed process ran.
    /// - Returns: How long to wait before starting it again.
    mutating func delay(afterUptime uptime: Duration) -> Duration {
        if uptime >= resetAfter { nextDelay = initial }
        let delay = nextDelay
        nextDelay = min(nextDelay * 2, maximum)
        return delay
    }
}

/// "SIGKILL" for 9: the names an operator knows.
func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
        SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
        SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
    ]
    return names[signal] ?? "signal \(signal)"
}

extension LogValue {
    /// A duration as whole milliseconds, for `*_ms` fields.
    /// - Parameter duration: The duration.
    init(milliseconds duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .int(seconds * 1_000 + attoseconds / 1_000_000_000_000_000)
    }
}
