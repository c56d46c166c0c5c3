import Dispatch
import Glibc
import Settings
import Synchronization
import Tracing

/// The state machine of a running daemon: starting → running → draining → exit.
///
/// Signals arrive on the runtime's own serial queue (dispatch signal sources); the first SIGTERM or SIGINT
/// drains, a second one exits at once. The phase lives behind a mutex because `start` finishes, the drain
/// finishes and the deadline passes on other threads.
final class DaemonLifecycle: Sendable {
    private enum Phase {
        case starting
        case running(any DaemonService)
        case draining
    }

    /// The queue of signal sources, the watchdog timer and the drain deadline.
    let queue = DispatchQueue(label: "infer.runtime")
    private let logger: Logger
    private let drainTimeout: Duration
    /// Socket files this process bound itself and removes at exit (never systemd's).
    private let ownedPaths: [String]
    private let phase = Mutex(Phase.starting)
    private let exiting = Atomic<Bool>(false)
    private let watchdog = Mutex<Watchdog?>(nil)

    init(logger: Logger, drainTimeout: Duration, ownedPaths: [String]) {
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.ownedPaths = ownedPaths
    }

    /// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread started after it, so they
    /// reach the signal sources (signalfd) instead of a thread's default action. Call before any thread
    /// exists, first thing in `Daemon.run`.
    static func blockTerminationSignals() {
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGTERM)
        sigaddset(&mask, SIGINT)
        pthread_sigmask(SIG_BLOCK, &mask, nil)
        // A peer that closes its end must cost an EPIPE on that write, never the whole daemon.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts the signal sources; keep the returned sources alive for the life of the process.
    ///
    /// Returns only once libdispatch has installed its handlers. On Linux a signal source registers
    /// asynchronously (a signalfd plus a handler that forwards strays to it), and `dispatchMain()` parks
    /// the main thread in `sigsuspend` with every signal unblocked: a SIGTERM arriving in between would
    /// meet the default action and kill the daemon without a drain. Until the handlers are in, SIGTERM
    /// and SIGINT stay blocked and pending, and are delivered to the sources afterwards.
    func installSignalSources() -> [any DispatchSourceSignal] {
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in self.handle(signal: number) }
            source.activate()
            return source
        }
        let deadline = ContinuousClock.now + .seconds(2)
        while !Self.hasHandler(SIGTERM) || !Self.hasHandler(SIGINT) {
            guard ContinuousClock.now < deadline else {
                logger.warn("signal handlers not installed after 2 s; a SIGTERM before they are may kill without drain")
                break
            }
            usleep(1_000)
        }
        return sources
    }

    /// Whether a signal has a handler (not the default action, not ignored).
    private static func hasHandler(_ number: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(number, nil, &current) == 0, let handler = current.__sigaction_handler.sa_handler else {
            return false
        }
        // SIG_IGN is the handler value 1.
        return unsafeBitCast(handler, to: Int.self) != 1
    }

    /// Starts pinging the watchdog when systemd set one (pings unconditionally until the service is up).
    func startWatchdog() {
        guard let started = Watchdog.startIfEnabled(queue: queue) else { return }
        logger.info("watchdog enabled", ["ping_interval_ms": LogValue(started.period.milliseconds)])
        watchdog.withLock { $0 = started }
    }

    /// Runs the daemon's `start`, then sends READY=1; exits when `start` throws.
    func start(
        _ start: @Sendable (DaemonContext) async throws -> any DaemonService, context: DaemonContext
    ) async {
        let service: any DaemonService
        do {
            service = try await start(context)
        } catch let error as ConfigError {
            for line in error.description.split(separator: "\n") {
                logger.error("invalid configuration: \(line)")
            }
            exit(ExitCode.config, stopping: true)
        } catch {
            logger.error("start failed: \(error)")
            exit(ExitCode.failure, stopping: true)
        }
        let becameRunning = phase.withLock { phase in
            guard case .starting = phase else { return false }
            phase = .running(service)
            return true
        }
        // A signal during start already began the exit; nothing to announce.
        guard becameRunning else { return }
        watchdog.withLock { $0?.setProbe { await service.isHealthy() } }
        SystemdNotifier.ready(status: service.readyStatus)
        logger.info("ready", ["status": .string(service.readyStatus)])
    }

    private func handle(signal number: Int32) {
        let name = number == SIGTERM ? "SIGTERM" : "SIGINT"
        enum Action { case drain(any DaemonService), exitNow, abort }
        let action: Action = phase.withLock { phase in
            switch phase {
            case .starting:
                phase = .draining
                return .exitNow
            case .running(let service):
                phase = .draining
                return .drain(service)
            case .draining:
                return .abort
            }
        }
        switch action {
        case .exitNow:
            logger.info("\(name) before ready: exiting")
            exit(ExitCode.success, stopping: true)
        case .abort:
            logger.warn("second signal (\(name)): exiting without finishing the drain")
            exit(ExitCode.interrupted(by: number), stopping: false)
        case .drain(let service):
            let deadline = ContinuousClock.now + drainTimeout
            SystemdNotifier.stopping(status: "draining")
            logger.info("\(name): draining", ["timeout_ms": LogValue(drainTimeout.milliseconds)])
            queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: drainTimeout.nanoseconds))) { [self] in
                logger.warn("drain deadline passed with work still in flight; exiting")
                exit(ExitCode.success, stopping: false)
            }
            Task {
                await service.drain(until: deadline)
                // The spans of the last requests go out too, within what is left of the drain.
                Tracer.global.shutdown(timeout: min(.seconds(2), max(.zero, ContinuousClock.now.duration(to: deadline))))
                self.logger.info("drained")
                self.exit(ExitCode.success, stopping: false)
            }
        }
    }

    /// Removes the socket files this process bound, logs, and ends the process. Only the first caller
    /// gets through; a racing second caller (drain done as the deadline passes) waits for the exit.
    func exit(_ code: Int32, stopping: Bool) -> Never {
        if exiting.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            if stopping { SystemdNotifier.stopping() }
            watchdog.withLock { $0?.cancel() }
            for path in ownedPaths { unlink(path) }
            logger.info("exiting", ["status": LogValue(code)])
            fflush(nil)
            // _exit, not exit: atexit handlers and static destructors racing live threads can crash a
            // process that is already done; every log line was written with write(2).
            _exit(code)
        }
        while true { pause() }
    }
}
