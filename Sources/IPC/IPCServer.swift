import Basics
import CLinux
import Glibc
import Reactor
import Synchronization
import Wire

/// Counters of an ``IPCServer``, for its daemon's metrics.
public struct IPCServerStats: Sendable, Hashable {
    /// Connections open now.
    public var connections: Int
    /// Calls received and not yet answered or cancelled.
    public var inFlightCalls: Int
    /// Connections accepted since start.
    public var acceptedConnections: Int
    /// Calls started since start.
    public var startedCalls: Int
    /// Calls refused without running the handler (draining, or too many in flight on a connection).
    public var rejectedCalls: Int
    /// Connections closed because the peer broke the protocol (including wrong-protocol HELLOs).
    public var protocolErrors: Int
}

/// Serves calls on an already-listening Unix stream socket.
///
/// The socket comes from the daemon runtime (systemd socket activation, or ``UnixSocket/listen(path:backlog:permissions:)``);
/// the server never closes it. All connections share the process's I/O thread (epoll); each call runs the
/// handler in its own task, so many calls on one connection proceed concurrently.
///
/// ```swift
/// let server = IPCServer(listenFD: fd, protocolName: "infer.limitd", version: 1) { call in
///     switch call.type {
///     case Admit.type: call.reply(admit(try call.decode(Admit.self)))
///     default: call.fail(code: IPCErrorCode.unknownType, message: "unknown message type \(call.type)")
///     }
/// }
/// try server.start()
/// ...
/// await server.drain(timeout: .seconds(10))
/// ```
public final class IPCServer: Sendable {
    /// The executor of the thread that reads every server's and client's socket of the process (the
    /// shared event loop's): a handler that only waits on other daemons and relays their answers can
    /// prefer it (`withTaskExecutorPreference`), so each frame it awaits resumes it on the thread that
    /// read it, with no wake-up of another thread. Nil if the loop could not be made.
    public static var ioExecutor: (any TaskExecutor)? { try? EventLoop.shared.get().executor }

    /// Default limit on calls in flight per connection; more are refused with ``IPCErrorCode/overloaded``.
    public static let defaultMaxCallsPerConnection = 4096
    /// How long accepting pauses after the process runs out of descriptors.
    private static let acceptPauseNanoseconds: UInt64 = 100_000_000
    /// Connections accepted per wake-up before other sockets get a turn.
    private static let acceptBurst = 64

    /// The listening socket.
    public let listenFD: Int32
    /// The protocol a client's HELLO must name.
    public let protocolName: String
    /// The protocol version a client's HELLO must name.
    public let version: UInt16
    /// Largest frame payload accepted or sent.
    public let maxFrame: Int
    /// Calls allowed in flight per connection.
    public let maxCallsPerConnection: Int
    /// Whether handlers start on the I/O thread (see ``init(listenFD:protocolName:version:maxFrame:maxCallsPerConnection:inlineHandlers:handler:)``).
    public let inlineHandlers: Bool
    /// Message types whose handlers start on the I/O thread even when ``inlineHandlers`` is false.
    public let inlineTypes: Set<UInt16>
    /// Output allowed to pile up for one connection before it is dropped as stuck.
    let maxOutputBuffer: Int
    let handler: @Sendable (IPCCall) async -> Void

    private struct State {
        var loop: EventLoop?
        var registration: LoopRegistration?
        var accepting = false
        var stopped = false
        var connections: [ObjectIdentifier: ServerConnection] = [:]
        var idleWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Drains waiting for the last connection to close (its GOAWAY written).
        var closeWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())
    private let inFlight = Atomic<Int>(0)
    private let draining = Atomic<Bool>(false)
    private let acceptedTotal = Atomic<Int>(0)
    private let startedTotal = Atomic<Int>(0)
    private let rejectedTotal = Atomic<Int>(0)
    private let protocolErrorTotal = Atomic<Int>(0)

    /// Creates a server; call ``start()`` to accept connections.
    /// - Parameters:
    ///   - listenFD: A listening Unix stream socket (it is made non-blocking; it is never closed here).
    ///   - protocolName: The protocol clients must name in HELLO, e.g. `infer.limitd`.
    ///   - version: The protocol version clients must name.
    ///   - maxFrame: Largest frame payload, either way (default 1 MiB).
    ///   - maxCallsPerConnection: Calls in flight allowed per connection.
    ///   - inlineHandlers: Start each handler's task on the I/O thread (`Task.immediate`), where it runs
    ///     until its first suspension. That saves a thread hop per call, and answers given before any
    ///     `await` leave in one `send` with the rest of the batch read — right for handlers that answer
    ///     in microseconds without blocking (cache lookups, counters), wrong for handlers that compute or
    ///     block, which would stall every connection of the process meanwhile.
    ///   - inlineTypes: The message types whose handlers start on the I/O thread when `inlineHandlers`
    ///     is false: the quick ones of a server whose other handlers compute or block.
    ///   - handler: Runs once per call, in its own task; answers through the ``IPCCall``.
    public init(
        listenFD: Int32, protocolName: String, version: UInt16, maxFrame: Int = Frame.defaultMaxPayload,
        maxCallsPerConnection: Int = IPCServer.defaultMaxCallsPerConnection, inlineHandlers: Bool = false,
        inlineTypes: Set<UInt16> = [], handler: @escaping @Sendable (IPCCall) async -> Void
    ) {
        self.inlineHandlers = inlineHandlers
        self.inlineTypes = inlineTypes
        self.listenFD = listenFD
        self.protocolName = protocolName
        self.version = version
        self.maxFrame = maxFrame
        self.maxCallsPerConnection = maxCallsPerConnection
        // Room for many full frames to queue behind a slow reader, yet a bound.
        self.maxOutputBuffer = max(64 << 20, maxFrame * 16)
        self.handler = handler
    }

    /// Starts accepting connections.
    /// - Throws: ``SocketError`` when the socket cannot be watched.
    public func start() throws {
        let loop = try EventLoop.shared.get()
        let flags = fcntl(listenFD, F_GETFL)
        guard flags >= 0, fcntl(listenFD, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SocketError(operation: "fcntl(O_NONBLOCK) on listening socket", errno: errno)
        }
        try state.withLock { state in
            guard state.registration == nil, !state.stopped else { return }
            state.loop = loop
            state.registration = try loop.register(fd: listenFD, events: PollEvents.readable, handler: self)
            state.accepting = true
        }
    }

    /// Stops accepting new connections; calls on open connections go on. Safe to call more than once.
    /// Once it returns, the listening socket is no longer touched and may be closed.
    public func stopAccepting() {
        state.withLock { state in
            state.accepting = false
            state.stopped = true
            if let registration = state.registration, let loop = state.loop {
                loop.deregister(registration)
            }
            state.registration = nil
        }
    }

    /// Shuts down gracefully: stops accepting, refuses new calls with ``IPCErrorCode/shuttingDown`` (which
    /// ``IPCClient`` retries on a new connection), waits up to `timeout` for calls in flight to be answered,
    /// then closes every connection (and returns once they are closed, or after a second at most): calls
    /// still running are cancelled and answered with
    /// ``IPCErrorCode/interrupted``, and a last connection-level ``IPCErrorCode/shuttingDown`` tells each
    /// client that anything else it sent was not read (so it can be sent to the next server).
    /// - Parameter timeout: Longest wait for calls in flight.
    public func drain(timeout: Duration) async {
        stopAccepting()
        draining.store(true, ordering: .sequentiallyConsistent)
        await waitUntilIdle(timeout: timeout)
        let (connections, loop) = state.withLock { (Array($0.connections.values), $0.loop) }
        guard let loop else { return }
        for connection in connections {
            loop.execute { connection.goAway() }
        }
        // The GOAWAYs are written on the loop thread. Returning before they are would let the caller
        // exit first, and a client whose request was never read would see the connection drop instead
        // of being told to send it again.
        await waitUntilClosed(timeout: Self.goAwayFlushTimeout)
    }

    /// Longest wait for the GOAWAYs of a drain to be written (a client that stops reading gets no more).
    static let goAwayFlushTimeout: Duration = .seconds(1)

    /// Calls received and not yet answered or cancelled.
    public var inFlightCalls: Int { inFlight.load(ordering: .relaxed) }

    /// Connections open now.
    public var openConnections: Int { state.withLock { $0.connections.count } }

    /// Whether ``drain(timeout:)`` has begun.
    public var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }

    /// A snapshot of the counters.
    public var stats: IPCServerStats {
        IPCServerStats(
            connections: openConnections,
            inFlightCalls: inFlight.load(ordering: .relaxed),
            acceptedConnections: acceptedTotal.load(ordering: .relaxed),
            startedCalls: startedTotal.load(ordering: .relaxed),
            rejectedCalls: rejectedTotal.load(ordering: .relaxed),
            protocolErrors: protocolErrorTotal.load(ordering: .relaxed))
    }

    // MARK: Bookkeeping for connections

    func callStarted() {
        inFlight.add(1, ordering: .sequentiallyConsistent)
        startedTotal.add(1, ordering: .relaxed)
    }

    func callFinished(count: Int = 1) {
        guard count > 0 else { return }
        let left = inFlight.subtract(count, ordering: .sequentiallyConsistent).newValue
        if left == 0 && draining.load(ordering: .sequentiallyConsistent) {
            resumeIdleWaiters()
        }
    }

    func noteRejectedCall() { rejectedTotal.add(1, ordering: .relaxed) }
    func noteProtocolError() { protocolErrorTotal.add(1, ordering: .relaxed) }

    func connectionClosed(_ connection: ServerConnection, endedCalls: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            _ = state.connections.removeValue(forKey: ObjectIdentifier(connection))
            guard state.connections.isEmpty, draining.load(ordering: .sequentiallyConsistent) else { return [] }
            defer { state.closeWaiters.removeAll() }
            return Array(state.closeWaiters.values)
        }
        callFinished(count: endedCalls)
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Draining

    private func waitUntilIdle(timeout: Duration) async {
        await wait(in: \.idleWaiters, timeout: timeout) { [self] _ in inFlight.load(ordering: .sequentiallyConsistent) == 0 }
    }

    private func waitUntilClosed(timeout: Duration) async {
        await wait(in: \.closeWaiters, timeout: timeout) { $0.connections.isEmpty }
    }

    /// Waits until a continuation parked in `waiters` is resumed, or `timeout` passes; returns at once
    /// when `done` already holds.
    private func wait(
        in waiters: WritableKeyPath<State, [UInt64: CheckedContinuation<Void, Never>]> & Sendable, timeout: Duration,
        unless done: (State) -> Bool
    ) async {
        guard let loop = state.withLock({ $0.loop }) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id: UInt64? = state.withLock { state in
                guard !done(state) else { return nil }
                state.nextWaiter += 1
                state[keyPath: waiters][state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let id else { return continuation.resume() }
            loop.schedule(afterNanoseconds: timeout.clampedNanoseconds) { [self] in
                state.withLock { $0[keyPath: waiters].removeValue(forKey: id) }?.resume()
            }
        }
    }

    private func resumeIdleWaiters() {
        let waiters = state.withLock { state in
            let waiters = Array(state.idleWaiters.values)
            state.idleWaiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

extension IPCServer: LoopHandler {
    /// Servers run on the shared loop, which never ends; nothing to do.
    package func loopEnding() {}

    /// Accepts what the backlog holds (on the loop thread).
    package func handleEvents(_ events: UInt32) {
        for _ in 0..<Self.acceptBurst {
            let (fd, code, loop) = state.withLock { state -> (Int32, Int32, EventLoop?) in
                guard state.accepting, let loop = state.loop else { return (-1, EAGAIN, nil) }
                let fd = clinux_accept4(listenFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                return (fd, fd < 0 ? errno : 0, loop)
            }
            guard let loop else { return }
            if fd >= 0 {
                let connection = ServerConnection(fd: fd, server: self, loop: loop)
                state.withLock { $0.connections[ObjectIdentifier(connection)] = connection }
                acceptedTotal.add(1, ordering: .relaxed)
                do {
                    try connection.channel.start()
                } catch {
                    state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
                }
                continue
            }
            switch code {
            case EINTR, ECONNABORTED, EPROTO:
                continue
            case EAGAIN, EWOULDBLOCK:
                return
            default:
                // Out of descriptors or memory: the socket stays readable, so pause instead of spinning.
                pauseAccepting(loop)
                return
            }
        }
    }

    private func pauseAccepting(_ loop: EventLoop) {
        state.withLock { state in
            guard let registration = state.registration else { return }
            loop.modify(registration, events: 0)
        }
        loop.schedule(afterNanoseconds: Self.acceptPauseNanoseconds) { [self] in
            state.withLock { state in
                guard state.accepting, let registration = state.registration else { return }
                loop.modify(registration, events: PollEvents.readable)
            }
        }
    }
}
