import Basics
import CLinux
import Glibc
import Synchronization

/// Something the event loop calls when its file descriptor is ready.
package protocol LoopHandler: AnyObject, Sendable {
    /// Called on the loop thread with the epoll event bits.
    func handleEvents(_ events: UInt32)
}

/// epoll event bits, as `UInt32`.
package enum PollEvents {
    package static let readable = EPOLLIN.rawValue
    package static let writable = EPOLLOUT.rawValue
    package static let readHangup = EPOLLRDHUP.rawValue
    package static let hangup = EPOLLHUP.rawValue
    package static let error = EPOLLERR.rawValue
}

/// A file descriptor's place in the loop. The generation tells a new registration of a reused fd number
/// from a stale event of the old one.
package struct LoopRegistration: Sendable, Hashable {
    let fd: Int32
    let generation: UInt32

    var key: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd)) }
}

/// A one-shot timer. Its mutable state is guarded by the owning loop's lock.
package final class LoopTimer: @unchecked Sendable {
    let deadline: UInt64
    let action: @Sendable () -> Void
    /// Position in the loop's heap, -1 once fired or cancelled. Guarded by the loop's lock.
    var heapIndex = -1

    init(deadline: UInt64, action: @escaping @Sendable () -> Void) {
        self.deadline = deadline
        self.action = action
    }
}

/// A binary min-heap of timers by deadline, with O(log n) removal of any timer.
struct TimerHeap {
    private(set) var items: [LoopTimer] = []

    var first: LoopTimer? { items.first }

    mutating func insert(_ timer: LoopTimer) {
        timer.heapIndex = items.count
        items.append(timer)
        siftUp(items.count - 1)
    }

    mutating func remove(_ timer: LoopTimer) {
        let index = timer.heapIndex
        guard index >= 0, index < items.count, items[index] === timer else { return }
        timer.heapIndex = -1
        let last = items.removeLast()
        guard index < items.count else { return }
        items[index] = last
        last.heapIndex = index
        siftDown(index)
        siftUp(index)
    }

    mutating func popFirst() -> LoopTimer? {
        guard let first = items.first else { return nil }
        remove(first)
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < items.count else { return }
            let right = left + 1
            var smallest = left
            if right < items.count && items[right].deadline < items[left].deadline { smallest = right }
            guard items[smallest].deadline < items[parent].deadline else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        items[a].heapIndex = a
        items[b].heapIndex = b
    }
}

/// One thread running epoll for every IPC socket of the process, plus timers and posted tasks.
///
/// Only the loop thread reads sockets and runs handlers, timers and tasks; any thread may register,
/// schedule or post. Writes happen on the thread that sends (see `SocketChannel`), so a reply leaves the
/// process without a thread hop; the loop only takes over a write the kernel could not take at once.
package final class EventLoop: Sendable {
    /// The process-wide loop, created on first use.
    package static let shared: Result<EventLoop, SocketError> = Result { () throws(SocketError) in try EventLoop() }

    /// Bytes read per `recv`; also the scratch buffer's size.
    static let readChunkSize = 64 * 1024
    /// Events taken per `epoll_wait`.
    private static let maxEvents = 256
    /// Longest single sleep, so a clock oddity can never park the loop for good.
    private static let maxSleepMilliseconds: UInt64 = 60_000
    /// The eventfd's key in epoll data (no real registration has generation 0xFFFF_FFFF and fd -1).
    private static let wakeKey = UInt64.max

    private struct State {
        var handlers: [Int32: (generation: UInt32, handler: any LoopHandler)] = [:]
        var nextGeneration: UInt32 = 0
        var tasks: [@Sendable () -> Void] = []
        var timers = TimerHeap()
        /// When the loop will wake by itself; a timer due earlier must wake it.
        var plannedWake: UInt64 = 0
        /// Whether the eventfd has been written since the loop last looked.
        var wakeSignaled = false
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private let state = Mutex(State())
    /// Receive buffer shared by every socket; touched only on the loop thread.
    package nonisolated(unsafe) let scratch: UnsafeMutableRawBufferPointer

    private init() throws(SocketError) {
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
        event.data.u64 = Self.wakeKey
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let code = errno
            close(epollFD)
            close(wakeFD)
            throw SocketError(operation: "epoll_ctl(eventfd)", errno: code)
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        self.scratch = .allocate(byteCount: Self.readChunkSize, alignment: 16)

        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            let loop = Unmanaged<EventLoop>.fromOpaque(context).takeRetainedValue()
            clinux_set_thread_name("ipc-loop")
            loop.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<EventLoop>.fromOpaque(context).release()
            throw SocketError(operation: "pthread_create", errno: result)
        }
        pthread_detach(thread)
    }

    // MARK: Registration

    /// Starts watching `fd` for `events`, calling `handler` on the loop thread.
    package func register(fd: Int32, events: UInt32, handler: any LoopHandler) throws -> LoopRegistration {
        let registration = state.withLock { state in
            state.nextGeneration &+= 1
            if state.nextGeneration == UInt32.max { state.nextGeneration = 1 }
            let registration = LoopRegistration(fd: fd, generation: state.nextGeneration)
            state.handlers[fd] = (registration.generation, handler)
            return registration
        }
        var event = epoll_event()
        event.events = events
        event.data.u64 = registration.key
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let code = errno
            dropHandler(registration)
            throw SocketError(operation: "epoll_ctl(add)", errno: code)
        }
        return registration
    }

    /// Changes the events watched for a registration.
    package func modify(_ registration: LoopRegistration, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = registration.key
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, registration.fd, &event)
    }

    /// Stops watching; the handler may still be called once for events already taken.
    package func deregister(_ registration: LoopRegistration) {
        var event = epoll_event()
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, registration.fd, &event)
        dropHandler(registration)
    }

    private func dropHandler(_ registration: LoopRegistration) {
        state.withLock { state in
            if state.handlers[registration.fd]?.generation == registration.generation {
                state.handlers[registration.fd] = nil
            }
        }
    }

    // MARK: Tasks and timers

    /// Runs `task` on the loop thread soon.
    package func execute(_ task: @escaping @Sendable () -> Void) {
        let mustWake = state.withLock { state in
            state.tasks.append(task)
            return Self.claimWake(&state)
        }
        if mustWake { wake() }
    }

    /// Runs `action` on the loop thread at `deadline` (monotonic nanoseconds) unless cancelled first.
    @discardableResult
    package func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> LoopTimer {
        let timer = LoopTimer(deadline: deadline, action: action)
        let mustWake = state.withLock { state in
            state.timers.insert(timer)
            return deadline < state.plannedWake && Self.claimWake(&state)
        }
        if mustWake { wake() }
        return timer
    }

    /// Runs `action` on the loop thread after `nanoseconds`.
    @discardableResult
    package func schedule(afterNanoseconds nanoseconds: UInt64, _ action: @escaping @Sendable () -> Void) -> LoopTimer {
        schedule(at: MonotonicClock.now() &+ nanoseconds, action)
    }

    /// Cancels a timer; harmless when it already fired.
    package func cancel(_ timer: LoopTimer) {
        state.withLock { state in state.timers.remove(timer) }
    }

    private static func claimWake(_ state: inout State) -> Bool {
        guard !state.wakeSignaled else { return false }
        state.wakeSignaled = true
        return true
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(wakeFD, $0.baseAddress, 8) }
    }

    // MARK: The loop

    private func run() {
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Self.maxEvents)
        var ready: [(handler: any LoopHandler, events: UInt32)] = []
        ready.reserveCapacity(Self.maxEvents)
        var tasks: [@Sendable () -> Void] = []
        var due: [LoopTimer] = []

        while true {
            // Posted tasks and due timers first, outside the lock.
            state.withLock { state in
                swap(&tasks, &state.tasks)
                state.wakeSignaled = false
                let now = MonotonicClock.now()
                while let first = state.timers.first, first.deadline <= now {
                    _ = state.timers.popFirst()
                    due.append(first)
                }
            }
            let didWork = !tasks.isEmpty || !due.isEmpty
            for task in tasks { task() }
            tasks.removeAll(keepingCapacity: true)
            for timer in due { timer.action() }
            due.removeAll(keepingCapacity: true)

            let timeout: Int32 = state.withLock { state in
                let now = MonotonicClock.now()
                if didWork || !state.tasks.isEmpty {
                    state.plannedWake = now
                    return 0
                }
                guard let first = state.timers.first else {
                    state.plannedWake = UInt64.max
                    return -1
                }
                if first.deadline <= now {
                    state.plannedWake = now
                    return 0
                }
                let milliseconds = min((first.deadline - now + 999_999) / 1_000_000, Self.maxSleepMilliseconds)
                state.plannedWake = now + milliseconds * 1_000_000
                return Int32(milliseconds)
            }

            let count = epoll_wait(epollFD, events, Int32(Self.maxEvents), timeout)
            guard count > 0 else { continue }  // timeout or EINTR
            state.withLock { state in
                for index in 0..<Int(count) {
                    let key = events[index].data.u64
                    if key == Self.wakeKey { continue }
                    let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: key))
                    let generation = UInt32(truncatingIfNeeded: key >> 32)
                    if let entry = state.handlers[fd], entry.generation == generation {
                        ready.append((entry.handler, events[index].events))
                    }
                }
            }
            for index in 0..<Int(count) where events[index].data.u64 == Self.wakeKey {
                var value: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &value) { Glibc.read(wakeFD, $0.baseAddress, 8) }
            }
            for (handler, bits) in ready {
                handler.handleEvents(bits)
            }
            ready.removeAll(keepingCapacity: true)
        }
    }
}
