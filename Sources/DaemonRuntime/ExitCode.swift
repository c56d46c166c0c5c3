/// The exit statuses every daemon uses, from sysexits(3) where one fits, so an operator and systemd can
/// tell why a daemon stopped. The units set `RestartPreventExitStatus=78` so a configuration error is not
/// restarted in a loop.
public enum ExitCode {
    /// Stopped on request (SIGTERM or SIGINT) after draining, or after the drain deadline.
    public static let success: Int32 = 0
    /// The daemon's start failed for a reason other than configuration; a restart may succeed.
    public static let failure: Int32 = 1
    /// EX_OSERR: the system refused something (a socket could not be bound); a restart may succeed.
    public static let osError: Int32 = 71
    /// EX_CONFIG: a setting or the unit's sockets are wrong; fix the configuration, do not restart.
    public static let config: Int32 = 78

    /// The status after a second SIGTERM/SIGINT cut the drain short: 128 + the signal, as a shell reports.
    /// - Parameter signal: The signal number.
    /// - Returns: 128 + signal.
    public static func interrupted(by signal: Int32) -> Int32 { 128 + signal }
}
