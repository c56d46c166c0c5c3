import Synchronization
import Wire

/// One call received by an ``IPCServer``: the request, and the way to answer it.
///
/// Answer with exactly one terminal frame: `reply(_:)`, ``end(_:)`` (after any number of
/// ``chunk(_:)``), or ``fail(code:message:)``. Whatever is sent after that, or after the call is cancelled,
/// is dropped. A handler may keep the call and answer later from another task; if the last reference to a
/// call goes away unanswered, the client gets an ``IPCErrorCode/internalError`` ERROR.
///
/// The handler runs in its own task, which is cancelled when the call is: awaiting work that honours task
/// cancellation (including calls to other daemons through ``IPCClient``) stops with it.
public final class IPCCall: Sendable {
    /// The request's message type (its meaning is the service's).
    public let type: UInt16
    /// The request id the client chose, unique among this connection's calls in flight.
    public let correlation: UInt64
    /// The request payload (after the timeout prefix).
    public let payload: [UInt8]
    /// When the client stops waiting (from the request's timeout, on arrival); nil when it gave none.
    public let deadline: ContinuousClock.Instant?
    /// The caller's trace context (its span is the parent of this call's spans); nil when the request
    /// carried none. The handler also runs with it as ``TraceContext/current``.
    public let traceContext: TraceContext?

    let state: CallState

    init(type: UInt16, correlation: UInt64, payload: [UInt8], deadline: ContinuousClock.Instant?,
         traceContext: TraceContext? = nil, state: CallState) {
        self.type = type
        self.correlation = correlation
        self.payload = payload
        self.deadline = deadline
        self.traceContext = traceContext
        self.state = state
    }

    deinit {
        state.abandon()
    }

    /// Sends the single answer (REPLY) and ends the call.
    /// - Parameter payload: The answer; one over the frame limit is replaced by an internal-error ERROR.
    /// - Returns: false when the call had already ended or was cancelled (nothing was sent).
    @discardableResult
    public func reply(_ payload: [UInt8]) -> Bool {
        state.send(.reply, payload)
    }

    /// Sends an encoded message as the single answer (REPLY) and ends the call.
    /// - Returns: false when the call had already ended or was cancelled.
    @discardableResult
    public func reply(_ message: some WireCodable) -> Bool {
        state.send(.reply, message.encoded())
    }

    /// Sends one piece of a streamed answer (CHUNK).
    /// - Returns: false when the call has ended or was cancelled: stop producing.
    @discardableResult
    public func chunk(_ payload: [UInt8]) -> Bool {
        state.send(.chunk, payload)
    }

    /// Ends a streamed answer (END); a non-empty payload is its last piece.
    /// - Returns: false when the call had already ended or was cancelled.
    @discardableResult
    public func end(_ payload: [UInt8] = []) -> Bool {
        state.send(.end, payload)
    }

    /// Ends the call with an ERROR.
    /// - Parameters:
    ///   - code: An ``IPCErrorCode`` or a service code (≥ ``IPCErrorCode/firstServiceCode``).
    ///   - message: What went wrong, for the caller's logs.
    /// - Returns: false when the call had already ended or was cancelled.
    @discardableResult
    public func fail(code: UInt16, message: String) -> Bool {
        state.fail(code: code, message: message)
    }

    /// Decodes the payload as a message; trailing bytes are an error.
    /// - Throws: ``WireError`` (answer it with ``IPCErrorCode/badRequest``).
    public func decode<Message: WireCodable>(_: Message.Type) throws -> Message {
        try Message(decoding: payload)
    }

    /// Whether the client cancelled the call or the connection dropped.
    public var isCancelled: Bool { state.isCancelled }

    /// Whether a terminal frame was sent or the call was cancelled: nothing more will be sent.
    public var isFinished: Bool { state.isFinished }

    /// Registers work to run when the call is cancelled (CANCEL from the client, or the connection
    /// dropping); runs it at once if the call is already cancelled, never if it ended normally.
    /// - Parameter body: Runs once, on the loop thread or the registering thread; keep it short.
    public func onCancel(_ body: @escaping @Sendable () -> Void) {
        state.onCancel(body)
    }
}

/// The server's side of one call in flight; ``IPCCall`` is the handle the handler holds.
final class CallState: Sendable {
    private struct Inner {
        var ended = false
        var cancelled = false
        var cancelHandlers: [@Sendable () -> Void] = []
        var task: Task<Void, Never>?

        /// Marks a running call cancelled and takes what cancelling it runs; nil when it had already
        /// ended or been cancelled.
        mutating func cancel() -> Cancellation? {
            guard !ended && !cancelled else { return nil }
            cancelled = true
            defer {
                cancelHandlers = []
                task = nil
            }
            return Cancellation(handlers: cancelHandlers, task: task)
        }
    }

    /// What cancelling a call runs once out of the lock: its handler's task cancelled, its cancel handlers.
    private struct Cancellation {
        let handlers: [@Sendable () -> Void]
        let task: Task<Void, Never>?

        func run() {
            task?.cancel()
            for handler in handlers { handler() }
        }
    }

    let correlation: UInt64
    let type: UInt16
    private let connection: ServerConnection
    private let inner = Mutex(Inner())

    init(correlation: UInt64, type: UInt16, connection: ServerConnection) {
        self.correlation = correlation
        self.type = type
        self.connection = connection
    }

    var isCancelled: Bool { inner.withLock { $0.cancelled } }
    var isFinished: Bool { inner.withLock { $0.cancelled || $0.ended } }

    /// Keeps the handler's task, to cancel it with the call.
    func attach(_ task: Task<Void, Never>) {
        let cancelNow = inner.withLock { inner -> Bool in
            if inner.cancelled { return true }
            if !inner.ended { inner.task = task }
            return false
        }
        if cancelNow { task.cancel() }
    }

    func send(_ kind: FrameKind, _ payload: [UInt8]) -> Bool {
        guard payload.count <= connection.maxPayload else {
            return fail(
                code: IPCErrorCode.internalError,
                message: "\(kind) payload of \(payload.count) bytes exceeds the frame limit of \(connection.maxPayload)")
        }
        return emit(kind, payload)
    }

    func fail(code: UInt16, message: String) -> Bool {
        emit(.error, connection.errorPayload(code: code, message: message))
    }

    /// Sends a frame unless the call is over; the outbox append happens under the call's lock so a
    /// terminal frame can never overtake a CHUNK sent before it.
    private func emit(_ kind: FrameKind, _ payload: [UInt8]) -> Bool {
        let terminal = kind.isTerminal
        let channel = connection.channel
        let (accepted, mustFlush) = inner.withLock { inner -> (Bool, Bool) in
            guard !inner.ended && !inner.cancelled else { return (false, false) }
            if terminal {
                inner.ended = true
                inner.cancelHandlers = []
                inner.task = nil
            }
            let enqueued = channel.enqueue { buffer in
                FrameEncoder.appendHeader(
                    kind: kind, type: type, correlation: correlation, payloadLength: payload.count, to: &buffer)
                buffer.append(contentsOf: payload)
            }
            return (true, enqueued == .mustFlush)
        }
        // A handler answering on the loop's thread (its journal written, say) shares a send with the others
        // answering in the same turn.
        if mustFlush { channel.flushSoon() }
        if accepted && terminal { connection.callEnded(self) }
        return accepted
    }

    /// Marks the call cancelled, cancels the handler's task and runs the cancel handlers.
    /// - Returns: false when it had already ended or been cancelled.
    @discardableResult
    func cancel() -> Bool {
        guard let cancellation = inner.withLock({ $0.cancel() }) else { return false }
        cancellation.run()
        return true
    }

    /// Ends a running call because the server is going away: ERROR ``IPCErrorCode/interrupted``, then
    /// the same as a cancel (task cancelled, cancel handlers run). The caller has removed it from the table.
    func interrupt() {
        let channel = connection.channel
        let payload = connection.errorPayload(
            code: IPCErrorCode.interrupted, message: "the server shut down while the call was running")
        let taken = inner.withLock { inner -> (mustFlush: Bool, Cancellation)? in
            guard let cancellation = inner.cancel() else { return nil }
            let enqueued = channel.enqueue { buffer in
                FrameEncoder.appendHeader(
                    kind: .error, type: type, correlation: correlation, payloadLength: payload.count, to: &buffer)
                buffer.append(contentsOf: payload)
            }
            return (enqueued == .mustFlush, cancellation)
        }
        guard let (mustFlush, cancellation) = taken else { return }
        if mustFlush { channel.flush() }
        cancellation.run()
    }

    func onCancel(_ body: @escaping @Sendable () -> Void) {
        let runNow = inner.withLock { inner -> Bool in
            if inner.cancelled { return true }
            if !inner.ended { inner.cancelHandlers.append(body) }
            return false
        }
        if runNow { body() }
    }

    /// The handle is gone: answer for the handler if it never did.
    func abandon() {
        _ = fail(
            code: IPCErrorCode.internalError,
            message: "the handler for message type \(type) finished without answering")
    }
}
