import Glibc
import Settings

/// What a daemon's `start` gets from the runtime: its settings, its listening sockets and its logger.
public struct DaemonContext: Sendable {
    /// The daemon's name, as on every log line.
    public let name: String
    /// Every setting of the daemon's table, and the runtime's own.
    public let settings: Settings
    /// The listening sockets by ``SocketSpec/name``; usually one per name, more when a `.socket` unit
    /// gives several `ListenStream=` the same `FileDescriptorName=`.
    public let listeners: [String: [ListeningSocket]]
    /// The daemon's logger (`LOG_LEVEL`, `ENABLE_STRUCTURED_LOGGING`).
    public let logger: Logger

    /// The first listening socket of a name.
    /// - Parameter name: The ``SocketSpec/name``.
    /// - Returns: The socket.
    /// - Throws: ``ConfigError`` (exit 78) when the daemon asked `Daemon.run` for no socket of that name.
    public func listener(_ name: String) throws(ConfigError) -> ListeningSocket {
        guard let socket = listeners[name]?.first else {
            throw ConfigError("the runtime handed over no socket named \(name): name it in Daemon.run's sockets")
        }
        return socket
    }

    /// Sets the STATUS= line `systemctl status` shows ("loading model smollm2", "12 requests queued").
    /// - Parameter text: One line.
    public func setStatus(_ text: String) {
        SystemdNotifier.status(text)
    }

    /// Asks the runtime to stop the daemon as if SIGTERM had arrived: drain, then exit 0. For a daemon that
    /// finds it cannot go on (its model file vanished), after logging why.
    public func requestStop() {
        kill(getpid(), SIGTERM)
    }
}
