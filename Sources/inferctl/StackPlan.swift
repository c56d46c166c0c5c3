/// A listening socket one daemon gets, as its `.socket` unit describes it.
struct SocketPlan: Equatable {
    /// Where it listens.
    enum Endpoint: Equatable {
        /// A Unix stream socket file (mode 0660).
        case unix(path: String)
        /// A TCP socket; port 0 lets the kernel pick one.
        case tcp(host: String, port: Int)
    }

    /// `FileDescriptorName=`: what the daemon finds it by in `LISTEN_FDNAMES`.
    let name: String
    let endpoint: Endpoint
}

/// One daemon process of the stack: what `infer-<daemon>.service` (or `infer-modeld@NAME.service`) runs.
struct DaemonPlan: Equatable {
    /// `limitd`, or `modeld@smollm2` for a model's instance.
    let unit: String
    /// The executable's absolute path.
    let executable: String
    /// Its sockets, in the order they are passed (fd 3, 4, ...).
    let sockets: [SocketPlan]
    /// Variables only this daemon gets (`INFER_MODEL` for a modeld instance).
    var environment: [String: String]
}

/// The whole stack: every daemon with its sockets, in start order.
///
/// The socket contract every daemon is written against:
///
/// | daemon | sockets (`FileDescriptorName=`) | address |
/// |---|---|---|
/// | metricsd | `metricsd`, `metrics-http` | `<runtime>/metricsd.sock`, TCP `METRICS_PORT` |
/// | limitd | `limitd` | `<runtime>/limitd.sock` |
/// | cached | `cached` | `<runtime>/cached.sock` |
/// | modeld@NAME | `modeld` | `<runtime>/modeld-NAME.sock` |
/// | batchd | `batchd` | `<runtime>/batchd.sock` |
/// | frontd | `http`, `frontd` | TCP `PORT`, `<runtime>/frontd.sock` (stats) |
///
/// They start in that order (with socket activation any order works; this one means a caller's
/// dependencies are usually up first) and stop in the reverse one: frontd first, so no new request enters
/// while the daemons behind it drain.
struct StackPlan: Equatable {
    /// In start order.
    var daemons: [DaemonPlan]

    /// The daemons' executable names.
    static let daemonNames = ["metricsd", "limitd", "cached", "modeld", "batchd", "frontd"]

    /// A Unix socket path must fit `sockaddr_un.sun_path` (108 bytes with its terminating NUL).
    static let maximumSocketPathLength = 107

    /// In stop order: frontd first, metricsd last.
    var stopOrder: [DaemonPlan] { daemons.reversed() }

    /// Lays out the stack.
    /// - Parameters:
    ///   - runtimeDirectory: Where the Unix sockets go.
    ///   - binDirectory: Where the executables are.
    ///   - models: The registry's deployment names, one modeld each (a one-deployment model's deployment
    ///     is named after the model).
    ///   - bindAddress: The address of the TCP sockets.
    ///   - port: frontd's port.
    ///   - metricsPort: metricsd's port.
    /// - Returns: The plan.
    /// - Throws: ``InferctlError`` (`.configuration`) when a socket path is too long.
    static func make(
        runtimeDirectory: String, binDirectory: String, models: [String], bindAddress: String, port: Int,
        metricsPort: Int
    ) throws(InferctlError) -> StackPlan {
        func unix(_ name: String, file: String) throws(InferctlError) -> SocketPlan {
            let path = (runtimeDirectory.hasSuffix("/") ? runtimeDirectory : runtimeDirectory + "/") + file
            guard path.utf8.count <= maximumSocketPathLength else {
                throw .configuration("socket path \(path) is \(path.utf8.count) bytes long; Unix sockets allow "
                    + "\(maximumSocketPathLength): choose a shorter --runtime-dir (INFER_RUNTIME_DIR)")
            }
            return SocketPlan(name: name, endpoint: .unix(path: path))
        }
        func executable(_ daemon: String) -> String {
            (binDirectory.hasSuffix("/") ? binDirectory : binDirectory + "/") + daemon
        }
        var daemons = [
            DaemonPlan(
                unit: "metricsd", executable: executable("metricsd"),
                sockets: [try unix("metricsd", file: "metricsd.sock"),
                          SocketPlan(name: "metrics-http", endpoint: .tcp(host: bindAddress, port: metricsPort))],
                environment: [:]),
            DaemonPlan(unit: "limitd", executable: executable("limitd"),
                       sockets: [try unix("limitd", file: "limitd.sock")], environment: [:]),
            DaemonPlan(unit: "cached", executable: executable("cached"),
                       sockets: [try unix("cached", file: "cached.sock")], environment: [:]),
        ]
        for model in models {
            daemons.append(DaemonPlan(
                unit: "modeld@\(model)", executable: executable("modeld"),
                sockets: [try unix("modeld", file: "modeld-\(model).sock")], environment: ["INFER_MODEL": model]))
        }
        daemons.append(DaemonPlan(unit: "batchd", executable: executable("batchd"),
                                  sockets: [try unix("batchd", file: "batchd.sock")], environment: [:]))
        daemons.append(DaemonPlan(
            unit: "frontd", executable: executable("frontd"),
            sockets: [SocketPlan(name: "http", endpoint: .tcp(host: bindAddress, port: port)),
                      try unix("frontd", file: "frontd.sock")], environment: [:]))
        return StackPlan(daemons: daemons)
    }
}
