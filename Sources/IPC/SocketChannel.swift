import Basics
import Glibc
import Reactor
import Synchronization
import Wire

/// Why a channel closed.
enum ChannelCloseReason: Sendable, CustomStringConvertible {
    /// The peer closed its end.
    case endOfFile
    /// A system call failed.
    case systemError(operation: String, errno: Int32)
    /// This side closed it, for the reason given.
    case local(String)

    var description: String {
        switch self {
        case .endOfFile: "closed by peer"
        case let .systemError(operation, code): "\(operation): \(String(cString: strerror(code)))"
        case let .local(reason): reason
        }
    }
}

/// Receives what a channel reads. Every method is called on the loop thread.
protocol ChannelDelegate: AnyObject, Sendable {
    /// A complete frame arrived.
    func channel(_ channel: SocketChannel, didReceive frame: Frame)
    /// The byte stream is not valid framing; the channel has stopped reading.
    func channel(_ channel: SocketChannel, didFailDecoding error: WireError)
    /// The descriptor is closed; called exactly once.
    func channelDidClose(_ channel: SocketChannel, reason: ChannelCloseReason)
}

/// One connected, non-blocking stream socket: frames in, bytes out.
///
/// Reading happens on the loop thread only. Writing happens on whichever thread sends: frames are appended
/// to an outbox under a lock, and the first sender to find no write in progress becomes the *flusher* and
/// writes the outbox (and whatever others append meanwhile) with as few `send` calls as possible. When the
/// kernel buffer is full the loop takes over on EPOLLOUT. The descriptor is closed on the loop thread once
/// no flusher is active, so no thread ever writes to a closed (or reused) descriptor.
final class SocketChannel: LoopHandler {
    /// Result of appending to the outbox.
    enum Enqueued {
        /// The caller became the flusher and must call ``flush()`` (outside its own locks).
        case mustFlush
        /// Another thread is writing and will take the bytes.
        case queued
        /// The channel is closing; the bytes were dropped.
        case closed
    }

    private struct IOState {
        var outbox: [UInt8] = []
        /// A thread is writing, or the loop waits for EPOLLOUT to continue.
        var flushing = false
        /// The flusher is parked until the socket is writable.
        var waitingWritable = false
        /// No more frames are accepted.
        var closing = false
        /// Pending output is discarded (hard close).
        var dropOutput = false
        var teardownScheduled = false
        var reading = true
        /// While the loop dispatches a batch of frames, answers pile up and go out in one `send` after it.
        var corked = false
        var registration: LoopRegistration?
        var closeReason: ChannelCloseReason?
    }

    /// The socket.
    let fd: Int32
    private let loop: EventLoop
    private let maxOutbox: Int
    private let io = Mutex(IOState())
    private let readStopped = Atomic<Bool>(false)
    /// Set before ``start()``, read on the loop thread, cleared at teardown.
    nonisolated(unsafe) weak var delegate: (any ChannelDelegate)?
    /// Touched only on the loop thread.
    nonisolated(unsafe) private var decoder: FrameDecoder

    /// How long a close that waits for output to drain may take before output is dropped.
    private static let flushOnCloseTimeout: UInt64 = 2_000_000_000

    /// Wraps a connected socket, which the channel now owns.
    /// - Parameters:
    ///   - fd: Connected stream socket.
    ///   - loop: The loop that reads it.
    ///   - maxPayload: Largest frame payload accepted from the peer.
    ///   - maxOutbox: Output bytes allowed to pile up before the peer is deemed stuck and dropped.
    ///   - acceptedFlags: ``FrameFlags`` bits the peer's frames may carry (a server: those a client may
    ///     negotiate; a client: none).
    init(fd: Int32, loop: EventLoop, maxPayload: Int, maxOutbox: Int, acceptedFlags: UInt16 = 0) {
        self.fd = fd
        self.loop = loop
        self.maxOutbox = maxOutbox
        self.decoder = FrameDecoder(maxPayload: maxPayload, acceptedFlags: acceptedFlags)
    }

    /// Makes the socket non-blocking and starts reading. On failure the socket is closed.
    func start() throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            let error = SocketError(operation: "fcntl(O_NONBLOCK)", errno: errno)
            abandon()
            throw error
        }
        do {
            let registration = try loop.register(
                fd: fd, events: PollEvents.readable | PollEvents.readHangup, handler: self)
            io.withLock { $0.registration = registration }
        } catch {
            abandon()
            throw error
        }
    }

    /// Closes the socket of a channel that failed to start, unless a ``close(_:flushFirst:)`` from another
    /// thread got there first and its teardown will: a descriptor is closed once, never twice (a second
    /// close could hit whatever another thread opened under the same number meanwhile).
    private func abandon() {
        readStopped.store(true, ordering: .relaxed)
        let mine = io.withLock { state -> Bool in
            state.closing = true
            guard !state.teardownScheduled else { return false }
            state.teardownScheduled = true
            return true
        }
        if mine { Glibc.close(fd) }
    }

    // MARK: Sending

    /// Appends bytes to the outbox; call ``flush()`` when told to, after releasing any lock of your own.
    /// - Parameter body: Appends whole frames to the buffer it is given.
    func enqueue(_ body: (inout [UInt8]) -> Void) -> Enqueued {
        let (result, teardown) = io.withLock { state -> (Enqueued, Bool) in
            guard !state.closing else { return (.closed, false) }
            body(&state.outbox)
            if state.outbox.count > maxOutbox {
                state.closeReason = .local("peer is not reading: over \(maxOutbox) bytes of output pending")
                return (.closed, Self.beginClose(&state, flushFirst: false, loop: loop))
            }
            guard !state.flushing && !state.corked else { return (.queued, false) }
            state.flushing = true
            return (.mustFlush, false)
        }
        if result == .closed { readStopped.store(true, ordering: .relaxed) }
        if teardown { scheduleTeardown() }
        return result
    }

    /// Appends bytes and writes them if no other thread is writing.
    /// - Returns: false when the channel is closing and the bytes were dropped.
    @discardableResult
    func send(_ body: (inout [UInt8]) -> Void) -> Bool {
        switch enqueue(body) {
        case .mustFlush:
            flush()
            return true
        case .queued:
            return true
        case .closed:
            return false
        }
    }

    /// ``flush()`` for a caller told to flush: at once off the loop's thread; on it, once the loop has run
    /// the rest of this turn's work, so that the frames every handler of the turn sends on this channel
    /// leave in one `send` (the channel counts as being flushed meanwhile, so they queue behind this one).
    func flushSoon() {
        if loop.inLoop {
            loop.execute { [self] in flush() }
        } else {
            flush()
        }
    }

    /// Writes the outbox until it is empty or the kernel is full. Only the flusher calls this.
    func flush() {
        var batch: [UInt8] = []
        while true {
            let proceed = io.withLock { state -> Bool in
                if state.dropOutput || state.outbox.isEmpty {
                    state.outbox.removeAll(keepingCapacity: !state.dropOutput)
                    state.flushing = false
                    return false
                }
                swap(&batch, &state.outbox)
                return true
            }
            guard proceed else { break }

            var written = 0
            var failure: Int32 = 0
            batch.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                while written < raw.count {
                    let result = Glibc.send(fd, base + written, raw.count - written, Int32(MSG_NOSIGNAL))
                    if result > 0 {
                        written += result
                    } else if result < 0 && errno == EINTR {
                        continue
                    } else {
                        failure = result < 0 ? errno : EPIPE
                        return
                    }
                }
            }
            if written == batch.count {
                // Keep the buffer's capacity for the next swap, unless a burst made it huge.
                if batch.capacity > 4 << 20 { batch = [] } else { batch.removeAll(keepingCapacity: true) }
                continue
            }
            if failure == EAGAIN || failure == EWOULDBLOCK {
                let parked = io.withLock { state -> Bool in
                    guard !state.dropOutput else {
                        state.flushing = false
                        return false
                    }
                    state.outbox.insert(contentsOf: batch[written...], at: 0)
                    state.waitingWritable = true
                    updateInterest(state)
                    return true
                }
                if parked { return }
                break
            }
            io.withLock { state in
                if state.closeReason == nil { state.closeReason = .systemError(operation: "send", errno: failure) }
                state.closing = true
                state.dropOutput = true
                state.outbox = []
                state.flushing = false
            }
            break
        }
        if io.withLock({ Self.teardownDue(&$0) }) { scheduleTeardown() }
    }

    // MARK: Closing

    /// Closes the channel.
    /// - Parameters:
    ///   - reason: Why (reported to the delegate).
    ///   - flushFirst: Write what is queued first (bounded by a timeout), e.g. after an ERROR frame.
    func close(_ reason: ChannelCloseReason, flushFirst: Bool = false) {
        readStopped.store(true, ordering: .relaxed)
        let teardown = io.withLock { state -> Bool in
            if state.closeReason == nil { state.closeReason = reason }
            return Self.beginClose(&state, flushFirst: flushFirst, loop: loop)
        }
        if teardown {
            scheduleTeardown()
        } else if flushFirst {
            loop.schedule(afterNanoseconds: Self.flushOnCloseTimeout) { [self] in
                close(reason, flushFirst: false)
            }
        }
    }

    /// Whether the channel still accepts frames.
    var isOpen: Bool { io.withLock { !$0.closing } }

    private static func beginClose(_ state: inout IOState, flushFirst: Bool, loop: EventLoop) -> Bool {
        state.closing = true
        if !flushFirst {
            state.dropOutput = true
            state.outbox = []
            if state.waitingWritable {
                // The parked flusher is not writing; the loop would resume it, but there is nothing to write.
                state.waitingWritable = false
                state.flushing = false
            }
        }
        if state.reading, let registration = state.registration {
            state.reading = false
            loop.modify(registration, events: state.waitingWritable ? PollEvents.writable : 0)
        }
        return teardownDue(&state)
    }

    private static func teardownDue(_ state: inout IOState) -> Bool {
        guard state.closing, !state.flushing, !state.teardownScheduled,
              state.outbox.isEmpty || state.dropOutput
        else { return false }
        state.teardownScheduled = true
        return true
    }

    private func scheduleTeardown() {
        loop.execute { [self] in teardown() }
    }

    /// Closes the descriptor; runs on the loop thread, once no flusher is active.
    private func teardown() {
        let (registration, reason) = io.withLock { state in
            let registration = state.registration
            state.registration = nil
            return (registration, state.closeReason ?? .local("closed"))
        }
        if let registration { loop.deregister(registration) }
        Glibc.close(fd)
        decoder = FrameDecoder(maxPayload: 0)
        let delegate = self.delegate
        self.delegate = nil
        delegate?.channelDidClose(self, reason: reason)
    }

    private func updateInterest(_ state: IOState) {
        guard let registration = state.registration else { return }
        var events: UInt32 = 0
        if state.reading { events |= PollEvents.readable | PollEvents.readHangup }
        if state.waitingWritable { events |= PollEvents.writable }
        loop.modify(registration, events: events)
    }

    // MARK: Loop events

    /// The loop ends for good: close at once (the teardown runs in the loop's last work).
    package func loopEnding() {
        close(.local("the event loop stopped"))
    }

    package func handleEvents(_ events: UInt32) {
        if events & PollEvents.writable != 0 {
            let resume = io.withLock { state -> Bool in
                guard state.waitingWritable else { return false }
                state.waitingWritable = false
                updateInterest(state)
                return true
            }
            if resume { flush() }
        }
        if readStopped.load(ordering: .relaxed) {
            // Not reading any more: a hang-up now means nothing more can be written either.
            if events & (PollEvents.hangup | PollEvents.error) != 0 {
                close(.endOfFile)
            }
            return
        }
        if events & (PollEvents.readable | PollEvents.readHangup | PollEvents.hangup | PollEvents.error) != 0 {
            readAvailable()
        }
    }

    private func readAvailable() {
        let scratch = loop.scratch
        guard let base = scratch.baseAddress, let delegate else { return }
        // A few reads per wake-up, so one busy peer cannot starve the others.
        for _ in 0..<8 {
            let count = recv(fd, base, scratch.count, 0)
            if count > 0 {
                decoder.feed(UnsafeRawBufferPointer(start: base, count: count))
                cork()
                defer { uncork() }
                while !readStopped.load(ordering: .relaxed) {
                    let frame: Frame?
                    do {
                        frame = try decoder.next()
                    } catch let error as WireError {
                        stopReading()
                        delegate.channel(self, didFailDecoding: error)
                        return
                    } catch {
                        stopReading()
                        delegate.channel(self, didFailDecoding: WireError.invalid("\(error)"))
                        return
                    }
                    guard let frame else { break }
                    delegate.channel(self, didReceive: frame)
                }
                if count < scratch.count || readStopped.load(ordering: .relaxed) { return }
            } else if count == 0 {
                close(.endOfFile)
                return
            } else {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { return }
                close(.systemError(operation: "recv", errno: code))
                return
            }
        }
    }

    private func cork() {
        io.withLock { $0.corked = true }
    }

    /// Writes what the batch of frames produced, unless another thread is already writing.
    private func uncork() {
        let mustFlush = io.withLock { state -> Bool in
            state.corked = false
            guard !state.flushing, !state.closing || !state.dropOutput, !state.outbox.isEmpty else { return false }
            state.flushing = true
            return true
        }
        if mustFlush { flush() }
    }

    /// Stops reading; on the loop thread no frame is delivered after this returns.
    func stopReading() {
        readStopped.store(true, ordering: .relaxed)
        io.withLock { state in
            guard state.reading else { return }
            state.reading = false
            updateInterest(state)
        }
    }
}
