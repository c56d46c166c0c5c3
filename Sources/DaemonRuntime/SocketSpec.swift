import Settings
/// A listening socket a daemon needs, named as in its `.socket` unit (`FileDescriptorName=`).
///
/// Under systemd the runtime takes the inherited socket of that name; otherwise it binds one itself:
/// `$INFER_RUNTIME_DIR/<name>.sock` for a Unix socket, `BIND_ADDRESS:PORT` for a TCP one.
public struct SocketSpec: Sendable {
    /// Where the socket is bound when the daemon binds it itself.
    public enum Endpoint: Sendable {
        /// A Unix stream socket `$INFER_RUNTIME_DIR/<fileName>`.
        case unix(fileName: String)
        /// A TCP socket on the address and port that two settings hold.
        case tcp(port: Setting<Int>, bindAddress: Setting<String>)
    }

    /// The socket's name: `FileDescriptorName=` in the `.socket` unit, and the key in `DaemonContext.listeners`.
    public let name: String
    /// Where the daemon binds it without systemd.
    public let endpoint: Endpoint

    /// Describes a socket.
    /// - Parameters:
    ///   - name: The socket's name.
    ///   - endpoint: Where to bind it without systemd.
    public init(name: String, endpoint: Endpoint) {
        self.name = name
        self.endpoint = endpoint
    }

    /// A Unix stream socket named `name`, bound as `$INFER_RUNTIME_DIR/<name>.sock` without systemd.
    /// - Parameter name: The socket's name, e.g. `limitd` or `modeld-smollm2`.
    /// - Returns: The spec.
    public static func unix(_ name: String) -> SocketSpec {
        SocketSpec(name: name, endpoint: .unix(fileName: "\(name).sock"))
    }

    /// A TCP socket named `name`, bound on `BIND_ADDRESS` and the port that `port` holds without systemd.
    /// - Parameters:
    ///   - name: The socket's name, e.g. `http` or `metrics`.
    ///   - port: The port setting (``RuntimeSettings/port`` or ``RuntimeSettings/metricsPort``).
    ///   - bindAddress: The address setting.
    /// - Returns: The spec.
    public static func tcp(
        _ name: String, port: Setting<Int>, bindAddress: Setting<String> = RuntimeSettings.bindAddress
    ) -> SocketSpec {
        SocketSpec(name: name, endpoint: .tcp(port: port, bindAddress: bindAddress))
    }

    /// The settings this socket reads, which join the daemon's table.
    var settings: [AnySetting] {
        switch endpoint {
        case .unix: [RuntimeSettings.runtimeDirectory]
        case .tcp(let port, let bindAddress): [bindAddress, port]
        }
    }
}

/// A listening socket a daemon got, ready for accept(2): non-blocking and close-on-exec.
public struct ListeningSocket: Sendable {
    /// The name of the ``SocketSpec`` it answers.
    public let name: String
    /// The descriptor; the daemon owns it from `start` on.
    public let fileDescriptor: Int32
    /// True when systemd passed it (socket activation), false when the daemon bound it.
    public let activated: Bool
    /// Where it listens: a path for a Unix socket, `host:port` for TCP (the real port, also when 0 was asked).
    public let address: String
}
