import APIKeys
import Basics
import Foundation
import Glibc
import IPC
import Settings

/// Everything `inferctl up` runs with, resolved once: a flag wins over the environment files, which win
/// over inferctl's own environment, which wins over the default.
struct StackConfiguration: Equatable {
    /// Where the Unix sockets, the notify socket and the state file go (absolute).
    var runtimeDirectory: String
    /// Where the daemons' executables are (absolute).
    var binDirectory: String
    /// The model registry (absolute).
    var registryPath: String
    /// The address of the TCP sockets (`BIND_ADDRESS`).
    var bindAddress: String
    /// frontd's port; 0 until bound when a free one is to be picked.
    var port: Int
    /// metricsd's port.
    var metricsPort: Int
    /// `WatchdogSec=`: nil when off.
    var watchdog: Duration?
    /// How long a daemon may drain after SIGTERM before SIGKILL (`TimeoutStopSec=`).
    var stopTimeout: Duration
    /// How long a daemon may take to send READY=1 (`TimeoutStartSec=`).
    var startTimeout: Duration
    /// The API keys file frontd reads (absolute; `API_KEYS_FILE`).
    var keysFile: String
    /// Whether frontd runs without authentication (`AUTH_DISABLED`).
    var authDisabled: Bool
    /// A key `--first-key` created at start: shown once, in the ready banner.
    var shownKey: String?
    /// What every daemon inherits: inferctl's environment with the environment files applied, and the
    /// resolved INFER_RUNTIME_DIR, INFER_MODEL_REGISTRY, PORT, METRICS_PORT, API_KEYS_FILE (and INFER_STATE_DIR, by
    /// default `<runtime>/state`, unless STATE_DIRECTORY is set).
    var environment: [String: String]

    /// The units' `WatchdogSec=10s`.
    static let defaultWatchdog: Duration = .seconds(10)
    /// The units' `TimeoutStopSec=30s`.
    static let defaultStopTimeout: Duration = .seconds(30)
    /// systemd's default `TimeoutStartSec=` (90 s): a model may take a while to load.
    static let defaultStartTimeout: Duration = .seconds(90)

    /// Variables that belong to one process and its service manager, never passed down as they are:
    /// inferctl sets the right ones for each daemon.
    static let perProcessVariables: Set<String> = [
        "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
        "INFER_MODEL",
    ]

    /// Resolves the configuration.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment with the `--env-file` assignments applied.
    ///   - executableDirectory: The directory of inferctl's own executable: the default `--bin-dir`.
    ///   - currentDirectory: What relative paths are taken from.
    /// - Returns: The configuration.
    /// - Throws: ``InferctlError`` (`.configuration`) naming the variable whose value is wrong.
    static func resolve(
        options: UpOptions, environment: [String: String], executableDirectory: String, currentDirectory: String
    ) throws(InferctlError) -> StackConfiguration {
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : (currentDirectory.hasSuffix("/") ? currentDirectory : currentDirectory + "/") + path
        }
        func nonEmpty(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func port(_ name: String, flag: Int?, default defaultValue: Int) throws(InferctlError) -> Int {
            if let flag { return flag }
            guard let text = nonEmpty(name) else { return defaultValue }
            guard let value = Int(text), (0...65535).contains(value) else {
                throw .configuration("\(name)=\(text): expected a port number between 0 and 65535")
            }
            return value
        }

        let runtimeDirectory = absolute(options.runtimeDirectory ?? nonEmpty("INFER_RUNTIME_DIR") ?? "/run/infer")
        let registryPath = absolute(options.files.registry ?? nonEmpty("INFER_MODEL_REGISTRY") ?? "/etc/infer/models.json")
        let binDirectory = absolute(options.files.binDirectory ?? executableDirectory)
        let bindAddress = nonEmpty("BIND_ADDRESS") ?? "0.0.0.0"
        guard SocketAddress.isIPLiteral(bindAddress) else {
            throw .configuration("BIND_ADDRESS=\(bindAddress): expected an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::")
        }
        let httpPort = try port("PORT", flag: options.port, default: 8080)
        let metricsPort = try port("METRICS_PORT", flag: options.metricsPort, default: 9464)
        if httpPort != 0, httpPort == metricsPort {
            throw .configuration("PORT and METRICS_PORT are both \(httpPort); give them different ports")
        }
        let watchdog = options.watchdog ?? defaultWatchdog
        let keysFile = absolute(options.files.keysFile ?? nonEmpty(APIKeyFile.fileSetting.name) ?? APIKeyFile.fileSetting.defaultValue)
        let authDisabled: Bool
        do {
            authDisabled = try Settings.load([APIKeyFile.authDisabledSetting], environment: environment)[APIKeyFile.authDisabledSetting]
        } catch {
            throw .configuration(error.description)
        }

        var childEnvironment = environment.filter { !perProcessVariables.contains($0.key) }
        childEnvironment["INFER_RUNTIME_DIR"] = runtimeDirectory
        childEnvironment["INFER_MODEL_REGISTRY"] = registryPath
        childEnvironment["PORT"] = String(httpPort)
        childEnvironment["METRICS_PORT"] = String(metricsPort)
        childEnvironment[APIKeyFile.fileSetting.name] = keysFile
        // frontd keeps its webhook journal in a state directory. systemd's StateDirectory= sets
        // STATE_DIRECTORY; without it, and unless the operator chose INFER_STATE_DIR, use one under the
        // runtime directory, which inferctl can always write.
        if let chosen = nonEmpty("INFER_STATE_DIR") {
            childEnvironment["INFER_STATE_DIR"] = absolute(chosen)
        } else if nonEmpty("STATE_DIRECTORY") == nil {
            childEnvironment["INFER_STATE_DIR"] = (runtimeDirectory.hasSuffix("/") ? runtimeDirectory : runtimeDirectory + "/") + "state"
        }
        return StackConfiguration(
            runtimeDirectory: runtimeDirectory, binDirectory: binDirectory, registryPath: registryPath,
            bindAddress: bindAddress, port: httpPort, metricsPort: metricsPort,
            watchdog: watchdog > .zero ? watchdog : nil,
            stopTimeout: options.stopTimeout ?? defaultStopTimeout,
            startTimeout: options.startTimeout ?? defaultStartTimeout,
            keysFile: keysFile, authDisabled: authDisabled, shownKey: nil,
            environment: childEnvironment)
    }

    /// Applies environment-file assignments on top of an environment, in order (the last one wins).
    /// - Parameters:
    ///   - assignments: The files' assignments, file after file.
    ///   - environment: inferctl's own environment.
    /// - Returns: The merged environment.
    static func merge(_ assignments: [(name: String, value: String)], into environment: [String: String]) -> [String: String] {
        var merged = environment
        for (name, value) in assignments { merged[name] = value }
        return merged
    }
}
