import DaemonRuntime
import Foundation
import Glibc
import IPC
import Registry
import Settings

/// `inferctl up`: checks the configuration, creates every socket, and hands the stack to the
/// ``Supervisor`` until it stops.
enum UpCommand {
    /// The file name of the notify socket inside the runtime directory.
    static let notifySocketName = "inferctl-notify.sock"

    /// Runs the stack in the foreground.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's own environment.
    /// - Returns: The exit status (``InferctlExit``).
    static func run(_ options: UpOptions, environment: [String: String]) -> Int32 {
        // The environment files first: LOG_LEVEL and ENABLE_STRUCTURED_LOGGING may be set there.
        var assignments: [(name: String, value: String)] = []
        var fileError: InferctlError?
        for path in options.files.environmentFiles {
            do {
                assignments += try EnvironmentFile.load(path: path)
            } catch {
                fileError = error
                break
            }
        }
        let merged = StackConfiguration.merge(assignments, into: environment)
        let logger: Logger
        do {
            logger = try makeLogger(merged)
        } catch {
            FileHandle.standardError.write(Data("inferctl: \(error.description)\n".utf8))
            return InferctlExit.configuration
        }
        if let fileError { return fail(fileError, logger: logger) }
        do {
            return try prepareAndRun(options, environment: merged, logger: logger)
        } catch {
            return fail(error, logger: logger)
        }
    }

    private static func fail(_ error: InferctlError, logger: Logger) -> Int32 {
        logger.error(error.description, ["status": LogValue(error.exitStatus)])
        return error.exitStatus
    }

    /// inferctl's own logger: JSON lines on stderr like the daemons', or plain text with
    /// `ENABLE_STRUCTURED_LOGGING=false`.
    static func makeLogger(_ environment: [String: String]) throws(ConfigError) -> Logger {
        let settings = try Settings.load(
            [RuntimeSettings.logLevel, RuntimeSettings.structuredLogging], environment: environment)
        return Logger(
            daemon: "inferctl", level: settings[RuntimeSettings.logLevel],
            format: settings[RuntimeSettings.structuredLogging] ? .json : .plain)
    }

    private static func prepareAndRun(
        _ options: UpOptions, environment: [String: String], logger: Logger
    ) throws(InferctlError) -> Int32 {
        var configuration = try StackConfiguration.resolve(
            options: options, environment: environment, executableDirectory: ownDirectory(),
            currentDirectory: FileManager.default.currentDirectoryPath)
        let registry: ModelRegistry
        do {
            registry = try ModelRegistry.load(path: configuration.registryPath, environment: configuration.environment)
        } catch {
            throw .configuration(error.description)
        }
        var plan = try StackPlan.make(
            runtimeDirectory: configuration.runtimeDirectory, binDirectory: configuration.binDirectory,
            models: registry.deployments.map(\.name), bindAddress: configuration.bindAddress, port: configuration.port,
            metricsPort: configuration.metricsPort)
        try giveStateDirectories(&plan, configuration)
        try checkExecutables(plan, binDirectory: configuration.binDirectory)
        if options.firstKey && !configuration.authDisabled,
           let first = try KeysCommand.createFirstKey(file: configuration.keysFile) {
            configuration.shownKey = first.key
            logger.info("created a first API key; the ready banner shows it once", [
                "file": .string(configuration.keysFile), "name": .string(first.entry.name), "key_id": .string(first.entry.id),
            ])
        }

        try ListenerFactory.makeDirectory(configuration.runtimeDirectory)
        let statePath = StackState.path(in: configuration.runtimeDirectory)
        if let other = StackState.read(from: statePath), other.pid != getpid(), other.isSupervisorAlive {
            throw .system("another inferctl (pid \(other.pid)) runs a stack in \(configuration.runtimeDirectory); "
                + "stop it first, or use another --runtime-dir")
        }
        let signals = try SignalPipe()

        // Every socket before any daemon, as socket units come before their services.
        var opened: [[OpenListener]] = []
        defer {
            for listener in opened.joined() { listener.close() }
        }
        for daemon in plan.daemons {
            var listeners: [OpenListener] = []
            for socket in daemon.sockets {
                do {
                    listeners.append(try ListenerFactory.open(socket))
                } catch {
                    opened.append(listeners)
                    throw error
                }
            }
            opened.append(listeners)
        }
        // A port of 0 was replaced by the kernel's pick: the daemons and the banner get the real one.
        for listener in opened.joined() {
            guard let port = listener.port else { continue }
            if listener.plan.name == "http" { configuration.port = port }
            if listener.plan.name == "metrics-http" { configuration.metricsPort = port }
        }
        configuration.environment["PORT"] = String(configuration.port)
        configuration.environment["METRICS_PORT"] = String(configuration.metricsPort)
        for listener in opened.joined() {
            logger.info("listening", [
                "socket": .string(listener.plan.name), "address": .string(listener.address),
                "fd": LogValue(listener.descriptor),
            ])
        }

        let notify = try NotifySocket(path: configuration.runtimeDirectory + "/" + notifySocketName)
        logger.info("starting the stack", [
            "daemons": .string(plan.daemons.map(\.unit).joined(separator: ",")),
            "runtime_dir": .string(configuration.runtimeDirectory), "bin_dir": .string(configuration.binDirectory),
            "registry": .string(configuration.registryPath),
            "watchdog_ms": configuration.watchdog.map { LogValue(milliseconds: $0) } ?? .null,
        ])
        let supervisor = Supervisor(
            configuration: configuration, registry: registry, plan: plan, listeners: opened, notify: notify,
            signals: signals, logger: logger)
        return withExtendedLifetime((notify, signals)) { supervisor.run() }
    }

    /// Every daemon's executable must exist and be executable before anything starts.
    private static func checkExecutables(_ plan: StackPlan, binDirectory: String) throws(InferctlError) {
        var seen = Set<String>()
        let missing = plan.daemons.map(\.executable).filter { path in
            guard seen.insert(path).inserted else { return false }
            return access(path, X_OK) != 0
        }
        guard missing.isEmpty else {
            let names = missing.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
            throw .configuration("no executable \(names.joined(separator: ", ")) in \(binDirectory): build the "
                + "daemons (swift build -c release) and run the inferctl built beside them, or pass --bin-dir")
        }
        guard access("/bin/sh", X_OK) == 0 else {
            throw .configuration("/bin/sh is missing; inferctl starts each daemon through it to set LISTEN_PID")
        }
    }

    /// The directory of inferctl's own executable: where `swift build` puts the daemons too.
    /// What systemd's `StateDirectory=infer/NAME` gives limitd and cached (their durable state: counters
    /// and spend, the cache's snapshot): `STATE_DIRECTORY=<runtime>/state/NAME`, made 0700 here, unless
    /// the operator set STATE_DIRECTORY for every daemon.
    private static func giveStateDirectories(_ plan: inout StackPlan, _ configuration: StackConfiguration) throws(InferctlError) {
        guard configuration.environment["STATE_DIRECTORY"].map({ $0.isEmpty }) ?? true else { return }
        let root = (configuration.runtimeDirectory.hasSuffix("/") ? configuration.runtimeDirectory : configuration.runtimeDirectory + "/") + "state/"
        for index in plan.daemons.indices where ["limitd", "cached"].contains(plan.daemons[index].unit) {
            let directory = root + plan.daemons[index].unit
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw .configuration("cannot make the state directory \(directory): \(error.localizedDescription)")
            }
            plan.daemons[index].environment["STATE_DIRECTORY"] = directory
        }
    }

    /// The directory of inferctl's own executable: where the daemons are by default.
    static func ownDirectory() -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first ?? "."
        return (executable as NSString).deletingLastPathComponent
    }
}
