import DaemonRuntime
import IPC
import Registry

/// Which daemon the stand-in plays, and so which sockets it has: the socket contract of the real one.
struct StandinRole: Sendable {
    /// The daemon's name: frontd, limitd, cached, batchd, modeld or metricsd.
    let daemon: String
    /// The instance: the daemon's name, or `modeld-NAME` for a model.
    let identity: String
    /// The sockets the real daemon has.
    let sockets: [SocketSpec]

    /// Why the stand-in cannot tell which daemon to play.
    struct UnknownRole: Error, CustomStringConvertible {
        let description: String
    }

    static let daemons = ["frontd", "limitd", "cached", "batchd", "modeld", "metricsd"]

    /// Takes the role from the executable's file name (`/opt/bin/limitd`), or `STANDIN_ROLE` when that is
    /// not a daemon's name; modeld's model comes from `INFER_MODEL`.
    /// - Throws: ``UnknownRole`` when neither names a daemon, or modeld has no valid `INFER_MODEL`.
    init(argumentZero: String, environment: [String: String]) throws(UnknownRole) {
        let fileName = String(argumentZero.split(separator: "/").last ?? "")
        let daemon = Self.daemons.contains(fileName) ? fileName : (environment["STANDIN_ROLE"] ?? "")
        self.daemon = daemon
        switch daemon {
        case "frontd":
            identity = daemon
            sockets = [.tcp("http", port: RuntimeSettings.port), .unix("frontd")]
        case "limitd", "cached", "batchd":
            identity = daemon
            sockets = [.unix(daemon)]
        case "metricsd":
            identity = daemon
            sockets = [.unix("metricsd"), .tcp("metrics-http", port: RuntimeSettings.metricsPort)]
        case "modeld":
            let model = environment["INFER_MODEL"] ?? ""
            guard ModelRegistry.isValidModelName(model) else {
                throw UnknownRole(description: "INFER_MODEL=\(model): expected a model name (a-z, 0-9, _, -)")
            }
            identity = "modeld-\(model)"
            sockets = [SocketSpec(name: "modeld", endpoint: .unix(fileName: "modeld-\(model).sock"))]
        default:
            throw UnknownRole(description: "started as \"\(fileName)\" without STANDIN_ROLE; "
                + "link it as one of \(Self.daemons.joined(separator: ", ")) or set STANDIN_ROLE")
        }
    }
}
