import IPC
import Spawn

/// Starts one daemon process the way systemd starts a socket-activated `Type=notify` service.
enum DaemonLauncher {
    /// The first descriptor of passed sockets (`SD_LISTEN_FDS_START`).
    static let firstListenDescriptor: Int32 = 3

    /// The shell line that exports the variables that must hold the daemon's own pid, then execs it: the
    /// shell's pid is the daemon's, since exec keeps it. `$0` is the executable.
    /// - Parameter watchdog: Whether `WATCHDOG_PID` is set too.
    /// - Returns: The `sh -c` script.
    static func shellScript(watchdog: Bool) -> String {
        "LISTEN_PID=$$; export LISTEN_PID; " + (watchdog ? "WATCHDOG_PID=$$; export WATCHDOG_PID; " : "")
            + "exec \"$0\""
    }

    /// The environment one daemon gets: the stack's, its own variables, and what systemd would set.
    /// - Parameters:
    ///   - daemon: The daemon.
    ///   - base: The stack's environment.
    ///   - notifySocket: inferctl's notify socket.
    ///   - watchdog: The watchdog interval, or nil.
    /// - Returns: The environment, without `LISTEN_PID`/`WATCHDOG_PID` (the shell adds them).
    static func environment(
        for plan: DaemonPlan, base: [String: String], notifySocket: String, watchdog: Duration?
    ) -> [String: String] {
        var environment = base
        for (name, value) in plan.environment { environment[name] = value }
        environment["LISTEN_FDS"] = String(plan.sockets.count)
        environment["LISTEN_FDNAMES"] = plan.sockets.map(\.name).joined(separator: ":")
        environment["NOTIFY_SOCKET"] = notifySocket
        if let watchdog {
            let (seconds, attoseconds) = watchdog.components
            environment["WATCHDOG_USEC"] = String(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        } else {
            environment["WATCHDOG_USEC"] = nil
        }
        return environment
    }

    /// Starts the daemon with its sockets at fd 3, 4, ... (in a process group of its own, so a terminal's
    /// Ctrl-C reaches only inferctl, which then stops the daemons in order).
    /// - Parameters:
    ///   - daemon: The daemon and its open sockets.
    ///   - environment: From ``environment(for:base:notifySocket:watchdog:)``.
    /// - Returns: The process.
    /// - Throws: ``SpawnError`` when it cannot be started.
    static func launch(_ daemon: SupervisedDaemon, environment: [String: String]) throws -> ChildProcess {
        var descriptors: [Int32: Int32] = [:]
        for (index, listener) in daemon.listeners.enumerated() {
            descriptors[firstListenDescriptor + Int32(index)] = listener.descriptor
        }
        return try ProcessSpawner.spawn(
            "/bin/sh",
            arguments: ["-c", shellScript(watchdog: environment["WATCHDOG_USEC"] != nil), daemon.plan.executable],
            environment: environment, descriptors: descriptors,
            standardInput: .null, standardOutput: .inherit, standardError: .inherit, newProcessGroup: true)
    }
}
