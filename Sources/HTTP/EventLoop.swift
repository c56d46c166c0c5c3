import Basics
import CLinux
import Glibc
import Synchronization

/// Work for an event loop: a task job (the loop is the handlers' task executor) or a closure.
enum LoopWork: @unchecked Sendable {
    case job(UnownedJob)
    case call(@Sendable () -> Void)
}

/// One thread running an epoll instance: it accepts connections, reads and parses requests, and runs the
/// handlers' tasks as their preferred `TaskExecutor`, so that a request that never leaves the loop (a cache
/// hit) is parsed, handled and answered on one thread with no hand-off.
///
/// Loop-confined state (the connection table, `now`, the local work queue) is touched only on the loop's
/// thread; other threads reach the loop through `execute(_:)` and `enqueue(_:)`, which wake it by eventfd.
final class EventLoop: TaskExecutor, @unchecked Sendable {
    private struct RemoteQueue {
        var work: [LoopWork] = []
        var stopped = false
    }

    static let listenToken = UInt64.max
    static let wakeToken = UInt64.max - 1
    static let maxEvents = 256
    static let readBufferSize = 64 * 1024
    /// Connections accepted per wake-up before others get a turn.
    static let acceptBatch = 64
    /// Pause before accepting again when the process is out of descriptors.
    static let acceptBackoff: UInt64 = 100_000_000

    let core: ServerCore
    let index: Int
    let epollFD: Int32
    let wakeFD: Int32
    let dateCache = HTTPDateCache()
    let connectionCount = Atomic<Int>(0)
    let finished = Atomic<Bool>(false)
    /// Shared by the loop's connections for reading; parsed bytes are copied out before the next read.
    let readBuffer: UnsafeMutableRawBufferPointer

    private let threadID = Atomic<UInt>(0)
    private let remote = Mutex(RemoteQueue())
    private let stopRequested = Atomic<Bool>(false)

    private var local: [LoopWork] = []
    private var spare: [LoopWork] = []
    private var connections: [HTTPConnection?] = []
    private var generation: UInt32 = 0
    private(set) var now: UInt64 = MonotonicClock.now()
    private var nextSweep: UInt64 = 0
    private var listening = false
    private var acceptResumeAt: UInt64 = 0

    init(core: ServerCore, index: Int) throws(HTTPServerError) {
        self.core = core
        self.index = index
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw HTTPServerError("epoll_create1", errno: errno) }
        let wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            let error = errno
            Glibc.close(epollFD)
            throw HTTPServerError("eventfd", errno: error)
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readBufferSize, alignment: 16)
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeToken
        if epoll_ctl(epollFD, Int32(EPOLL_CTL_ADD), wakeFD, &event) != 0 {
            let error = errno
            Glibc.close(epollFD)
            Glibc.close(wakeFD)
            readBuffer.deallocate()
            throw HTTPServerError("epoll_ctl(eventfd)", errno: error)
        }
    }

    deinit {
        readBuffer.deallocate()
    }

    /// Whether the caller runs on this loop's thread.
    @inline(__always)
    var inLoop: Bool {
        pthread_equal(pthread_self(), threadID.load(ordering: .relaxed)) != 0
    }

    // MARK: - Executor

    func enqueue(_ job: consuming ExecutorJob) {
        let work = LoopWork.job(UnownedJob(job))
        if inLoop {
            local.append(work)
        } else {
            enqueueRemote(work)
        }
    }

    /// Runs `body` on the loop: inline later in this iteration when called on the loop, else after a wake-up.
    /// After the loop has stopped, closures are dropped (every connection is closed by then).
    func execute(_ body: @escaping @Sendable () -> Void) {
        if inLoop {
            local.append(.call(body))
        } else {
            enqueueRemote(.call(body))
        }
    }

    private func enqueueRemote(_ work: LoopWork) {
        let (wake, forward) = remote.withLock { queue -> (Bool, Bool) in
            if queue.stopped { return (false, true) }
            let wasEmpty = queue.work.isEmpty
            queue.work.append(work)
            return (wasEmpty, false)
        }
        if forward {
            Self.forward(work)
        } else if wake {
            var one: UInt64 = 1
            _ = Glibc.write(wakeFD, &one, 8)
        }
    }

    /// Work that arrives after the loop stopped: tasks move to the global executor, closures are dropped.
    private static func forward(_ work: LoopWork) {
        if case .job(let job) = work {
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
        }
    }

    private func runPendingWork() {
        let remoteWork = remote.withLock { queue -> [LoopWork] in
            if queue.work.isEmpty { return [] }
            let work = queue.work
            queue.work = []
            return work
        }
        for work in remoteWork { run(work) }
        if local.isEmpty { return }
        var batch = spare
        swap(&batch, &local)
        for work in batch { run(work) }
        batch.removeAll(keepingCapacity: true)
        spare = batch
    }

    @inline(__always)
    private func run(_ work: LoopWork) {
        switch work {
        case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
        case .call(let body): body()
        }
    }

    // MARK: - Loop

    /// Starts the loop's thread.
    func start() throws(HTTPServerError) {
        try PosixThread.spawn(name: "http-loop-\(index)") { [self] in run() }
    }

    /// Asks the loop to close every connection and end its thread.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    private func run() {
        threadID.store(pthread_self(), ordering: .releasing)
        now = MonotonicClock.now()
        nextSweep = now &+ core.sweepInterval
        if core.accepting.load(ordering: .relaxed) { startListening() }
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Self.maxEvents)
        defer { events.deallocate() }
        while !stopRequested.load(ordering: .acquiring) {
            runPendingWork()
            var timeout: Int32 = 0
            if local.isEmpty {
                let wait = nextSweep > now ? nextSweep - now : 0
                timeout = Int32(clamping: (wait + 999_999) / 1_000_000)
            }
            let count = epoll_wait(epollFD, events, Int32(Self.maxEvents), timeout)
            now = MonotonicClock.now()
            if count > 0 {
                for i in 0..<Int(count) { handle(events[i]) }
            }
            if now >= nextSweep {
                sweep()
                nextSweep = now &+ core.sweepInterval
            }
        }
        shutDown()
    }

    private func shutDown() {
        stopListening()
        runPendingWork()
        closeAllConnections()
        let leftover = remote.withLock { queue -> [LoopWork] in
            queue.stopped = true
            let work = queue.work
            queue.work = []
            return work
        }
        for work in leftover + local { Self.forward(work) }
        local = []
        Glibc.close(epollFD)
        Glibc.close(wakeFD)
        finished.store(true, ordering: .releasing)
    }

    private func handle(_ event: epoll_event) {
        let token = event.data.u64
        if token == Self.listenToken {
            acceptConnections()
            return
        }
        if token == Self.wakeToken {
            var value: UInt64 = 0
            _ = Glibc.read(wakeFD, &value, 8)
            return
        }
        let fd = Int(UInt32(truncatingIfNeeded: token))
        let generation = UInt32(truncatingIfNeeded: token >> 32)
        guard fd < connections.count, let connection = connections[fd], connection.generation == generation else {
            return
        }
        connection.handle(events: event.events)
    }

    private func sweep() {
        if !listening && acceptResumeAt != 0 && now >= acceptResumeAt {
            acceptResumeAt = 0
            if core.accepting.load(ordering: .relaxed) { startListening() }
        }
        var i = 0
        while i < connections.count {
            if let connection = connections[i] { connection.checkTimers(now: now) }
            i += 1
        }
    }

    // MARK: - Accepting

    func startListening() {
        guard !listening else { return }
        var event = epoll_event()
        // EPOLLEXCLUSIVE: one loop wakes per incoming connection, not all of them.
        event.events = EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue
        event.data.u64 = Self.listenToken
        if epoll_ctl(epollFD, Int32(EPOLL_CTL_ADD), core.listenFD, &event) == 0 { listening = true }
    }

    func stopListening() {
        guard listening else { return }
        _ = epoll_ctl(epollFD, Int32(EPOLL_CTL_DEL), core.listenFD, nil)
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
                    acceptResumeAt = now &+ Self.acceptBackoff
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
            core.openConnections.add(1, ordering: .relaxed)
            let address = withUnsafePointer(to: &storage) { SocketAddressText.ip($0) }
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

    private func leastLoadedLoop() -> EventLoop {
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
        if stopRequested.load(ordering: .relaxed) || core.isDraining {
            Glibc.close(fd)
            connectionCount.subtract(1, ordering: .relaxed)
            core.openConnections.subtract(1, ordering: .relaxed)
            return
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        generation &+= 1
        let connection = HTTPConnection(fd: fd, generation: generation, loop: self, remoteAddress: remoteAddress)
        let slot = Int(fd)
        if slot >= connections.count {
            connections.append(contentsOf: repeatElement(nil, count: slot + 64 - connections.count))
        }
        connections[slot] = connection
        var event = epoll_event()
        // Edge-triggered: one registration for the connection's life, no epoll_ctl per request.
        event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
        event.data.u64 = UInt64(UInt32(bitPattern: fd)) | UInt64(generation) << 32
        guard epoll_ctl(epollFD, Int32(EPOLL_CTL_ADD), fd, &event) == 0 else {
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
    }

    // MARK: - Draining

    /// Closes the connections that are between requests; the others close after their response.
    func closeIdleConnections() {
        var i = 0
        while i < connections.count {
            if let connection = connections[i] { connection.closeIfIdle() }
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

/// A detached POSIX thread running a Swift closure.
enum PosixThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(HTTPServerError) {
        let box = Unmanaged.passRetained(Box {
            clinux_set_thread_name(name)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            guard let argument else { return nil }
            let box = Unmanaged<Box>.fromOpaque(argument).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw HTTPServerError("pthread_create", errno: result)
        }
        pthread_detach(thread)
    }
}
