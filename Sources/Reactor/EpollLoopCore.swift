import Basics
import CLinux
import Glibc
import Synchronization

/// The layer under every event loop of the process: one epoll instance, an eventfd that wakes it, a queue
/// of work that other threads post (closures, and the jobs of tasks that prefer the loop as their
/// executor), a timer heap, the loop's thread and its clock reading. IPC's ``EventLoop`` and the HTTP
/// server's loops are built on it; each keeps its own table of descriptors and says what an event means.
///
/// Only the loop's thread runs work, timers and event handlers; any thread may post work, schedule or
/// cancel a timer. Work posted on the loop's thread goes to a local queue, with no lock and no wake-up;
/// from another thread it goes to the remote queue, and only the first post after the loop last looked
/// writes the eventfd.
///
/// ```swift
/// let core = try EpollLoopCore()
/// try core.add(fd, events: PollEvents.readable, token: 1)
/// try core.start(name: "my-loop") {
///     core.run { events in for event in events { handle(event.data.u64, event.events) } }
///     core.finish()
/// }
/// ```
package final class EpollLoopCore: TaskExecutor, @unchecked Sendable {
    // @unchecked: `now`, `local`, `spare`, `remoteBatch` and `due` are touched on the loop's thread only;
    // everything other threads touch is in `shared` or atomic.

    /// The epoll data of the eventfd; no descriptor may be added with it.
    package static let wakeToken = UInt64.max
    /// Bytes of ``readBuffer``: one `read` per call at most this large.
    package static let readBufferSize = 64 * 1024
    /// Events taken per `epoll_wait`.
    package static let maxEvents = 256
    /// Longest single sleep, so that a clock oddity can never park the loop for good.
    private static let maxSleepMilliseconds: UInt64 = 60_000

    /// What other threads share with the loop's thread.
    private struct Shared {
        var work: [LoopWork] = []
        var timers = TimerHeap()
        /// When the loop will wake by itself; a timer due earlier must wake it.
        var plannedWake: UInt64 = 0
        /// Whether the eventfd has been written since the loop last took the work.
        var wakeSignaled = false
        /// After ``finish()``: work goes elsewhere, timers are not kept.
        var finished = false
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private let shared = Mutex(Shared())
    private let threadID = Atomic<UInt>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let finishedFlag = Atomic<Bool>(false)
    private let events: UnsafeMutablePointer<epoll_event>

    /// A receive buffer for every descriptor of the loop: touch it on the loop's thread only, and copy out
    /// what a read put there before the next read.
    package let readBuffer: UnsafeMutableRawBufferPointer
    /// ``MonotonicClock`` nanoseconds, read at the start of each turn of the loop and when `epoll_wait`
    /// returns: the time for deadlines set on the loop's thread, without a clock read each. Loop's thread
    /// only.
    package private(set) var now: UInt64 = MonotonicClock.now()

    private var local: [LoopWork] = []
    private var spare: [LoopWork] = []
    private var remoteBatch: [LoopWork] = []
    private var due: [LoopTimer] = []

    /// Creates the epoll instance and its eventfd; nothing runs until ``start(name:_:)``.
    /// - Throws: ``SocketError`` naming `epoll_create1`, `eventfd` or `epoll_ctl(eventfd)`.
    package init() throws(SocketError) {
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SocketError(operation: "epoll_create1", errno: errno) }
        let wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            let code = errno
            close(epollFD)
            throw SocketError(operation: "eventfd", errno: code)
        }
        var event = epoll_event()
        event.events = PollEvents.readable
        event.data.u64 = Self.wakeToken
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let code = errno
            close(epollFD)
            close(wakeFD)
            throw SocketError(operation: "epoll_ctl(eventfd)", errno: code)
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        events = .allocate(capacity: Self.maxEvents)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
    }

    deinit {
        if !finishedFlag.load(ordering: .acquiring) {
            close(epollFD)
            close(wakeFD)
        }
        events.deallocate()
        readBuffer.deallocate()
    }

    // MARK: Descriptors

    /// Starts watching `fd`.
    /// - Parameters:
    ///   - fd: the descriptor.
    ///   - events: ``PollEvents`` bits.
    ///   - token: what the events of `fd` carry as `data.u64`; never ``wakeToken``.
    /// - Throws: ``SocketError`` (`epoll_ctl(add)`).
    package func add(_ fd: Int32, events: UInt32, token: UInt64) throws(SocketError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            throw SocketError(operation: "epoll_ctl(add)", errno: errno)
        }
    }

    /// Changes the events watched on `fd` (and the token they carry).
    package func modify(_ fd: Int32, events: UInt32, token: UInt64) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Stops watching `fd`; events already taken may still be delivered once.
    package func remove(_ fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &event)
    }

    // MARK: Work

    /// Whether the caller runs on the loop's thread.
    package var inLoop: Bool {
        @inline(__always) get { pthread_equal(pthread_self(), threadID.load(ordering: .relaxed)) != 0 }
    }

    /// Runs `body` on the loop's thread soon, never inline: later in this turn when called on the loop's
    /// thread, else after a wake-up. After ``finish()`` it is dropped.
    package func execute(_ body: @escaping @Sendable () -> Void) {
        post(.call(body))
    }

    /// Runs a job of a task that prefers this loop as its executor (`Task(executorPreference:)`). After
    /// ``finish()`` jobs go to the global executor, so no task is lost.
    package func enqueue(_ job: consuming ExecutorJob) {
        post(.job(UnownedJob(job)))
    }

    @inline(__always)
    private func post(_ work: LoopWork) {
        if inLoop {
            local.append(work)
            return
        }
        let (mustWake, finished) = shared.withLock { shared -> (Bool, Bool) in
            guard !shared.finished else { return (false, true) }
            shared.work.append(work)
            return (Self.claimWake(&shared), false)
        }
        if finished {
            Self.forward(work)
        } else if mustWake {
            wake()
        }
    }

    /// Work that arrives after the loop finished: jobs move to the global executor, closures are dropped.
    private static func forward(_ work: LoopWork) {
        if case .job(let job) = work {
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
        }
    }

    // MARK: Timers

    /// Runs `action` on the loop's thread at `deadline` unless cancelled first.
    /// - Parameters:
    ///   - deadline: ``MonotonicClock`` nanoseconds.
    ///   - action: what to run; after ``finish()`` it never runs.
    /// - Returns: the timer, for ``cancel(_:)``.
    @discardableResult
    package func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> LoopTimer {
        let timer = LoopTimer(deadline: deadline, action: action)
        // On the loop's thread the next sleep is planned after this returns, with this timer in view.
        let onLoop = inLoop
        let mustWake = shared.withLock { shared -> Bool in
            guard !shared.finished else { return false }
            shared.timers.insert(timer)
            return !onLoop && deadline < shared.plannedWake && Self.claimWake(&shared)
        }
        if mustWake { wake() }
        return timer
    }

    /// Cancels a timer; harmless when it already fired or was cancelled.
    package func cancel(_ timer: LoopTimer) {
        shared.withLock { shared in shared.timers.remove(timer) }
    }

    // MARK: The thread

    /// Starts the loop's thread, which runs `body`; `body` drives the loop with ``run(_:)``.
    /// - Parameters:
    ///   - name: the thread's name (the kernel keeps 15 bytes), for ps, top -H and gdb.
    ///   - body: runs on the new thread.
    /// - Throws: ``SocketError`` (`pthread_create`).
    package func start(name: String, _ body: @escaping @Sendable () -> Void) throws(SocketError) {
        try LoopThread.spawn(name: name) { [self] in
            threadID.store(pthread_self(), ordering: .releasing)
            now = MonotonicClock.now()
            body()
        }
    }

    /// Turns the loop until ``stop()``: each turn runs the work posted and the timers due, sleeps in
    /// `epoll_wait` until a descriptor is ready, work arrives or the next timer is due, and hands the
    /// ready descriptors' events (never the eventfd's) to `handle`. On the loop's thread only.
    /// - Parameter handle: takes each batch of events; their `data.u64` is the token given to ``add(_:events:token:)``.
    package func run(_ handle: (UnsafeMutableBufferPointer<epoll_event>) -> Void) {
        while !stopRequested.load(ordering: .acquiring) {
            now = MonotonicClock.now()
            runPendingWork()
            let timeout = plannedTimeout()
            let count = Int(epoll_wait(epollFD, events, Int32(Self.maxEvents), timeout))
            now = MonotonicClock.now()
            guard count > 0 else { continue }  // timeout or EINTR
            var kept = 0
            for index in 0..<count {
                if events[index].data.u64 == Self.wakeToken {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                } else {
                    if kept != index { events[kept] = events[index] }
                    kept += 1
                }
            }
            if kept > 0 { handle(UnsafeMutableBufferPointer(start: events, count: kept)) }
        }
    }

    /// Runs the work posted so far (remote, then local) and the timers due at ``now``. ``run(_:)`` calls
    /// it each turn; a loop that is shutting down calls it once more after ``run(_:)`` returns.
    package func runPendingWork() {
        let now = self.now
        shared.withLock { shared in
            if !shared.work.isEmpty { swap(&remoteBatch, &shared.work) }
            shared.wakeSignaled = false
            while let first = shared.timers.first, first.deadline <= now {
                _ = shared.timers.popFirst()
                due.append(first)
            }
        }
        if !remoteBatch.isEmpty {
            for work in remoteBatch { perform(work) }
            remoteBatch.removeAll(keepingCapacity: true)
        }
        if !local.isEmpty {
            var batch = spare
            swap(&batch, &local)
            for work in batch { perform(work) }
            batch.removeAll(keepingCapacity: true)
            spare = batch
        }
        if !due.isEmpty {
            for timer in due { timer.action() }
            due.removeAll(keepingCapacity: true)
        }
    }

    @inline(__always)
    private func perform(_ work: LoopWork) {
        switch work {
        case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
        case .call(let body): body()
        }
    }

    /// How long `epoll_wait` may sleep, in milliseconds (-1: until an event): not at all while work is
    /// queued, else until the first timer.
    private func plannedTimeout() -> Int32 {
        let localPending = !local.isEmpty
        return shared.withLock { shared -> Int32 in
            let now = MonotonicClock.now()
            if localPending || !shared.work.isEmpty {
                shared.plannedWake = now
                return 0
            }
            guard let first = shared.timers.first else {
                shared.plannedWake = UInt64.max
                return -1
            }
            if first.deadline <= now {
                shared.plannedWake = now
                return 0
            }
            let milliseconds = min((first.deadline - now + 999_999) / 1_000_000, Self.maxSleepMilliseconds)
            shared.plannedWake = now + milliseconds * 1_000_000
            return Int32(milliseconds)
        }
    }

    private static func claimWake(_ shared: inout Shared) -> Bool {
        guard !shared.wakeSignaled else { return false }
        shared.wakeSignaled = true
        return true
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: Stopping

    /// Asks ``run(_:)`` to return after its current turn; any thread.
    package func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    /// Whether ``stop()`` was called.
    package var isStopping: Bool { stopRequested.load(ordering: .relaxed) }

    /// Ends the loop for good, on its thread once ``run(_:)`` has returned: queued jobs and those posted
    /// later go to the global executor, closures and timers are dropped, and the descriptors close.
    package func finish() {
        let leftover = shared.withLock { shared -> [LoopWork] in
            shared.finished = true
            shared.timers = TimerHeap()
            let work = shared.work
            shared.work = []
            return work
        }
        for work in leftover + local { Self.forward(work) }
        local = []
        // The thread ends here; a later thread may get the same pthread_t, and must not pass for this loop.
        threadID.store(0, ordering: .releasing)
        close(epollFD)
        close(wakeFD)
        finishedFlag.store(true, ordering: .releasing)
    }

    /// Whether ``finish()`` has run.
    package var isFinished: Bool { finishedFlag.load(ordering: .acquiring) }
}
