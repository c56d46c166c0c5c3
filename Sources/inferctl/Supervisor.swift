import Basics
import DaemonRuntime
import Foundation
import Glibc
import IPC
import Registry
import Spawn

/// Runs the stack the way systemd runs the units: holds every listening socket, starts each daemon with
/// its sockets and a notify socket, follows READY=1, STATUS=, WATCHDOG=1 and STOPPING=1, restarts a
/// daemon that fails (with backoff; never after exit 78), restarts a clean exit on its next connection,
/// and on SIGINT/SIGTERM stops the daemons one by one, frontd first.
///
/// Everything happens on one thread, in one poll(2) loop over the signal pipe, the notify socket and the
/// sockets of daemons waiting for a connection, with the nearest deadline (restart, start timeout,
/// watchdog, kill) as its timeout.
final class Supervisor {
    private let configuration: StackConfiguration
    private let registry: ModelRegistry
    private let logger: Logger
    /// In start order.
    private let daemons: [SupervisedDaemon]
    private let notify: NotifySocket
    private let signals: SignalPipe
    private let statePath: String
    private let startedAt = Date()

    /// Set when the stack stops: the daemons still to stop, in stop order.
    private var shutdown: Shutdown?
    /// Whether the ready banner was printed.
    private var announcedReady = false
    /// What inferctl exits with.
    private var exitStatus = InferctlExit.success
    /// Whether the state file needs writing.
    private var stateChanged = true
    /// The state file as last written, so only this stack's file is removed at the end.
    private var stateFile: FileIdentity?

    private struct Shutdown {
        /// Indices into `daemons`, in stop order.
        var remaining: [Int]
        /// A second signal arrived: every daemon was killed.
        var forced = false
    }

    /// How long a daemon aborted for a missed watchdog may take to die before SIGKILL (systemd's
    /// `TimeoutAbortSec=`, which the units set to 5 s): Swift's crash handler prints a backtrace on SIGABRT
    /// but does not always end the process.
    static let abortTimeout: Duration = .seconds(5)

    /// The longest poll: a safety net, every event also wakes the loop.
    private static let maximumPollMilliseconds: Int32 = 1_000

    init(
        configuration: StackConfiguration, registry: ModelRegistry, plan: StackPlan, listeners: [[OpenListener]],
        notify: NotifySocket, signals: SignalPipe, logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.notify = notify
        self.signals = signals
        daemons = zip(plan.daemons, listeners).map { SupervisedDaemon(plan: $0, listeners: $1) }
        statePath = StackState.path(in: configuration.runtimeDirectory)
    }

    /// Starts every daemon and supervises them until the stack stops.
    /// - Returns: inferctl's exit status: 0 after a requested stop, 78 when a daemon exited 78.
    func run() -> Int32 {
        for daemon in daemons { start(daemon, now: .now) }
        while true {
            let now = ContinuousClock.now
            if shutdown != nil, advanceShutdown(now: now) { break }
            if stateChanged { writeState() }
            waitForEvents(now: now)
            let woke = ContinuousClock.now
            for number in signals.drain() where SignalPipe.stopSignals.contains(number) {
                requestStop(signal: number, now: woke)
            }
            reapChildren(now: woke)
            for datagram in notify.receiveAll() { handle(datagram, now: woke) }
            handleDeadlines(now: woke)
        }
        logger.info("stack stopped", ["status": LogValue(exitStatus)])
        stateFile?.unlinkIfSame(statePath)
        return exitStatus
    }

    // MARK: - Waiting

    /// Polls the signal pipe, the notify socket and the sockets of daemons waiting for a connection; a
    /// connection on one of those starts its daemon.
    private func waitForEvents(now: ContinuousClock.Instant) {
        var descriptors = [
            pollfd(fd: signals.descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: notify.descriptor, events: Int16(POLLIN), revents: 0),
        ]
        var owners: [SupervisedDaemon] = []
        if shutdown == nil {
            for daemon in daemons {
                guard case .waitingForConnection = daemon.phase else { continue }
                for listener in daemon.listeners {
                    descriptors.append(pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0))
                    owners.append(daemon)
                }
            }
        }
        let timeout = nextDeadline().map { deadline -> Int32 in
            let remaining = max(.zero, deadline - now)
            // Round up: waking a little early would spin until the deadline.
            let milliseconds = (remaining / .milliseconds(1)).rounded(.up)
            return Int32(min(Double(Self.maximumPollMilliseconds), milliseconds))
        } ?? Self.maximumPollMilliseconds
        let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
        guard ready > 0 else { return }
        for (offset, owner) in owners.enumerated() where descriptors[offset + 2].revents & Int16(POLLIN) != 0 {
            guard case .waitingForConnection = owner.phase else { continue }
            logger.info("connection waiting: starting the daemon", ["unit": .string(owner.unit)])
            start(owner, now: .now)
        }
    }

    private func nextDeadline() -> ContinuousClock.Instant? {
        var deadlines: [ContinuousClock.Instant] = []
        for daemon in daemons {
            switch daemon.phase {
            case .restartPending(let at): deadlines.append(at)
            case .stopping(_, _, let killAt, let killed): if !killed { deadlines.append(killAt) }
            case .starting: if let deadline = daemon.startDeadline { deadlines.append(deadline) }
            case .running: if let deadline = daemon.watchdogDeadline { deadlines.append(deadline) }
            case .inactive, .waitingForConnection, .failed: break
            }
        }
        return deadlines.min()
    }

    // MARK: - Starting

    private func start(_ daemon: SupervisedDaemon, now: ContinuousClock.Instant) {
        let environment = DaemonLauncher.environment(
            for: daemon.plan, base: configuration.environment, notifySocket: notify.path,
            watchdog: configuration.watchdog)
        let child: ChildProcess
        do {
            child = try DaemonLauncher.launch(daemon, environment: environment)
        } catch {
            let delay = daemon.backoff.delay(afterUptime: .zero)
            logger.error("cannot start the daemon: \(error)", [
                "unit": .string(daemon.unit), "retry_in_ms": LogValue(milliseconds: delay),
            ])
            daemon.phase = .restartPending(at: now + delay)
            stateChanged = true
            return
        }
        daemon.starts += 1
        daemon.phase = .starting(child)
        daemon.startedAt = now
        daemon.startedWall = Date()
        daemon.startDeadline = now + configuration.startTimeout
        daemon.watchdogDeadline = nil
        daemon.watchdogInterval = configuration.watchdog
        stateChanged = true
        let sockets = daemon.listeners.enumerated().map { index, listener in
            "\(DaemonLauncher.firstListenDescriptor + Int32(index))=\(listener.plan.name)"
        }
        logger.info(daemon.starts == 1 ? "started" : "restarted", [
            "unit": .string(daemon.unit), "pid": LogValue(child.pid),
            "fds": .string(sockets.joined(separator: ",")), "restarts": LogValue(daemon.starts - 1),
        ])
    }

    // MARK: - Exits

    private func reapChildren(now: ContinuousClock.Instant) {
        for daemon in daemons {
            guard let child = daemon.child, let status = child.exitStatus else { continue }
            let outcome: ChildOutcome = switch status {
            case .exited(let code): .exited(code)
            case .signaled(let signal): .signaled(signal)
            }
            handleExit(daemon, outcome: outcome, pid: child.pid, now: now)
        }
    }

    private func handleExit(_ daemon: SupervisedDaemon, outcome: ChildOutcome, pid: pid_t, now: ContinuousClock.Instant) {
        let uptime = daemon.startedAt.map { now - $0 } ?? .zero
        let fields: KeyValuePairs<String, LogValue> = [
            "unit": .string(daemon.unit), "pid": LogValue(pid), "outcome": .string(outcome.description),
            "uptime_ms": LogValue(milliseconds: uptime),
        ]
        let previous = daemon.phase
        daemon.lastOutcome = outcome
        daemon.startDeadline = nil
        daemon.watchdogDeadline = nil
        stateChanged = true
        if shutdown != nil {
            daemon.phase = .inactive
            logger.info("stopped", fields)
            return
        }
        var killedBySupervisor = false
        if case .stopping(_, let reason, _, _) = previous, reason != .shutdown { killedBySupervisor = true }
        switch RestartPolicy.decide(outcome, killedBySupervisor: killedBySupervisor) {
        case .restart:
            let delay = daemon.backoff.delay(afterUptime: uptime)
            daemon.phase = .restartPending(at: now + delay)
            logger.warn("daemon failed; restarting it", fields)
            logger.info("restart scheduled", [
                "unit": .string(daemon.unit), "delay_ms": LogValue(milliseconds: delay),
            ])
        case .startOnConnection:
            daemon.phase = .waitingForConnection
            logger.info("daemon exited cleanly; it starts again on its next connection", fields)
        case .stopStack:
            daemon.phase = .failed
            exitStatus = InferctlExit.configuration
            logger.error("daemon exited with status 78 (configuration error): not restarting it; stopping the "
                + "stack. Its log lines above say what to fix.", fields)
            beginShutdown(reason: "\(daemon.unit) has a configuration error", now: now)
        }
    }

    // MARK: - Notifications

    private func handle(_ datagram: NotifySocket.Datagram, now: ContinuousClock.Instant) {
        guard let pid = datagram.senderPID, let daemon = daemons.first(where: { $0.child?.pid == pid }) else {
            // NotifyAccess=main: only a daemon's main process may notify.
            logger.debug("ignoring a notification from a process that is no daemon's main process",
                         ["pid": LogValue(datagram.senderPID ?? -1)])
            return
        }
        let message = datagram.message
        if let status = message.status, status != daemon.status {
            daemon.status = status
            stateChanged = true
            logger.info("status", ["unit": .string(daemon.unit), "status": .string(status)])
        }
        if let interval = message.watchdogInterval {
            daemon.watchdogInterval = interval
            if daemon.watchdogDeadline != nil { daemon.watchdogDeadline = now + interval }
        }
        if let extension_ = message.extendTimeout {
            switch daemon.phase {
            case .starting:
                daemon.startDeadline = max(daemon.startDeadline ?? now, now + extension_)
            case .stopping(let child, let reason, let killAt, let killed):
                daemon.phase = .stopping(child, reason: reason, killAt: max(killAt, now + extension_), killed: killed)
            default:
                break
            }
        }
        if message.ready, case .starting(let child) = daemon.phase {
            daemon.phase = .running(child)
            daemon.startDeadline = nil
            daemon.everReady = true
            stateChanged = true
            let startup = daemon.startedAt.map { now - $0 } ?? .zero
            logger.info("ready", [
                "unit": .string(daemon.unit), "pid": LogValue(pid), "startup_ms": LogValue(milliseconds: startup),
                "status": .string(daemon.status ?? ""), "restarts": LogValue(daemon.starts - 1),
            ])
            announceIfReady()
        }
        if case .running = daemon.phase, message.ready || message.watchdogPing, let interval = daemon.watchdogInterval {
            // systemd arms the watchdog once start-up is complete, and re-arms it at every ping.
            daemon.watchdogDeadline = now + interval
        }
        if message.stopping {
            logger.info("daemon is stopping", ["unit": .string(daemon.unit), "pid": LogValue(pid)])
        }
        if let number = message.errorNumber {
            logger.warn("daemon reported an error", [
                "unit": .string(daemon.unit), "errno": LogValue(number), "error": .string(errorText(number)),
            ])
        }
        if message.watchdogTrigger, shutdown == nil {
            logger.error("daemon asked for a watchdog restart (WATCHDOG=trigger)", ["unit": .string(daemon.unit)])
            stop(daemon, reason: .watchdog, now: now)
        }
    }

    private func announceIfReady() {
        guard !announcedReady, shutdown == nil, daemons.allSatisfy(\.everReady) else { return }
        announcedReady = true
        logger.info("stack ready", ["daemons": LogValue(daemons.count)])
        print(ReadyBanner.text(configuration: configuration, registry: registry, daemonCount: daemons.count),
              terminator: "")
        fflush(nil)
    }

    // MARK: - Deadlines

    private func handleDeadlines(now: ContinuousClock.Instant) {
        for daemon in daemons {
            switch daemon.phase {
            case .restartPending(let at) where at <= now && shutdown == nil:
                start(daemon, now: now)
            case .starting where (daemon.startDeadline ?? now) < now:
                logger.error("daemon did not send READY=1 in time; stopping it", [
                    "unit": .string(daemon.unit),
                    "timeout_ms": LogValue(milliseconds: configuration.startTimeout),
                ])
                stop(daemon, reason: .startTimeout, now: now)
            case .running where (daemon.watchdogDeadline ?? now) < now && shutdown == nil:
                logger.error("watchdog timeout: no WATCHDOG=1 in time; aborting the daemon (SIGABRT)", [
                    "unit": .string(daemon.unit),
                    "watchdog_ms": LogValue(milliseconds: (daemon.watchdogInterval ?? .zero)),
                ])
                stop(daemon, reason: .watchdog, now: now)
            case .stopping(let child, let reason, let killAt, false) where killAt <= now:
                logger.warn("daemon did not stop in time; killing it (SIGKILL)", [
                    "unit": .string(daemon.unit), "pid": LogValue(child.pid),
                ])
                child.signal(SIGKILL)
                daemon.phase = .stopping(child, reason: reason, killAt: killAt, killed: true)
            default:
                break
            }
        }
    }

    /// Sends the stop signal: SIGTERM, or SIGABRT for a watchdog timeout (systemd's `WatchdogSignal=`).
    private func stop(_ daemon: SupervisedDaemon, reason: SupervisedDaemon.StopReason, now: ContinuousClock.Instant) {
        guard let child = daemon.child else { return }
        child.signal(reason == .watchdog ? SIGABRT : SIGTERM)
        let timeout = reason == .watchdog ? min(configuration.stopTimeout, Self.abortTimeout) : configuration.stopTimeout
        daemon.phase = .stopping(child, reason: reason, killAt: now + timeout, killed: false)
        daemon.watchdogDeadline = nil
        daemon.startDeadline = nil
        stateChanged = true
    }

    // MARK: - Stopping the stack

    private func requestStop(signal number: Int32, now: ContinuousClock.Instant) {
        if shutdown == nil {
            beginShutdown(reason: "received \(signalName(number))", now: now)
            return
        }
        guard shutdown?.forced == false else { return }
        shutdown?.forced = true
        logger.warn("second \(signalName(number)): killing every daemon now (SIGKILL)")
        for daemon in daemons {
            guard let child = daemon.child else { continue }
            child.signal(SIGKILL)
            daemon.phase = .stopping(child, reason: .shutdown, killAt: now, killed: true)
        }
    }

    private func beginShutdown(reason: String, now: ContinuousClock.Instant) {
        guard shutdown == nil else { return }
        let order = daemons.indices.reversed()
        shutdown = Shutdown(remaining: Array(order))
        stateChanged = true
        logger.info("stopping the stack: \(reason)", [
            "order": .string(order.map { daemons[$0].unit }.joined(separator: ",")),
            "stop_timeout_ms": LogValue(milliseconds: configuration.stopTimeout),
        ])
        for daemon in daemons {
            switch daemon.phase {
            case .restartPending, .waitingForConnection: daemon.phase = .inactive
            default: break
            }
        }
    }

    /// Stops the daemons one at a time in stop order; returns true once none runs.
    private func advanceShutdown(now: ContinuousClock.Instant) -> Bool {
        guard var state = shutdown else { return false }
        defer { shutdown = state }
        while let index = state.remaining.first {
            let daemon = daemons[index]
            switch daemon.phase {
            case .starting, .running:
                logger.info("stopping", ["unit": .string(daemon.unit), "pid": LogValue(daemon.child?.pid ?? -1)])
                stop(daemon, reason: .shutdown, now: now)
                return false
            case .stopping(let child, let reason, let killAt, let killed):
                if reason != .shutdown {
                    daemon.phase = .stopping(child, reason: .shutdown, killAt: killAt, killed: killed)
                }
                return false
            case .restartPending, .waitingForConnection:
                daemon.phase = .inactive
                state.remaining.removeFirst()
            case .inactive, .failed:
                state.remaining.removeFirst()
            }
        }
        return true
    }

    // MARK: - State file

    private func writeState() {
        stateChanged = false
        let host = ReadyBanner.displayHost(configuration.bindAddress)
        let state = StackState(
            pid: getpid(), startedAt: ISO8601DateFormatter().string(from: startedAt),
            runtimeDirectory: configuration.runtimeDirectory, apiURL: "http://\(host):\(configuration.port)",
            metricsURL: "http://\(host):\(configuration.metricsPort)/metrics", ready: announcedReady,
            stopping: shutdown != nil,
            daemons: daemons.map { daemon in
                StackState.Daemon(
                    unit: daemon.unit, state: daemon.stateName, pid: daemon.child?.pid,
                    restarts: max(0, daemon.starts - 1), status: daemon.status,
                    lastExit: daemon.lastOutcome?.description,
                    sockets: daemon.listeners.map { "\($0.plan.name)=\($0.address)" },
                    startedAt: daemon.child == nil ? nil : daemon.startedWall?.timeIntervalSince1970)
            })
        do {
            try state.write(to: statePath)
            stateFile = FileIdentity(path: statePath)
        } catch {
            logger.warn("cannot write the state file", ["path": .string(statePath), "error": .string("\(error)")])
        }
    }
}
