import CSystemd
import Glibc

/// Notifications to the service manager through `sd_notify`: readiness, status, stopping, the watchdog.
///
/// Every call is a no-op when `NOTIFY_SOCKET` is unset (a daemon started by hand), so a daemon never
/// needs to know whether systemd runs it. `NOTIFY_SOCKET` is left set: the daemon notifies until it exits.
public enum SystemdNotifier {
    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    public static var isEnabled: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends raw assignments, one per line (`"READY=1\nSTATUS=serving"`).
    /// - Parameter assignments: The message.
    /// - Returns: True when it was sent; false without a manager or when sending failed.
    @discardableResult
    public static func send(_ assignments: String) -> Bool {
        sd_notify(0, assignments) > 0
    }

    /// `READY=1`: the daemon serves; under `Type=notify` systemd starts the units that wait for it.
    /// - Parameter status: A status line sent with it.
    @discardableResult
    public static func ready(status: String? = nil) -> Bool {
        send("READY=1" + (status.map { "\nSTATUS=" + oneLine($0) } ?? ""))
    }

    /// `STATUS=...`: a free-form line `systemctl status` shows.
    /// - Parameter text: The status; line breaks become spaces.
    @discardableResult
    public static func status(_ text: String) -> Bool {
        send("STATUS=" + oneLine(text))
    }

    /// `STOPPING=1`: the daemon has begun to shut down.
    /// - Parameter status: A status line sent with it, e.g. "draining".
    @discardableResult
    public static func stopping(status: String? = nil) -> Bool {
        send("STOPPING=1" + (status.map { "\nSTATUS=" + oneLine($0) } ?? ""))
    }

    /// `RELOADING=1`: the daemon reloads its configuration; send ``ready(status:)`` when done.
    /// - Parameter status: A status line sent with it.
    @discardableResult
    public static func reloading(status: String? = nil) -> Bool {
        var monotonic = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        // systemd 253+ wants MONOTONIC_USEC with RELOADING=1 (Type=notify-reload); older ones ignore it.
        let microseconds = Int64(monotonic.tv_sec) * 1_000_000 + Int64(monotonic.tv_nsec) / 1_000
        return send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)" + (status.map { "\nSTATUS=" + oneLine($0) } ?? ""))
    }

    /// `WATCHDOG=1`: the daemon is alive. ``Watchdog`` sends it on a timer.
    @discardableResult
    public static func watchdogPing() -> Bool {
        send("WATCHDOG=1")
    }

    /// The watchdog interval systemd expects pings within (`WatchdogSec=`, passed as `WATCHDOG_USEC`), or
    /// nil when there is no watchdog for this process (`WATCHDOG_PID` names another one).
    public static func watchdogInterval() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }

    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
