/// A running daemon as the runtime sees it: what `start` returns to `Daemon.run`.
///
/// The runtime calls ``drain(until:)`` once, on the first SIGTERM or SIGINT, and exits when it returns or
/// the deadline passes, whichever comes first.
public protocol DaemonService: Sendable {
    /// Stops accepting new work and finishes the work in flight.
    ///
    /// Close the listeners (under systemd the socket stays open in PID 1, so new connections wait in the
    /// backlog for the next instance), answer or cancel what is queued, flush what must not be lost.
    /// - Parameter deadline: When the runtime exits anyway (`DRAIN_TIMEOUT_SEC` after the signal); work
    ///   still running then is cut off, so send what you can before it.
    func drain(until deadline: ContinuousClock.Instant) async

    /// Whether the daemon is responsive, asked at every watchdog tick (half of `WatchdogSec=`).
    ///
    /// Answer from the place whose stall matters (the actor that owns the queue, the event loop): a probe
    /// that does not return before the next tick counts as unhealthy. The default is always true.
    func isHealthy() async -> Bool

    /// The STATUS= line sent with READY=1 (`systemctl status` shows it); "ready" by default.
    var readyStatus: String { get }
}

extension DaemonService {
    public func isHealthy() async -> Bool { true }

    public var readyStatus: String { "ready" }
}
