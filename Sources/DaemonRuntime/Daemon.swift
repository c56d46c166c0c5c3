import Dispatch
import FoundationEssentials
import Glibc
import Settings
import Tracing

/// The skeleton every daemon runs in; a daemon's `main.swift` is its settings table, its service and one
/// call:
///
/// ```swift
/// let rpm = Setting<Int>(name: "RATE_LIMIT_RPM", default: 60, meaning: "Requests per minute per key.",
///                        range: 1...1_000_000)
///
/// Daemon.run(name: "limitd", settings: [rpm], sockets: [.unix("limitd")]) { context in
///     let limiter = RateLimiter(requestsPerMinute: context.settings[rpm], window: .seconds(60), maxKeys: 100_000)
///     let service = LimitService(listenFD: try context.listener("limitd").fileDescriptor, limiter: limiter,
///                                logger: context.logger)
///     try service.start()
///     return service
/// }
/// ```
///
/// (Sources/limitd/main.swift is this example in full.)
///
/// `run` never returns. In order it:
/// 1. blocks SIGTERM and SIGINT (they go to the runtime's signal sources) and ignores SIGPIPE;
/// 2. answers `--help` (the settings table; `--help=markdown`, `--help=env` for other formats) and
///    `--check-config` (validate, the daemon's `check` included, and exit);
/// 3. loads the settings (the daemon's, its sockets', the runtime's) and applies the daemon's `check`:
///    on a bad value it logs `NAME=value: expected ...` and exits 78 (EX_CONFIG);
/// 4. takes its sockets from systemd by name, or binds them itself (exit 78 for a wrong inherited socket,
///    71 when binding fails);
/// 5. starts the watchdog (when `WatchdogSec=` is set) and the idle heap trimmer (`IdleHeapTrimmer`: the
///    heap's free memory given back at the first quiet five seconds after a busy spell), and calls
///    `start`; a `ConfigError` thrown there exits 78, any other error 1;
/// 6. sends READY=1 when `start` returns, and runs until signalled;
/// 7. on the first SIGTERM/SIGINT sends STOPPING=1 and STATUS=draining, calls the service's `drain` with
///    a deadline `DRAIN_TIMEOUT_SEC` away, and exits 0 when it returns or the deadline passes; a second
///    signal exits at once with 128 + the signal.
public enum Daemon {
    /// Runs a daemon until it is told to stop; never returns.
    /// - Parameters:
    ///   - name: The daemon's name (`limitd`), on every log line.
    ///   - table: The daemon's settings; the runtime adds its own (``RuntimeSettings``) and its sockets'.
    ///   - sockets: The listening sockets the daemon needs.
    ///   - check: Rules across settings (one that needs another), applied once the table is parsed, by
    ///     `--check-config` too; the `ConfigError` it throws exits 78 like a bad value.
    ///   - arguments: The command line (`CommandLine.arguments`); the runtime reads only its own flags.
    ///   - environment: The environment settings are read from.
    ///   - start: Builds the service from the context: open files, load the model, start accepting.
    ///     READY=1 is sent when it returns, so return only when the daemon can serve.
    public static func run(
        name: String,
        settings table: [AnySetting],
        sockets: [SocketSpec],
        check: (Settings) throws(ConfigError) -> Void = { _ in },
        arguments: [String] = CommandLine.arguments,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        start: @escaping @Sendable (DaemonContext) async throws -> any DaemonService
    ) -> Never {
        DaemonLifecycle.blockTerminationSignals()
        let fullTable = completeTable(table, sockets: sockets)
        handleFlags(name: name, table: fullTable, arguments: arguments, environment: environment, check: check)

        let settings: Settings
        do throws(ConfigError) {
            settings = try Settings.load(fullTable, environment: environment)
            try check(settings)
        } catch {
            let logger = Logger(daemon: name, level: .info)
            for line in error.description.split(separator: "\n") {
                logger.error("invalid configuration: \(line)")
            }
            logger.error("exiting: fix the environment (see \(name) --help)", ["status": LogValue(ExitCode.config)])
            SystemdNotifier.status("invalid configuration: \(error.description)")
            terminate(ExitCode.config)
        }

        let logger = Logger(
            daemon: name, level: settings[RuntimeSettings.logLevel],
            format: settings[RuntimeSettings.structuredLogging] ? .json : .plain)
        Tracer.global = TracingSettings.tracer(settings, daemon: name)
        logger.info("starting", [
            "pid": LogValue(getpid()),
            "settings": .string(settings.effective.map { "\($0.name)=\($0.value)" }.joined(separator: " ")),
        ])

        let acquired: AcquiredListeners
        do {
            acquired = try ListenerAcquisition.acquire(sockets, settings: settings, logger: logger)
        } catch {
            logger.error("cannot get the listening sockets: \(error)")
            let code = error.isConfiguration ? ExitCode.config : ExitCode.osError
            logger.error("exiting", ["status": LogValue(code)])
            terminate(code)
        }

        let lifecycle = DaemonLifecycle(
            logger: logger, drainTimeout: settings[RuntimeSettings.drainTimeout], ownedPaths: acquired.ownedPaths)
        let signalSources = lifecycle.installSignalSources()
        lifecycle.startWatchdog()
        let heapTrimmer = IdleHeapTrimmer(queue: lifecycle.queue)
        let context = DaemonContext(name: name, settings: settings, listeners: acquired.listeners, logger: logger)
        Task {
            await lifecycle.start(start, context: context)
        }
        withExtendedLifetime((signalSources, heapTrimmer)) {
            dispatchMain()
        }
    }

    /// The daemon's table preceded by the runtime's and its sockets' settings; a daemon's own definition of
    /// one of those names replaces the runtime's.
    package static func completeTable(_ table: [AnySetting], sockets: [SocketSpec]) -> [AnySetting] {
        let own = Set(table.map(\.name))
        var names = Set<String>()
        var result: [AnySetting] = []
        for setting in RuntimeSettings.common + sockets.flatMap(\.settings)
        where !own.contains(setting.name) && !names.contains(setting.name) {
            names.insert(setting.name)
            result.append(setting)
        }
        return result + table
    }

    /// `--help[=text|markdown|env]` prints the settings and exits 0; `--check-config` validates the
    /// environment and exits 0 or 78.
    private static func handleFlags(
        name: String, table: [AnySetting], arguments: [String], environment: [String: String],
        check: (Settings) throws(ConfigError) -> Void
    ) {
        for argument in arguments.dropFirst() {
            let format: SettingsHelp.Format? = switch argument {
            case "--help", "-h", "--help=text": .text
            case "--help=markdown": .markdown
            case "--help=env": .environmentFile
            default: nil
            }
            if let format {
                let usage = format == .text
                    ? "Usage: \(name) [--help[=markdown|env]] [--check-config]\n\n"
                        + "Settings are environment variables (systemd: EnvironmentFile=/etc/infer/infer.env):\n\n"
                    : ""
                print(usage + SettingsHelp.render(table, format: format), terminator: "")
                terminate(ExitCode.success)
            }
            if argument == "--check-config" {
                do throws(ConfigError) {
                    try check(Settings.load(table, environment: environment))
                    print("\(name): configuration ok")
                    terminate(ExitCode.success)
                } catch {
                    LogOutput.standardError.write(Array("\(error.description)\n".utf8))
                    terminate(ExitCode.config)
                }
            }
        }
    }

    /// Flushes stdout and ends the process before any thread of the daemon runs.
    private static func terminate(_ code: Int32) -> Never {
        fflush(nil)
        _exit(code)
    }
}
