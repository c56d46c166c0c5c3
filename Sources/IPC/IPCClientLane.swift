import Basics
import Glibc
import Reactor
import Synchronization
import Wire

/// One multiplexed connection of an ``IPCClient``, read on one ``EventLoop``: the client's behaviour
/// (HELLO, many calls in flight, reconnect with backoff inside each call's deadline, cancellation,
/// streams) is all here; ``IPCClient`` picks the lane of the loop its caller runs on.
final class IPCClientLane: Sendable {
    /// First reconnect delay.
    static let initialBackoffNanoseconds: UInt64 = 5_000_000
    /// Longest reconnect delay.
    static let maxBackoffNanoseconds: UInt64 = 200_000_000

    /// The daemon's socket.
    let path: String
    /// The protocol named in HELLO, e.g. `infer.limitd`.
    let protocolName: String
    /// The protocol version named in HELLO.
    let version: UInt16
    /// Largest frame payload either way.
    let maxFrame: Int

    private enum Phase {
        /// No connection and none wanted (nothing queued).
        case idle
        /// A connect attempt is under way.
        case connecting
        /// Waiting to retry connecting.
        case backoff
        /// Connected, HELLO sent, waiting for HELLO_ACK.
        case handshaking
        /// Requests go out on `current`.
        case ready
    }

    private enum Sink {
        case unary(UnsafeContinuation<[UInt8], any Error>)
        case stream(AsyncThrowingStream<[UInt8], any Error>.Continuation)
    }

    private struct Pending {
        var sink: Sink
        var type: UInt16
        var payload: [UInt8]
        var deadline: UInt64
        /// The caller's trace context, written when the connection negotiated it.
        var trace: TraceContext?
        /// The connection the request was written to; nil while it waits for one.
        var sentOn: SocketChannel?
    }

    private struct State {
        var pending: [UInt64: Pending] = [:]
        /// CHUNK payloads received for unary calls, joined when END arrives.
        var collected: [UInt64: [UInt8]] = [:]
        var current: SocketChannel?
        var phase = Phase.idle
        var backoff = IPCClientLane.initialBackoffNanoseconds
        var lastFailure: String?
        var closed = false
        /// One timer per client, due at the earliest deadline (re-armed by each sweep), rather than one per
        /// request: with equal timeouts a new request's deadline is never the earliest, so the hot path
        /// never touches the loop's timer heap.
        var sweepTimer: LoopTimer?
        var sweepDeadline = UInt64.max
        /// Whether the next HELLO offers features: false after a server from before them refused the
        /// offer, until a connection that worked is lost (the server may have been upgraded meanwhile).
        var offerFeatures = true
        /// Whether the HELLO on `current` offered features.
        var offeredOnCurrent = false
        /// Whether `current` agreed to carry trace context.
        var tracesOnCurrent = false

        var hasQueued: Bool { pending.values.contains { $0.sentOn == nil } }
    }

    private let loop: Result<EventLoop, SocketError>
    private let state = Mutex(State())
    private let correlations = Atomic<UInt64>(1)
    /// HELLO offering this client's features, and the version 1 HELLO for a server from before them.
    private let helloFrame: [UInt8]
    private let plainHelloFrame: [UInt8]
    private let maxOutputBuffer: Int
    /// Most bytes of CHUNKs collected for one unary call.
    private let maxCollected: Int

    /// Creates a client; nothing is connected until the first call.
    /// - Parameters:
    ///   - path: The daemon's socket.
    ///   - protocolName: The protocol the daemon must serve, e.g. `infer.limitd`.
    ///   - version: The protocol version.
    ///   - maxFrame: Largest frame payload either way (default 1 MiB; must match the server's).
    ///   - loop: The loop that reads the connection (and runs its timers).
    init(path: String, protocolName: String, version: UInt16, maxFrame: Int, loop: Result<EventLoop, SocketError>) {
        self.path = path
        self.protocolName = protocolName
        self.version = version
        self.maxFrame = maxFrame
        self.maxOutputBuffer = max(64 << 20, maxFrame * 16)
        self.maxCollected = max(64 << 20, maxFrame * 64)
        self.loop = loop
        self.helloFrame = FrameEncoder.encode(Frame(
            kind: .hello,
            payload: HelloPayload(name: protocolName, version: version, features: ProtocolFeatures.supported).encoded()))
        self.plainHelloFrame = FrameEncoder.encode(
            Frame(kind: .hello, payload: HelloPayload(name: protocolName, version: version).encoded()))
    }

    deinit {
        state.withLock { $0.current }?.close(.local("client released"))
    }

    // MARK: Calls

    /// Sends a request and waits for its single answer.
    ///
    /// A REPLY's payload is returned; a streamed answer (CHUNKs then END) is returned joined.
    /// - Parameters:
    ///   - type: Message type.
    ///   - payload: Request payload (at most `maxFrame - 4` bytes).
    ///   - timeout: How long to wait in all, including connecting; the server sees it as the call's deadline.
    /// - Returns: The answer's payload.
    /// - Throws: ``IPCError``, or `CancellationError` when the task is cancelled (CANCEL is sent).
    func call(type: UInt16, payload: [UInt8], timeout: Duration) async throws -> [UInt8] {
        let loop = try loopForCall(payload: payload)
        let deadline = MonotonicClock.now() &+ timeout.clampedNanoseconds
        let correlation = nextCorrelation()
        let trace = TraceContext.current
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                submit(correlation, type: type, payload: payload, deadline: deadline, trace: trace, sink: .unary(continuation),
                       loop: loop)
                // Cancelled before the request was registered: the handler below found nothing to cancel.
                if Task.isCancelled { abort(correlation, error: CancellationError()) }
            }
        } onCancel: {
            abort(correlation, error: CancellationError())
        }
    }

    /// Sends a request whose answer is streamed.
    ///
    /// Yields each CHUNK's payload; END finishes the stream, yielding its payload first when it is not
    /// empty. A single REPLY is yielded as one element. Ending iteration early (or cancelling the consuming
    /// task) sends CANCEL. Pieces wait in the stream's buffer while the consumer lags; the server's pace
    /// and the timeout bound how many.
    /// - Parameters:
    ///   - type: Message type.
    ///   - payload: Request payload.
    ///   - timeout: How long the whole stream may take, until END.
    /// - Returns: The stream of payloads; it throws ``IPCError`` on failure.
    func stream(type: UInt16, payload: [UInt8], timeout: Duration) -> AsyncThrowingStream<[UInt8], any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: [UInt8].self, throwing: (any Error).self)
        let loop: EventLoop
        do {
            loop = try loopForCall(payload: payload)
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        let deadline = MonotonicClock.now() &+ timeout.clampedNanoseconds
        let correlation = nextCorrelation()
        continuation.onTermination = { [self] termination in
            if case .cancelled = termination {
                abort(correlation, error: CancellationError())
            }
        }
        submit(correlation, type: type, payload: payload, deadline: deadline, trace: TraceContext.current,
               sink: .stream(continuation), loop: loop)
        return stream
    }

    /// Fails every waiting request and closes the connection; later calls fail with ``IPCError/unavailable(_:)``.
    func close() {
        let (requests, channels) = state.withLock { state in
            state.closed = true
            state.phase = .idle
            var channels: [SocketChannel] = state.current.map { [$0] } ?? []
            state.current = nil
            let requests = Array(state.pending.values)
            for request in requests {
                if let channel = request.sentOn, !channels.contains(where: { $0 === channel }) {
                    channels.append(channel)
                }
            }
            state.pending.removeAll()
            state.collected.removeAll()
            return (requests, channels)
        }
        for request in requests {
            finish(request, throwing: request.sentOn == nil ? IPCError.unavailable("client closed") : .connectionLost)
        }
        for channel in channels {
            channel.close(.local("client closed"))
        }
    }

    /// Requests waiting for an answer (sent or not).
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Whether a greeted connection is open now.
    var isConnected: Bool { state.withLock { $0.phase == .ready } }

    // MARK: Submitting

    private func loopForCall(payload: [UInt8]) throws -> EventLoop {
        guard payload.count <= maxFrame - RequestPrefix.size else {
            throw IPCError.protocolViolation(
                "request payload of \(payload.count) bytes exceeds the frame limit of \(maxFrame - RequestPrefix.size)")
        }
        switch loop {
        case let .success(loop): return loop
        case let .failure(error): throw IPCError.unavailable("no event loop: \(error)")
        }
    }

    private func nextCorrelation() -> UInt64 {
        correlations.add(1, ordering: .relaxed).oldValue
    }

    private enum NextStep {
        case nothing
        case flush(SocketChannel)
        case connect
        case fail(IPCError)
    }

    private func submit(
        _ correlation: UInt64, type: UInt16, payload: [UInt8], deadline: UInt64, trace: TraceContext?, sink: Sink,
        loop: EventLoop
    ) {
        let maxFrame = maxFrame
        let next = state.withLock { state -> NextStep in
            guard !state.closed else { return .fail(.unavailable("client closed")) }
            var pending = Pending(sink: sink, type: type, payload: payload, deadline: deadline, trace: trace)
            armSweep(&state, for: deadline, loop)
            var next = NextStep.nothing
            if state.phase == .ready, let channel = state.current {
                let trace = state.tracesOnCurrent ? trace : nil
                let enqueued = channel.enqueue { buffer in
                    Self.appendRequest(correlation, type: type, payload: payload, deadline: deadline, trace: trace,
                                       maxFrame: maxFrame, to: &buffer)
                }
                switch enqueued {
                case .mustFlush:
                    pending.sentOn = channel
                    next = .flush(channel)
                case .queued:
                    pending.sentOn = channel
                case .closed:
                    break  // stays queued; the channel's close reconnects
                }
            } else if state.phase == .idle {
                state.phase = .connecting
                next = .connect
            }
            state.pending[correlation] = pending
            return next
        }
        switch next {
        case .nothing: break
        // Calls made in one turn of the loop (an HTTP loop's requests) leave in one send.
        case let .flush(channel): channel.flushSoon()
        case .connect: connect(loop)
        case let .fail(error): Self.resume(sink, throwing: error)
        }
    }

    /// Appends a REQUEST frame: header, the trace-context block when there is a trace to carry (and room
    /// for it under `maxFrame`), remaining timeout in milliseconds, payload.
    private static func appendRequest(
        _ correlation: UInt64, type: UInt16, payload: [UInt8], deadline: UInt64, trace: TraceContext?, maxFrame: Int,
        to buffer: inout [UInt8]
    ) {
        let now = MonotonicClock.now()
        // Rounded up so a live request never reads as "no deadline" (0); capped to the field.
        let milliseconds = deadline > now ? min((deadline - now + 999_999) / 1_000_000, UInt64(UInt32.max)) : 1
        var block = trace?.encoded() ?? []
        if block.count + RequestPrefix.size + payload.count > maxFrame { block = [] }
        FrameEncoder.appendHeader(
            kind: .request, type: type, correlation: correlation, flags: block.isEmpty ? 0 : FrameFlags.traceContext,
            payloadLength: block.count + RequestPrefix.size + payload.count, to: &buffer)
        buffer.append(contentsOf: block)
        withUnsafeBytes(of: UInt32(milliseconds).bigEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: payload)
    }

    private static func appendCancel(_ correlation: UInt64, to buffer: inout [UInt8]) {
        FrameEncoder.appendHeader(kind: .cancel, type: 0, correlation: correlation, payloadLength: 0, to: &buffer)
    }

    // MARK: Ending requests

    /// Makes sure the sweep timer fires by `deadline`.
    private func armSweep(_ state: inout State, for deadline: UInt64, _ loop: EventLoop) {
        guard deadline < state.sweepDeadline else { return }
        if let timer = state.sweepTimer { loop.cancel(timer) }
        state.sweepDeadline = deadline
        state.sweepTimer = loop.schedule(at: deadline) { [weak self] in self?.sweep(loop) }
    }

    /// Fails the requests whose deadline passed and re-arms for the earliest left (on the loop thread).
    private func sweep(_ loop: EventLoop) {
        let expired = state.withLock { state -> [(UInt64, Pending, IPCError)] in
            state.sweepTimer = nil
            state.sweepDeadline = UInt64.max
            let now = MonotonicClock.now()
            var expired: [(UInt64, Pending, IPCError)] = []
            var earliest = UInt64.max
            for (correlation, pending) in state.pending {
                if pending.deadline <= now {
                    let error = pending.sentOn != nil
                        ? IPCError.timeout : .unavailable(Self.unavailableReason(state, path))
                    expired.append((correlation, pending, error))
                } else {
                    earliest = min(earliest, pending.deadline)
                }
            }
            for (correlation, _, _) in expired {
                state.pending[correlation] = nil
                state.collected[correlation] = nil
            }
            if earliest != UInt64.max { armSweep(&state, for: earliest, loop) }
            return expired
        }
        for (correlation, pending, error) in expired {
            pending.sentOn?.send { Self.appendCancel(correlation, to: &$0) }
            finish(pending, throwing: error)
        }
    }

    /// The caller gave up (task cancelled, stream dropped).
    private func abort(_ correlation: UInt64, error: any Error) {
        let taken = state.withLock { state -> Pending? in
            state.collected[correlation] = nil
            return state.pending.removeValue(forKey: correlation)
        }
        guard let pending = taken else { return }
        pending.sentOn?.send { Self.appendCancel(correlation, to: &$0) }
        finish(pending, throwing: error)
    }

    private static func unavailableReason(_ state: State, _ path: String) -> String {
        if let failure = state.lastFailure { return failure }
        if state.phase == .handshaking { return "no HELLO_ACK from \(path) before the deadline" }
        return "not connected to \(path) before the deadline"
    }

    private func finish(_ pending: Pending, throwing error: any Error) {
        Self.resume(pending.sink, throwing: error)
    }

    private static func resume(_ sink: Sink, throwing error: any Error) {
        switch sink {
        case let .unary(continuation): continuation.resume(throwing: error)
        case let .stream(continuation): continuation.finish(throwing: error)
        }
    }

    /// Removes the requests written to `channel`.
    private func takeSent(on channel: SocketChannel, _ state: inout State) -> [Pending] {
        var taken: [Pending] = []
        for (correlation, pending) in state.pending where pending.sentOn === channel {
            taken.append(pending)
            state.pending[correlation] = nil
            state.collected[correlation] = nil
        }
        return taken
    }

    private func fail(_ requests: [Pending], with error: IPCError) {
        for request in requests { finish(request, throwing: error) }
    }

    // MARK: Connecting

    private func connect(_ loop: EventLoop) {
        let fd: Int32
        switch UnixSocket.connect(path: path, nonBlocking: true) {
        case let .failure(error):
            return connectFailed(error.description, loop)
        case let .success(descriptor):
            fd = descriptor
        }
        let channel = SocketChannel(fd: fd, loop: loop, maxPayload: maxFrame, maxOutbox: maxOutputBuffer)
        channel.delegate = self
        let proceed = state.withLock { state -> Bool? in
            guard !state.closed, state.phase == .connecting else { return nil }
            state.current = channel
            state.phase = .handshaking
            state.offeredOnCurrent = state.offerFeatures
            state.tracesOnCurrent = false
            return state.offerFeatures
        }
        guard let offer = proceed else {
            Glibc.close(fd)
            return
        }
        do {
            try channel.start()
        } catch {
            state.withLock { state in
                if state.current === channel {
                    state.current = nil
                    state.phase = .connecting
                }
            }
            return connectFailed("connect \(path): \(error)", loop)
        }
        let hello = offer ? helloFrame : plainHelloFrame
        channel.send { $0.append(contentsOf: hello) }
    }

    private func connectFailed(_ reason: String, _ loop: EventLoop) {
        let delay = state.withLock { state -> UInt64? in
            state.lastFailure = reason
            guard state.phase == .connecting else { return nil }
            return Self.scheduleRetry(&state)
        }
        if let delay { loop.schedule(afterNanoseconds: delay) { [self] in retryConnect(loop) } }
    }

    /// Moves to backoff when requests wait, else to idle; returns the delay to wait.
    private static func scheduleRetry(_ state: inout State) -> UInt64? {
        guard !state.closed, state.hasQueued else {
            state.phase = .idle
            return nil
        }
        state.phase = .backoff
        let delay = state.backoff
        state.backoff = min(state.backoff * 2, maxBackoffNanoseconds)
        return delay
    }

    /// What to do, once the lock is released, so that queued requests get going.
    private enum Kick {
        case none
        case flush(SocketChannel)
        case connectNow
        case retry(after: UInt64)
    }

    /// Writes the queued requests to the current connection when it is ready, or starts connecting when
    /// idle; in the other phases the handshake will send them.
    private static func kickQueued(_ state: inout State, maxFrame: Int) -> Kick {
        guard !state.closed, state.hasQueued else { return .none }
        switch state.phase {
        case .ready:
            guard let channel = state.current else { return .none }
            let queued = state.pending.filter { $0.value.sentOn == nil }.sorted { $0.key < $1.key }
            let traces = state.tracesOnCurrent
            let enqueued = channel.enqueue { buffer in
                for (correlation, request) in queued {
                    appendRequest(
                        correlation, type: request.type, payload: request.payload, deadline: request.deadline,
                        trace: traces ? request.trace : nil, maxFrame: maxFrame, to: &buffer)
                }
            }
            guard enqueued != .closed else { return .none }  // its close reconnects
            for (correlation, _) in queued {
                state.pending[correlation]?.sentOn = channel
            }
            return enqueued == .mustFlush ? .flush(channel) : .none
        case .idle:
            state.phase = .connecting
            return .connectNow
        case .connecting, .backoff, .handshaking:
            return .none
        }
    }

    /// The current connection is gone (its `current` already cleared): reconnect for queued requests —
    /// at once if it had worked (socket activation queues us in the backlog), else after a backoff step.
    private static func replaceCurrent(_ state: inout State, wasReady: Bool, maxFrame: Int) -> Kick {
        guard wasReady else {
            state.phase = .connecting
            return scheduleRetry(&state).map { .retry(after: $0) } ?? .none
        }
        // The next server may be another build (a restart, an upgrade): offer it the features again.
        state.offerFeatures = true
        state.phase = .idle
        return kickQueued(&state, maxFrame: maxFrame)
    }

    private func perform(_ kick: Kick) {
        guard case let .success(loop) = loop else { return }
        switch kick {
        case .none: break
        case let .flush(channel): channel.flush()
        case .connectNow: connect(loop)
        case let .retry(delay): loop.schedule(afterNanoseconds: delay) { [self] in retryConnect(loop) }
        }
    }

    private func retryConnect(_ loop: EventLoop) {
        let go = state.withLock { state -> Bool in
            guard state.phase == .backoff else { return false }
            guard !state.closed, state.hasQueued else {
                state.phase = .idle
                return false
            }
            state.phase = .connecting
            return true
        }
        if go { connect(loop) }
    }
}

// MARK: - Frames from the server

extension IPCClientLane: ChannelDelegate {
    func channel(_ channel: SocketChannel, didReceive frame: Frame) {
        switch frame.kind {
        case .reply, .end:
            complete(frame, on: channel)
        case .chunk:
            receiveChunk(frame, on: channel)
        case .error:
            if frame.correlation == 0 {
                receiveConnectionError(frame, on: channel)
            } else {
                receiveCallError(frame, on: channel)
            }
        case .helloAck:
            receiveHelloAck(frame, on: channel)
        case .hello, .request, .cancel:
            violation("unexpected \(frame.kind) frame from the server", on: channel)
        }
    }

    func channel(_ channel: SocketChannel, didFailDecoding error: WireError) {
        violation("undecodable frame from the server: \(error)", on: channel)
    }

    func channelDidClose(_ channel: SocketChannel, reason: ChannelCloseReason) {
        let (lost, kick) = state.withLock { state -> ([Pending], Kick) in
            let lost = takeSent(on: channel, &state)
            guard state.current === channel else { return (lost, .none) }
            let wasReady = state.phase == .ready
            state.current = nil
            if !wasReady {
                state.lastFailure = "connection to \(path) \(reason) before HELLO_ACK"
            }
            return (lost, Self.replaceCurrent(&state, wasReady: wasReady, maxFrame: maxFrame))
        }
        fail(lost, with: .connectionLost)
        perform(kick)
    }

    private func receiveHelloAck(_ frame: Frame, on channel: SocketChannel) {
        guard let ack = try? HelloPayload(decoding: frame.payload),
              ack.name == protocolName, ack.version == version
        else {
            return violation("HELLO_ACK does not echo \(protocolName)/\(version)", on: channel)
        }
        let maxFrame = maxFrame
        let kick = state.withLock { state -> Kick? in
            guard state.current === channel, state.phase == .handshaking else { return nil }
            state.phase = .ready
            state.tracesOnCurrent = (ack.features ?? 0) & ProtocolFeatures.traceContext != 0
            state.backoff = Self.initialBackoffNanoseconds
            state.lastFailure = nil
            return Self.kickQueued(&state, maxFrame: maxFrame)
        }
        guard let kick else { return violation("unexpected HELLO_ACK", on: channel) }
        perform(kick)
    }

    private func complete(_ frame: Frame, on channel: SocketChannel) {
        let correlation = frame.correlation
        let taken = state.withLock { state -> (Pending, [UInt8]?)? in
            guard state.pending[correlation]?.sentOn === channel else { return nil }
            guard let pending = state.pending.removeValue(forKey: correlation) else { return nil }
            return (pending, state.collected.removeValue(forKey: correlation))
        }
        guard let (pending, collected) = taken else { return }  // cancelled or timed out meanwhile
        switch pending.sink {
        case let .unary(continuation):
            if var collected {
                collected.append(contentsOf: frame.payload)
                continuation.resume(returning: collected)
            } else {
                continuation.resume(returning: frame.payload)
            }
        case let .stream(continuation):
            if !frame.payload.isEmpty { continuation.yield(frame.payload) }
            continuation.finish()
        }
    }

    private func receiveChunk(_ frame: Frame, on channel: SocketChannel) {
        let correlation = frame.correlation
        let maxCollected = maxCollected
        enum Outcome { case ignore, yield(AsyncThrowingStream<[UInt8], any Error>.Continuation), collected, overflow }
        let outcome = state.withLock { state -> Outcome in
            guard let pending = state.pending[correlation], pending.sentOn === channel else { return .ignore }
            if case let .stream(continuation) = pending.sink { return .yield(continuation) }
            let size = (state.collected[correlation]?.count ?? 0) + frame.payload.count
            guard size <= maxCollected else { return .overflow }
            state.collected[correlation, default: []].append(contentsOf: frame.payload)
            return .collected
        }
        switch outcome {
        case .ignore, .collected:
            break
        case let .yield(continuation):
            continuation.yield(frame.payload)
        case .overflow:
            let taken = state.withLock { state -> Pending? in
                state.collected[correlation] = nil
                return state.pending.removeValue(forKey: correlation)
            }
            guard let pending = taken else { return }
            channel.send { Self.appendCancel(correlation, to: &$0) }
            fail([pending], with: .protocolViolation("streamed answer exceeds \(maxCollected) bytes"))
        }
    }

    private func receiveCallError(_ frame: Frame, on channel: SocketChannel) {
        guard let error = try? ErrorPayload(decoding: frame.payload) else {
            return violation("malformed ERROR payload for call \(frame.correlation)", on: channel)
        }
        let correlation = frame.correlation
        guard error.code == IPCErrorCode.shuttingDown else {
            let taken = state.withLock { state -> Pending? in
                guard state.pending[correlation]?.sentOn === channel else { return nil }
                state.collected[correlation] = nil
                return state.pending.removeValue(forKey: correlation)
            }
            // Interrupted by a server shutting down: it may have been partly processed, like a lost connection.
            let failure: IPCError = error.code == IPCErrorCode.interrupted
                ? .connectionLost : .remote(code: error.code, message: error.message)
            if let taken { fail([taken], with: failure) }
            return
        }
        // The server is draining and did not run the call: send it again on a new connection.
        let kick = state.withLock { state -> Kick in
            guard state.pending[correlation]?.sentOn === channel else { return .none }
            state.pending[correlation]?.sentOn = nil
            state.collected[correlation] = nil
            guard state.current === channel else { return Self.kickQueued(&state, maxFrame: maxFrame) }
            // Retire it: answers to its other calls still arrive; new requests wait for a new connection,
            // after a backoff step (a server that keeps accepting while it drains must not make us spin).
            state.current = nil
            state.phase = .connecting
            return Self.scheduleRetry(&state).map { .retry(after: $0) } ?? .none
        }
        perform(kick)
    }

    private func receiveConnectionError(_ frame: Frame, on channel: SocketChannel) {
        let error = try? ErrorPayload(decoding: frame.payload)
        let code = error?.code ?? IPCErrorCode.protocolViolation
        let message = error?.message ?? "malformed connection ERROR"
        if code == IPCErrorCode.shuttingDown {
            return receiveGoAway(on: channel, message: message)
        }
        if code == IPCErrorCode.protocolViolation, retryWithoutFeatures(channel) {
            channel.close(.local(message))
            return perform(.connectNow)
        }
        let expected = "\(protocolName)/\(version)"
        let (failed, failure) = state.withLock { state -> ([Pending], IPCError) in
            var failed = takeSent(on: channel, &state)
            guard state.current === channel, state.phase == .handshaking else {
                return (failed, .protocolViolation("server closed the connection: \(message)"))
            }
            // Refused at HELLO: retrying cannot help, so every waiting request fails now.
            let failure: IPCError =
                if code == IPCErrorCode.wrongProtocol || code == IPCErrorCode.unsupportedVersion {
                    .wrongProtocol(expected: expected, got: error?.server?.label ?? "unknown (\(message))")
                } else {
                    .protocolViolation("server refused the handshake: \(message)")
                }
            for (correlation, pending) in state.pending where pending.sentOn == nil {
                failed.append(pending)
                state.pending[correlation] = nil
            }
            state.current = nil
            state.phase = .idle
            state.lastFailure = failure.description
            return (failed, failure)
        }
        fail(failed, with: failure)
        channel.close(.local(message))
    }

    /// A server refused the HELLO that offered features as a protocol violation: it is from before
    /// them (it takes a HELLO's trailing bytes for a malformed one). Greets it again, at once, the
    /// version 1 way.
    /// - Returns: true when a new connection is to be made (the caller closes `channel`).
    private func retryWithoutFeatures(_ channel: SocketChannel) -> Bool {
        state.withLock { state in
            guard state.current === channel, state.phase == .handshaking, state.offeredOnCurrent, !state.closed else {
                return false
            }
            state.offerFeatures = false
            state.current = nil
            state.phase = .connecting
            return true
        }
    }

    /// The server closes gracefully: every call sent on `channel` and not answered was never read, so
    /// it goes out again on the next connection.
    private func receiveGoAway(on channel: SocketChannel, message: String) {
        let kick = state.withLock { state -> Kick in
            for (correlation, pending) in state.pending where pending.sentOn === channel {
                state.pending[correlation]?.sentOn = nil
                state.collected[correlation] = nil
            }
            guard state.current === channel else { return Self.kickQueued(&state, maxFrame: maxFrame) }
            state.current = nil
            state.lastFailure = "\(path): \(message)"
            return Self.replaceCurrent(&state, wasReady: state.phase == .ready, maxFrame: maxFrame)
        }
        channel.close(.local(message))
        perform(kick)
    }

    private func violation(_ message: String, on channel: SocketChannel) {
        let failed = state.withLock { takeSent(on: channel, &$0) }
        fail(failed, with: .protocolViolation(message))
        channel.close(.local(message))
    }
}
