import Basics
import CLinux
import Glibc
import Synchronization

/// Something the event loop calls when its file descriptor is ready.
package protocol LoopHandler: AnyObject, Sendable {
    /// Called on the loop thread with the epoll event bits.
    func handleEvents(_ events: UInt32)
}

/// A file descriptor's place in the loop. The generation tells a new registration of a reused fd number
/// from a stale event of the old one.
package struct LoopRegistration: Sendable, Hashable {
    let fd: Int32
    let generation: UInt32

    var key: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd)) }
}

/// One thread running epoll for every IPC socket of the process, plus timers and posted tasks, on an
/// ``EpollLoopCore``; what it adds is the table of handlers, each registration with its generation.
///
/// Only the loop thread reads sockets and runs handlers, timers and tasks; any thread may register,
/// schedule or post. Writes happen on the thread that sends (see `SocketChannel`), so a reply leaves the
/// process without a thread hop; the loop only takes over a write the kernel could not take at once.
package final class EventLoop: Sendable {
    /// The process-wide loop, created on first use.
    package static let shared: Result<EventLoop, SocketError> = Result { () throws(SocketError) in try EventLoop() }

    private struct Handlers {
        var table: [Int32: (generation: UInt32, handler: any LoopHandler)] = [:]
        var nextGeneration: UInt32 = 0
    }

    private let core: EpollLoopCore
    private let handlers = Mutex(Handlers())

    /// Receive buffer shared by every socket; touched only on the loop thread.
    package var scratch: UnsafeMutableRawBufferPointer { core.readBuffer }

    private init() throws(SocketError) {
        core = try EpollLoopCore()
        try core.start(name: "ipc-loop") { [self] in
            var ready: [(handler: any LoopHandler, events: UInt32)] = []
            ready.reserveCapacity(EpollLoopCore.maxEvents)
            core.run { events in dispatch(events, through: &ready) }
        }
    }

    // MARK: Registration

    /// Starts watching `fd` for `events`, calling `handler` on the loop thread.
    package func register(fd: Int32, events: UInt32, handler: any LoopHandler) throws -> LoopRegistration {
        let registration = handlers.withLock { handlers in
            handlers.nextGeneration &+= 1
            if handlers.nextGeneration == UInt32.max { handlers.nextGeneration = 1 }
            let registration = LoopRegistration(fd: fd, generation: handlers.nextGeneration)
            handlers.table[fd] = (registration.generation, handler)
            return registration
        }
        do {
            try core.add(fd, events: events, token: registration.key)
        } catch {
            dropHandler(registration)
            throw error
        }
        return registration
    }

    /// Changes the events watched for a registration.
    package func modify(_ registration: LoopRegistration, events: UInt32) {
        core.modify(registration.fd, events: events, token: registration.key)
    }

    /// Stops watching; the handler may still be called once for events already taken.
    package func deregister(_ registration: LoopRegistration) {
        core.remove(registration.fd)
        dropHandler(registration)
    }

    private func dropHandler(_ registration: LoopRegistration) {
        handlers.withLock { handlers in
            if handlers.table[registration.fd]?.generation == registration.generation {
                handlers.table[registration.fd] = nil
            }
        }
    }

    /// Calls the handlers of a batch of events, outside the lock; a stale event (an older registration
    /// of a reused fd number) is dropped.
    private func dispatch(
        _ events: UnsafeMutableBufferPointer<epoll_event>, through ready: inout [(handler: any LoopHandler, events: UInt32)]
    ) {
        handlers.withLock { handlers in
            for event in events {
                let key = event.data.u64
                let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: key))
                let generation = UInt32(truncatingIfNeeded: key >> 32)
                if let entry = handlers.table[fd], entry.generation == generation {
                    ready.append((entry.handler, event.events))
                }
            }
        }
        for (handler, bits) in ready {
            handler.handleEvents(bits)
        }
        ready.removeAll(keepingCapacity: true)
    }

    // MARK: Tasks and timers

    /// Runs `task` on the loop thread soon.
    package func execute(_ task: @escaping @Sendable () -> Void) {
        core.execute(task)
    }

    /// Runs `action` on the loop thread at `deadline` (monotonic nanoseconds) unless cancelled first.
    @discardableResult
    package func schedule(at deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> LoopTimer {
        core.schedule(at: deadline, action)
    }

    /// Runs `action` on the loop thread after `nanoseconds`.
    @discardableResult
    package func schedule(afterNanoseconds nanoseconds: UInt64, _ action: @escaping @Sendable () -> Void) -> LoopTimer {
        core.schedule(at: MonotonicClock.now() &+ nanoseconds, action)
    }

    /// Cancels a timer; harmless when it already fired.
    package func cancel(_ timer: LoopTimer) {
        core.cancel(timer)
    }
}
