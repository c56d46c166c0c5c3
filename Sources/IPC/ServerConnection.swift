import Reactor
import Synchronization
import Wire

/// One accepted client connection of an ``IPCServer``: the handshake, then calls.
final class ServerConnection: ChannelDelegate {
    let channel: SocketChannel
    let server: IPCServer
    /// Largest frame payload either way.
    let maxPayload: Int
    private let calls = Mutex<[UInt64: CallState]>([:])
    /// Whether HELLO was accepted; touched only on the loop thread.
    nonisolated(unsafe) private var greeted = false
    /// The ``ProtocolFeatures`` the HELLO exchange agreed on; touched only on the loop thread.
    nonisolated(unsafe) private var features: UInt32 = 0

    init(fd: Int32, server: IPCServer, loop: EventLoop) {
        self.server = server
        self.maxPayload = server.maxFrame
        self.channel = SocketChannel(
            fd: fd, loop: loop, maxPayload: server.maxFrame, maxOutbox: server.maxOutputBuffer,
            acceptedFlags: FrameFlags.known)
        channel.delegate = self
    }

    /// Calls in flight on this connection.
    var callCount: Int { calls.withLock { $0.count } }

    // MARK: ChannelDelegate

    func channel(_ channel: SocketChannel, didReceive frame: Frame) {
        guard greeted else { return greet(frame) }
        switch frame.kind {
        case .request:
            receiveRequest(frame)
        case .cancel:
            let call = calls.withLock { $0[frame.correlation] }
            if let call, call.cancel() {
                callEnded(call)
            }
        default:
            refuse(code: IPCErrorCode.protocolViolation, message: "unexpected \(frame.kind) frame from a client")
        }
    }

    func channel(_ channel: SocketChannel, didFailDecoding error: WireError) {
        let code = error.isFrameTooLarge ? IPCErrorCode.frameTooLarge : IPCErrorCode.protocolViolation
        refuse(code: code, message: error.description)
    }

    func channelDidClose(_ channel: SocketChannel, reason: ChannelCloseReason) {
        let orphans = takeAllCalls()
        for call in orphans {
            call.cancel()
        }
        server.connectionClosed(self, endedCalls: orphans.count)
    }

    // MARK: Frames

    private func greet(_ frame: Frame) {
        guard frame.kind == .hello, frame.correlation == 0, frame.type == 0 else {
            return refuse(code: IPCErrorCode.protocolViolation, message: "expected HELLO, got \(frame.kind)")
        }
        let hello: HelloPayload
        do {
            hello = try HelloPayload(decoding: frame.payload)
        } catch {
            return refuse(code: IPCErrorCode.protocolViolation, message: "malformed HELLO: \(error)")
        }
        var mine = HelloPayload(name: server.protocolName, version: server.version)
        guard hello.name == mine.name else {
            return refuse(
                code: IPCErrorCode.wrongProtocol, message: "this socket serves \(mine.label), not \(hello.label)",
                server: mine)
        }
        guard hello.version == mine.version else {
            return refuse(
                code: IPCErrorCode.unsupportedVersion,
                message: "this socket serves \(mine.label), not version \(hello.version)", server: mine)
        }
        greeted = true
        // Features are agreed only when offered: a client from before them gets the HELLO_ACK it knows.
        if let offered = hello.features {
            features = offered & ProtocolFeatures.supported
            mine.features = features
        }
        let ack = mine.encoded()
        channel.send { buffer in
            FrameEncoder.appendHeader(kind: .helloAck, type: 0, correlation: 0, payloadLength: ack.count, to: &buffer)
            buffer.append(contentsOf: ack)
        }
    }

    private enum Admission {
        case admitted, duplicate, overloaded
    }

    private func receiveRequest(_ frame: Frame) {
        let correlation = frame.correlation
        guard correlation != 0 else {
            return refuse(code: IPCErrorCode.protocolViolation, message: "REQUEST with correlation 0")
        }
        var trace: TraceContext?
        var body = frame.payload[...]
        if frame.flags & FrameFlags.traceContext != 0 {
            guard features & ProtocolFeatures.traceContext != 0 else {
                return refuse(
                    code: IPCErrorCode.protocolViolation, message: "trace-context flag on a connection that did not negotiate it")
            }
            var reader = WireReader(frame.payload)
            do {
                trace = try TraceContext(from: &reader)
            } catch {
                return refuse(code: IPCErrorCode.protocolViolation, message: "malformed trace-context block: \(error)")
            }
            body = frame.payload[reader.offset...]
        }
        guard body.count >= RequestPrefix.size else {
            return refuse(
                code: IPCErrorCode.protocolViolation,
                message: "REQUEST payload of \(body.count) bytes lacks the 4-byte timeout")
        }
        if server.isDraining {
            server.noteRejectedCall()
            return sendCallError(
                frame, code: IPCErrorCode.shuttingDown, message: "\(server.protocolName) is shutting down")
        }
        let state = CallState(correlation: correlation, type: frame.type, connection: self)
        let limit = server.maxCallsPerConnection
        let admission = calls.withLock { table -> Admission in
            if table[correlation] != nil { return .duplicate }
            if table.count >= limit { return .overloaded }
            table[correlation] = state
            return .admitted
        }
        switch admission {
        case .duplicate:
            return refuse(
                code: IPCErrorCode.protocolViolation, message: "correlation \(correlation) is already in flight")
        case .overloaded:
            server.noteRejectedCall()
            return sendCallError(
                frame, code: IPCErrorCode.overloaded, message: "more than \(limit) calls in flight on one connection")
        case .admitted:
            break
        }
        server.callStarted()
        let timeout = body.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
        let deadline = timeout == 0 ? nil : ContinuousClock.now.advanced(by: .milliseconds(timeout))
        let call = IPCCall(
            type: frame.type, correlation: correlation, payload: Array(body.dropFirst(RequestPrefix.size)),
            deadline: deadline, traceContext: trace, state: state)
        let handler = server.handler
        // The handler runs under the caller's trace context, so whatever it calls carries the trace on
        // (bound only when there is one: binding a task-local costs an allocation per call).
        let run: @Sendable () async -> Void
        if let trace {
            run = { await TraceContext.$current.withValue(trace) { await handler(call) } }
        } else {
            run = { await handler(call) }
        }
        if server.inlineHandlers || server.inlineTypes.contains(frame.type) {
            state.attach(Task.immediate { await run() })
        } else {
            state.attach(Task { await run() })
        }
    }

    /// Empties the table of calls in flight.
    /// - Returns: the calls it held.
    private func takeAllCalls() -> [CallState] {
        calls.withLock { table in
            let all = Array(table.values)
            table.removeAll()
            return all
        }
    }

    /// A call is over (answered or cancelled): forget it.
    func callEnded(_ call: CallState) {
        let removed = calls.withLock { $0.removeValue(forKey: call.correlation) } != nil
        if removed { server.callFinished() }
    }

    // MARK: Errors

    /// An ERROR payload that fits in a frame.
    func errorPayload(code: UInt16, message: String, server: HelloPayload? = nil) -> [UInt8] {
        var payload = ErrorPayload(code: code, message: message, server: server).encoded()
        if payload.count > maxPayload {
            let room = max(0, maxPayload - 64)
            payload = ErrorPayload(code: code, message: String(decoding: message.utf8.prefix(room), as: UTF8.self))
                .encoded()
        }
        return payload
    }

    private func sendCallError(_ request: Frame, code: UInt16, message: String) {
        let payload = errorPayload(code: code, message: message)
        channel.send { buffer in
            FrameEncoder.appendHeader(
                kind: .error, type: request.type, correlation: request.correlation, payloadLength: payload.count,
                to: &buffer)
            buffer.append(contentsOf: payload)
        }
    }

    /// Sends a connection-level ERROR, then closes once it is written.
    private func refuse(code: UInt16, message: String, server hello: HelloPayload? = nil) {
        server.noteProtocolError()
        let payload = errorPayload(code: code, message: message, server: hello)
        channel.send { buffer in
            FrameEncoder.appendHeader(kind: .error, type: 0, correlation: 0, payloadLength: payload.count, to: &buffer)
            buffer.append(contentsOf: payload)
        }
        channel.close(.local(message), flushFirst: true)
    }

    /// Ends the connection gracefully (the end of a drain); runs on the loop thread, so no frame is read
    /// after the decision. Calls still running get ERROR ``IPCErrorCode/interrupted``; then a
    /// connection-level ERROR ``IPCErrorCode/shuttingDown`` tells the client that whatever else it sent
    /// was never read and may go to the next server; then the connection closes once that is written.
    func goAway() {
        channel.stopReading()
        let running = takeAllCalls()
        for call in running {
            call.interrupt()
        }
        server.callFinished(count: running.count)
        let payload = errorPayload(code: IPCErrorCode.shuttingDown, message: "\(server.protocolName) is shutting down")
        channel.send { buffer in
            FrameEncoder.appendHeader(kind: .error, type: 0, correlation: 0, payloadLength: payload.count, to: &buffer)
            buffer.append(contentsOf: payload)
        }
        channel.close(.local("server shut down"), flushFirst: true)
    }
}
