import Basics
import CLinux
import Glibc
import Synchronization

/// Something the event loop calls when its file descriptor is ready.
package protocol LoopHandler: AnyObject, Sendable {
    /// Called on the loop thread with the epoll event bits.
    func handleEvents(_ events: UInt32)
    /// Called on the loop thread when the loop is about to end for good (an attached loop whose host
    /// stops): close now, so that nothing waits on events that will never come.
    func loopEnding()
}

/// A file descriptor's place in the loop. The generation tells a new registration of a reused fd number
/// from a stale event of the old one.
package struct LoopRegistration: Sendable, Hashable {
    let fd: Int32
    let generation: UInt32

    var key: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd)) }
}

/// IPC's table of handlers on an ``EpollLoopCore``, each registration with its generation: either the
/// process-wide loop (``shared``, a thread of its own), or a loop *attached* to another loop's core (an
/// HTTP loop's), whose thread hands it the events of IPC sockets. An IPC client called on an attached
/// loop's thread reads its replies on that same thread, so a reply resumes the waiting handler with no
/// wake-up of another thread (``current``).
///
/// Only the loop thread reads sockets and runs handlers, timers and tasks; any thread may register,
/// schedule or post. Writes happen on the thread that sends (see `SocketChannel`), so a reply leaves the
/// process without a thread hop; the loop only takes over a write the kernel could not take at once.
package final class EventLoop: Sendable {
    /// The process-wide loop, created on first use.
    package static let shared: Result<EventLoop, SocketError> = Result { () throws(SocketError) in try EventLoop() }

    /// The high bit of an attached loop's registration generations: the host loop tells IPC's events from
    /// its own by it (``isAttachedToken(_:)``); the host keeps its own tokens' high bit clear.
    package static let attachedGeneration: UInt32 = 0x8000_0000

    /// Whether an epoll token of a host loop belongs to the IPC loop attached to it.
    @inline(__always)
    package static func isAttachedToken(_ token: UInt64) -> Bool {
        UInt32(truncatingIfNeeded: token >> 32) & attachedGeneration != 0
    }

    /// The attached loop whose thread is the caller's, if any (set by ``bindToCurrentThread()``).
    package static var current: EventLoop? {
        guard let pointer = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        // Without a key every thread simply has no current loop; calls then take the shared one.
        _ = pthread_key_create(&key, nil)
        return key
    }()

    private struct Handlers {
        var table: [Int32: (generation: UInt32, handler: any LoopHandler)] = [:]
        var nextGeneration: UInt32 = 0
    }

    private let core: EpollLoopCore
    private let handlers = Mutex(Handlers())
    /// Set on registrations' generations: 0 for the shared loop, ``attachedGeneration`` when attached.
    private let generationTag: UInt32

    /// Receive buffer shared by every socket; touched only on the loop thread.
    package var scratch: UnsafeMutableRawBufferPointer { core.readBuffer }

    private init() throws(SocketError) {
        core = try EpollLoopCore()
        generationTag = 0
        try core.start(name: "ipc-loop") { [self] in
            var ready: [(handler: any LoopHandler, events: UInt32)] = []
            ready.reserveCapacity(EpollLoopCore.maxEvents)
            core.run { events in dispatch(events, through: &ready) }
        }
    }

    /// An IPC loop on `core`, whose owner runs the thread: it passes each event whose token
    /// ``isAttachedToken(_:)`` to ``handle(_:)``, and calls ``bindToCurrentThread()`` on its thread.
    package init(attachedTo core: EpollLoopCore) {
        self.core = core
        generationTag = Self.attachedGeneration
    }

    /// Makes this loop ``current`` on the calling thread (an attached loop's host thread, at its start).
    package func bindToCurrentThread() {
        _ = pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Clears ``current`` on the calling thread (the host thread, as its loop ends).
    package static func unbindCurrentThread() {
        _ = pthread_setspecific(currentKey, nil)
    }

    /// Whether the caller runs on this loop's thread.
    package var inLoop: Bool { core.inLoop }

    /// The loop's core as a task executor: a task that prefers it runs on the loop's thread, where the
    /// events it awaits are read.
    package var executor: any TaskExecutor { core }

    /// Tells every handler the loop is ending (``LoopHandler/loopEnding()``), on the loop's thread, before
    /// its host runs the last work and finishes the core.
    package func closeAll() {
        let all = handlers.withLock { handlers in handlers.table.values.map(\.handler) }
        for handler in all { handler.loopEnding() }
    }

    /// Calls the handler of one event of an attached loop (on the host loop's thread); a stale event is
    /// dropped.
    package func handle(_ event: epoll_event) {
        let key = event.data.u64
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: key))
        let generation = UInt32(truncatingIfNeeded: key >> 32)
        let handler = handlers.withLock { handlers -> (any LoopHandler)? in
            guard let entry = handlers.table[fd], entry.generation == generation else { return nil }
            return entry.handler
        }
        handler?.handleEvents(event.events)
    }

    // MARK: Registration

    /// Starts watching `fd` for `events`, calling `handler` on the loop thread.
    package func register(fd: Int32, events: UInt32, handler: any LoopHandler) throws -> LoopRegistration {
        let registration = handlers.withLock { handlers in
            handlers.nextGeneration &+= 1
            // Below the tag bit, and never all ones (a host's own tokens, like the eventfd's, use that).
            if handlers.nextGeneration >= Self.attachedGeneration - 1 { handlers.nextGeneration = 1 }
            let registration = LoopRegistration(fd: fd, generation: handlers.nextGeneration | generationTag)
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
