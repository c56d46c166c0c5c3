import Basics
import Glibc
import Settings

/// The settings the runtime itself reads, shared by every daemon; `Daemon.run` adds them to each
/// daemon's table (a daemon that lists one of them itself, say for another default, wins).
public enum RuntimeSettings {
    /// `LOG_LEVEL`: the least severe level written.
    public static let logLevel = Setting<LogLevel>.logLevel()

    /// `ENABLE_STRUCTURED_LOGGING`: JSON lines, or plain text for a person at a terminal.
    public static let structuredLogging = Setting<Bool>(
        name: "ENABLE_STRUCTURED_LOGGING", default: true,
        meaning: "Write logs as one JSON object per line (false: plain text for a terminal).")

    /// `INFER_RUNTIME_DIR`: where a daemon binds its Unix socket when systemd did not pass it one.
    public static let runtimeDirectory = Setting<String>(
        name: "INFER_RUNTIME_DIR", default: "/run/infer",
        meaning: "Directory of the daemons' Unix sockets when they bind their own (created 0755 if missing).",
        path: .absolute)

    /// `STATE_DIRECTORY`: set by systemd from a unit's `StateDirectory=`; the first path when it lists several.
    public static let systemdStateDirectory = Setting<String?>.firstPath(
        name: "STATE_DIRECTORY",
        meaning: "Set by systemd from StateDirectory=; wins over INFER_STATE_DIR (the first path when it lists several).")

    /// `INFER_STATE_DIR`: where a daemon keeps what must survive a restart, without systemd's `StateDirectory=`.
    public static let stateDirectory = Setting<String>(
        name: "INFER_STATE_DIR", default: "/var/lib/infer",
        meaning: "Where frontd (webhooks/) and limitd (limits/) keep state that must survive a restart, when STATE_DIRECTORY is unset.",
        path: .absolute)

    /// The state directory a daemon's settings name: `STATE_DIRECTORY`, else `INFER_STATE_DIR`.
    public static func stateDirectory(_ settings: Settings) -> String {
        settings[systemdStateDirectory] ?? settings[stateDirectory]
    }

    /// The settings of a daemon that keeps state across restarts (frontd, limitd): `STATE_DIRECTORY` and
    /// `INFER_STATE_DIR`, read with ``stateDirectory(_:)``.
    public static let stateDirectorySettings: [AnySetting] = [systemdStateDirectory, stateDirectory]

    /// `DRAIN_TIMEOUT_SEC`: how long a daemon may take to finish in-flight work after SIGTERM.
    public static let drainTimeout = Setting<Duration>(
        name: "DRAIN_TIMEOUT_SEC", default: .seconds(10),
        meaning: "Longest time to finish in-flight work after SIGTERM before exiting anyway.",
        unit: .seconds, range: .zero ... .seconds(3600))

    /// `BIND_ADDRESS`: the address frontd and metricsd bind their TCP ports on when not socket-activated.
    public static let bindAddress = Setting<String>(
        name: "BIND_ADDRESS", default: "0.0.0.0",
        meaning: "Address the TCP listeners bind when not socket-activated (IPv4 or IPv6 literal).",
        expected: "an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::",
        isValid: SocketAddress.isIPLiteral)

    /// `PORT`: frontd's HTTP port when not socket-activated.
    public static let port = Setting<Int>(
        name: "PORT", default: 8080,
        meaning: "TCP port of the HTTP API when not socket-activated (0 picks a free port).",
        range: 0...65535)

    /// `METRICS_PORT`: metricsd's Prometheus port when not socket-activated.
    public static let metricsPort = Setting<Int>(
        name: "METRICS_PORT", default: 9464,
        meaning: "TCP port of the Prometheus endpoint when not socket-activated (0 picks a free port).",
        range: 0...65535)

    /// The settings every daemon has, whatever its sockets (the tracing ones: ``TracingSettings``).
    public static let common: [AnySetting] = [logLevel, structuredLogging, runtimeDirectory, drainTimeout] + TracingSettings.all
}
