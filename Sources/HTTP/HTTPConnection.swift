import CLinux
import Glibc
import Synchronization

/// One client connection, owned by one event loop.
///
/// Reading, parsing, timers and closing happen on the loop's thread only (the `var`s below). Writers reach
/// the socket through `output`, under its lock, from any thread. One request is handled at a time:
/// pipelined requests wait in the parser until the previous response is complete, which keeps responses
/// in request order.
final class HTTPConnection: @unchecked Sendable {
    private enum Timer {
        case none
        /// Between requests (or before the first one): close silently when it fires.
        case idle
        case header
        case body
        /// Write side shut after an error response; reading and discarding until the client closes.
        case linger
    }

    /// Input held while a request is being handled before reading pauses (pipelining back-pressure).
    static let pauseThreshold = 64 * 1024

    let fd: Int32
    let generation: UInt32
    let loop: HTTPEventLoop
    let remoteAddress: String
    let output = Mutex(ConnectionOutput())

    private var parser: HTTPRequestParser
    private var timer = Timer.idle
    private var deadline = UInt64.max
    private var inFlight = false
    private var readPaused = false
    /// No further request will be read; the connection closes once its output is flushed.
    private var closing = false
    private var closeWhenFlushed = false
    private var lingerWhenFlushed = false
    private var lingering = false
    private var isClosed = false
    private var requestCount: UInt64 = 0
    /// A handler is running synchronously inside `dispatch`.
    private var dispatching = false
    private var handlerTask: Task<Void, Never>?

    init(fd: Int32, generation: UInt32, loop: HTTPEventLoop, remoteAddress: String) {
        self.fd = fd
        self.generation = generation
        self.loop = loop
        self.remoteAddress = remoteAddress
        parser = HTTPRequestParser(limits: loop.core.limits)
    }

    var core: ServerCore { loop.core }

    func start() {
        // Until its first byte, a new connection gets the header timeout, and is closed silently after it.
        timer = .idle
        deadline = loop.now &+ core.headerTimeout
    }

    // MARK: - Events

    func handle(events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 { writable() }
        if isClosed { return }
        let hangup = EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
        if events & (EPOLLIN.rawValue | hangup) != 0 { readable(drain: events & hangup != 0) }
    }

    /// Reads what the socket holds. With `drain`, reads until EAGAIN or EOF even after a short read (the
    /// peer hung up, and the end of input must be seen now: no further edge will come).
    private func readable(drain: Bool) {
        if readPaused && !lingering {
            // Not reading while a request is handled and much input is already held; a hang-up still
            // means the client is gone.
            if drain { clientGone() }
            return
        }
        let buffer = loop.readBuffer
        while !isClosed {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                if lingering || closing { continue }  // discarding
                parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                if !inFlight { processInput() }
                if inFlight && parser.bufferedByteCount > Self.pauseThreshold {
                    readPaused = true
                    if drain { clientGone() }
                    return
                }
                // A short read emptied the socket; the next arrival is a new edge.
                if count < buffer.count && !drain && !lingering && !closing { return }
            } else if count == 0 {
                peerClosed()
                return
            } else {
                let error = errno
                if error == EINTR { continue }
                if error == EAGAIN || error == EWOULDBLOCK { return }
                clientGone()
                return
            }
        }
    }

    private func writable() {
        let (ok, flushed) = output.withLock { output -> (Bool, Bool) in
            guard output.hasPending else { return (!output.failed, true) }
            let ok = output.flush(fd, now: loop.now)
            return (ok, !output.hasPending)
        }
        if !ok {
            clientGone()
            return
        }
        if flushed && closeWhenFlushed {
            closeWhenFlushed = false
            if lingerWhenFlushed { beginLinger() } else { closeNow() }
        }
    }

    /// The client closed its side (EOF).
    private func peerClosed() {
        if inFlight {
            clientGone()
        } else if closeWhenFlushed {
            // Our last response is still being written; the client may still read it.
            lingerWhenFlushed = false
        } else {
            closeNow()
        }
    }

    /// The client went away (EOF or reset while a request was handled, or a failed write).
    private func clientGone() {
        if inFlight { core.clientDisconnects.add(1, ordering: .relaxed) }
        closeNow()
    }

    // MARK: - Requests

    private func processInput() {
        while !inFlight && !closing && !isClosed {
            let next: HTTPRequest?
            do {
                next = try parser.next()
            } catch {
                reject(error)
                return
            }
            if parser.takeContinueExpectation() { sendInterim(Self.continueResponse) }
            guard var request = next else {
                updateReadTimer()
                return
            }
            request.remoteAddress = remoteAddress
            dispatch(request)
        }
    }

    private func updateReadTimer() {
        switch parser.phase {
        case .idle:
            break
        case .head:
            if timer != .header {
                timer = .header
                deadline = loop.now &+ core.headerTimeout
            }
        case .body:
            if timer != .body {
                timer = .body
                deadline = loop.now &+ core.bodyTimeout
            }
        }
    }

    private func dispatch(_ request: HTTPRequest) {
        inFlight = true
        timer = .none
        deadline = .max
        requestCount &+= 1
        let id = requestCount
        output.withLock { $0.beginResponse(id) }
        let writer = HTTPResponseWriter(connection: self, requestID: id, request: request)
        let handler = core.handler
        // The handler starts at once on this thread and runs until it first suspends; a handler that
        // answers without suspending (a cache hit) is done before this returns. Its response completing
        // re-enters `finishResponse`, which then leaves the next pipelined request to the loop in
        // `processInput` instead of recursing.
        dispatching = true
        let task = Task.immediate(executorPreference: loop.reactor) {
            await handler(request, writer)
            writer.handlerReturned()
        }
        dispatching = false
        if inFlight && requestCount == id { handlerTask = task }
    }

    /// Called by the writer once the response is complete (queued in full), from any thread.
    func responseFinished(id: UInt64, keepAlive: Bool, failed: Bool) {
        if loop.inLoop {
            finishResponse(id: id, keepAlive: keepAlive, failed: failed)
        } else {
            loop.execute { self.finishResponse(id: id, keepAlive: keepAlive, failed: failed) }
        }
    }

    /// Called by a writer whose write failed, from any thread.
    func writeFailed() {
        if loop.inLoop {
            clientGone()
        } else {
            loop.execute { self.clientGone() }
        }
    }

    private func finishResponse(id: UInt64, keepAlive: Bool, failed: Bool) {
        guard !isClosed, inFlight, id == requestCount else { return }
        inFlight = false
        handlerTask = nil
        if failed {
            closeNow()
            return
        }
        if !keepAlive || core.isDraining {
            closeAfterFlush(linger: parser.bufferedByteCount > 0)
            return
        }
        timer = .idle
        deadline = loop.now &+ core.idleTimeout
        if dispatching { return }  // `processInput`'s loop takes the next request
        processInput()
        if readPaused && !isClosed && parser.bufferedByteCount <= Self.pauseThreshold {
            readPaused = false
            readable(drain: true)
        }
    }

    // MARK: - Errors and timeouts

    private static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private func sendInterim(_ bytes: [UInt8]) {
        let ok = output.withLock { output in
            bytes.withUnsafeBytes { output.send(fd, $0, limit: core.limits.maxPendingOutputBytes) }
        }
        if !ok { clientGone() }
    }

    /// Answers a request the parser refused, then closes.
    private func reject(_ error: HTTPParseError) {
        core.badRequests.add(1, ordering: .relaxed)
        sendErrorAndClose(status: error.status, message: error.message)
    }

    private func sendErrorAndClose(status: HTTPStatus, message: String) {
        closing = true
        readPaused = false
        let reply = ErrorReply(status: status, message: message, requestID: ErrorReply.requestID(core.requestIDs))
        let (contentType, body) = core.errorBody(reply)
        let date = loop.dateCache.headerLine()
        let ok = output.withLock { output -> Bool in
            var head = output.takeScratch()
            let length = ResponseHead.serialize(
                into: &head, status: status, headers: reply.headers(contentType: contentType),
                framing: .length(body.count), keepAlive: false, http10: false, date: date)
            let ok = head.withUnsafeBytes { h in
                body.withUnsafeBytes { b in
                    output.send(fd, UnsafeRawBufferPointer(rebasing: h[0..<length]), b, limit: core.limits.maxPendingOutputBytes)
                }
            }
            output.returnScratch(head)
            return ok
        }
        if ok { closeAfterFlush(linger: true) } else { closeNow() }
    }

    func checkTimers(now: UInt64) {
        if isClosed { return }
        let (pending, stalled) = output.withLock { output -> (Bool, Bool) in
            guard output.hasPending else { return (false, false) }
            return (true, now &- output.stalledSince > core.writeTimeout)
        }
        if stalled {
            core.timeouts.add(1, ordering: .relaxed)
            clientGone()
            return
        }
        if pending {
            // A safety net: flushing here costs nothing when the socket is still full.
            writable()
            if isClosed { return }
        }
        guard now >= deadline else { return }
        switch timer {
        case .none:
            break
        case .idle, .linger:
            closeNow()
        case .header, .body:
            core.timeouts.add(1, ordering: .relaxed)
            timer = .none
            deadline = .max
            sendErrorAndClose(status: .requestTimeout, message: "request not received in time")
        }
    }

    // MARK: - Closing

    private func closeAfterFlush(linger: Bool) {
        closing = true
        let pending = output.withLock { $0.hasPending }
        if pending {
            closeWhenFlushed = true
            lingerWhenFlushed = linger
            timer = .none
            deadline = .max
        } else if linger {
            beginLinger()
        } else {
            closeNow()
        }
    }

    /// Shuts the write side and reads until the client closes (or the linger timeout), so that unread
    /// request bytes do not turn our close into a reset that destroys the response in flight.
    private func beginLinger() {
        guard !isClosed else { return }
        _ = shutdown(fd, Int32(SHUT_WR))
        lingering = true
        readPaused = false
        timer = .linger
        deadline = loop.now &+ core.lingerTimeout
        readable(drain: true)
    }

    /// Closes the connection if it is between requests (server draining).
    /// Closes the connection when it is between requests.
    /// - Parameter includingFresh: Whether a connection that has not sent its first request yet is closed
    ///   too. A drain spares those at first: their client is about to send, and a request that reached a
    ///   connection the server accepted should be answered, not reset.
    func closeIfIdle(includingFresh: Bool = true) {
        guard includingFresh || requestCount > 0 else { return }
        if !inFlight && parser.phase == .idle && !closeWhenFlushed { closeNow() }
    }

    func closeNow() {
        guard !isClosed else { return }
        isClosed = true
        let callbacks = output.withLock { output -> [@Sendable () -> Void] in
            output.closed = true
            Glibc.close(fd)
            let callbacks = output.progress == .complete ? [] : output.closeCallbacks
            output.closeCallbacks = []
            output.pending = []
            output.pendingStart = 0
            return callbacks
        }
        loop.remove(self)
        if inFlight {
            handlerTask?.cancel()
            handlerTask = nil
        }
        for callback in callbacks { callback() }
    }
}
