import CLinux
import Glibc
import Reactor
import Synchronization

/// One thread of the HTTP server, on a Reactor ``EpollLoopCore``: it accepts connections (handing each to
/// the least loaded loop), reads and parses requests, checks its connections' deadlines, and runs the
/// handlers' tasks (the core is their preferred `TaskExecutor`), so that a request that never leaves the
/// loop (a cache hit) is parsed, handled and answered on one thread with no hand-off.
///
/// Loop-confined state (the connection table, the listening flag) is touched only on the loop's thread;
/// other threads reach the loop through `execute(_:)` and the core's executor.
final class HTTPEventLoop: @unchecked Sendable {
    /// The listening socket's epoll data (a connection's is its fd and generation; the core's eventfd
    /// has `EpollLoopCore.wakeToken`).
    static let listenToken = UInt64.max - 1
    /// Connections accepted per wake-up before others get a turn.
    static let acceptBatch = 64
    /// Pause before accepting again when the process is out of descriptors.
    static let acceptBackoff: UInt64 = 100_000_000

    let core: ServerCore
    let index: Int
    /// The epoll loop underneath: descriptors, the work queue, timers, the thread, the executor.
    let reactor: EpollLoopCore
    /// IPC's loop on this thread: an IPC client called by a handler running here reads its replies here
    /// too, so a reply resumes the handler without waking another thread.
    let ipc: EventLoop
    let dateCache = HTTPDateCache()
    let connectionCount = Atomic<Int>(0)

    private var connections: [HTTPConnection?] = []
    private var generation: UInt32 = 0
    private var listening = false

    init(core: ServerCore, index: Int) throws(HTTPServerError) {
        self.core = core
        self.index = index
        do {
            reactor = try EpollLoopCore()
        } catch {
            throw HTTPServerError(error.operation, errno: error.code)
        }
        ipc = EventLoop(attachedTo: reactor)
    }

    /// The loop's clock reading (monotonic nanoseconds); on the loop's thread only.
    var now: UInt64 { reactor.now }
    /// Whether the caller runs on this loop's thread.
    var inLoop: Bool { reactor.inLoop }
    /// Shared by the loop's connections for reading; parsed bytes are copied out before the next read.
    var readBuffer: UnsafeMutableRawBufferPointer { reactor.readBuffer }
    /// Whether the loop has closed everything and ended.
    var finished: Bool { reactor.isFinished }

    /// Runs `body` on the loop: later in this turn when called on the loop, else after a wake-up. After the
    /// loop has stopped, closures are dropped (every connection is closed by then).
    func execute(_ body: @escaping @Sendable () -> Void) {
        reactor.execute(body)
    }

    // MARK: - Loop

    /// Starts the loop's thread.
    func start() throws(HTTPServerError) {
        do {
            try reactor.start(name: "http-loop-\(index)") { [self] in run() }
        } catch {
            throw HTTPServerError(error.operation, errno: error.code)
        }
    }

    /// Asks the loop to close every connection and end its thread.
    func stop() {
        reactor.stop()
    }

    private func run() {
        ipc.bindToCurrentThread()
        defer { EventLoop.unbindCurrentThread() }
        scheduleSweep()
        if core.accepting.load(ordering: .relaxed) { startListening() }
        reactor.run { events in
            for event in events { handle(event) }
        }
        stopListening()
        // IPC connections made here close too: their calls fail now rather than wait on a loop that is gone.
        ipc.closeAll()
        reactor.runPendingWork()
        closeAllConnections()
        reactor.finish()
    }

    private func handle(_ event: epoll_event) {
        let token = event.data.u64
        if token == Self.listenToken {
            acceptConnections()
            return
        }
        if EventLoop.isAttachedToken(token) {
            ipc.handle(event)
            return
        }
        let fd = Int(UInt32(truncatingIfNeeded: token))
        let generation = UInt32(truncatingIfNeeded: token >> 32)
        guard fd < connections.count, let connection = connections[fd], connection.generation == generation else {
            return
        }
        connection.handle(events: event.events)
    }

    /// Checks every connection's deadlines each `sweepInterval`.
    private func scheduleSweep() {
        reactor.schedule(at: now &+ core.sweepInterval) { [self] in
            sweep()
            scheduleSweep()
        }
    }

    private func sweep() {
        var i = 0
        while i < connections.count {
            if let connection = connections[i] { connection.checkTimers(now: now) }
            i += 1
        }
    }

    // MARK: - Accepting

    func startListening() {
        guard !listening else { return }
        do {
            // Exclusive: one loop wakes per incoming connection, not all of them.
            try reactor.add(core.listenFD, events: PollEvents.readable | PollEvents.exclusive, token: Self.listenToken)
            listening = true
        } catch {
            // Not listening; the other loops (or the next start) accept.
        }
    }

    func stopListening() {
        guard listening else { return }
        reactor.remove(core.listenFD)
        listening = false
    }

    private func acceptConnections() {
        for _ in 0..<Self.acceptBatch {
            guard core.accepting.load(ordering: .relaxed) else {
                stopListening()
                return
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    clinux_accept4(core.listenFD, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // The pending connection stays in the backlog and would wake us at once: back off.
                    stopListening()
                    reactor.schedule(at: now &+ Self.acceptBackoff) { [self] in
                        if core.accepting.load(ordering: .relaxed) { startListening() }
                    }
                    return
                default:
                    return
                }
            }
            core.acceptedConnections.add(1, ordering: .relaxed)
            if core.openConnections.load(ordering: .relaxed) >= core.limits.maxConnections {
                core.rejectedConnections.add(1, ordering: .relaxed)
                Self.rejectOverCapacity(fd)
                continue
            }
            let address = withUnsafePointer(to: &storage) { SocketAddressText.ip($0) }
            if !core.admitClient(address) {
                core.rejectedPerClient.add(1, ordering: .relaxed)
                Self.rejectOverCapacity(fd)
                continue
            }
            core.openConnections.add(1, ordering: .relaxed)
            let target = leastLoadedLoop()
            target.connectionCount.add(1, ordering: .relaxed)
            if target === self {
                adopt(fd: fd, remoteAddress: address)
            } else {
                target.execute { target.adopt(fd: fd, remoteAddress: address) }
            }
        }
    }

    private static let overCapacityResponse: [UInt8] = Array(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n".utf8
    )

    private static func rejectOverCapacity(_ fd: Int32) {
        overCapacityResponse.withUnsafeBytes { raw in
            _ = Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
        Glibc.close(fd)
    }

    private func leastLoadedLoop() -> HTTPEventLoop {
        var best = self
        var bestCount = connectionCount.load(ordering: .relaxed)
        for loop in core.loops where loop !== self {
            let count = loop.connectionCount.load(ordering: .relaxed)
            if count < bestCount {
                best = loop
                bestCount = count
            }
        }
        return best
    }

    /// Takes ownership of an accepted socket; runs on this loop.
    func adopt(fd: Int32, remoteAddress: String) {
        if reactor.isStopping || core.isDraining {
            Glibc.close(fd)
            connectionCount.subtract(1, ordering: .relaxed)
            core.openConnections.subtract(1, ordering: .relaxed)
            core.releaseClient(remoteAddress)
            return
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // The high bit stays clear: it marks the tokens of the IPC loop attached to this one.
        generation = (generation &+ 1) & ~EventLoop.attachedGeneration
        let connection = HTTPConnection(fd: fd, generation: generation, loop: self, remoteAddress: remoteAddress)
        let slot = Int(fd)
        if slot >= connections.count {
            connections.append(contentsOf: repeatElement(nil, count: slot + 64 - connections.count))
        }
        connections[slot] = connection
        do {
            // Edge-triggered: one registration for the connection's life, no epoll_ctl per request.
            try reactor.add(
                fd, events: PollEvents.readable | PollEvents.writable | PollEvents.readHangup | PollEvents.edgeTriggered,
                token: UInt64(UInt32(bitPattern: fd)) | UInt64(generation) << 32)
        } catch {
            connection.closeNow()
            return
        }
        connection.start()
    }

    /// Forgets a connection whose socket was just closed.
    func remove(_ connection: HTTPConnection) {
        let slot = Int(connection.fd)
        if slot < connections.count, connections[slot] === connection { connections[slot] = nil }
        connectionCount.subtract(1, ordering: .relaxed)
        core.openConnections.subtract(1, ordering: .relaxed)
        core.releaseClient(connection.remoteAddress)
    }

    // MARK: - Draining

    /// Closes the connections that are between requests; the others close after their response.
    func closeIdleConnections(includingFresh: Bool = true) {
        var i = 0
        while i < connections.count {
            if let connection = connections[i] { connection.closeIfIdle(includingFresh: includingFresh) }
            i += 1
        }
    }

    func closeAllConnections() {
        var i = 0
        while i < connections.count {
            if let connection = connections[i] { connection.closeNow() }
            i += 1
        }
    }
}
