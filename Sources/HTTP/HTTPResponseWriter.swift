import Glibc

/// Answers one request: either a complete response (``respond(status:headers:body:)``) or a streamed one
/// (``startStream(status:headers:)``, ``write(_:)``, ``end()``), e.g. server-sent events.
///
/// All methods are thread-safe and never block: bytes the socket does not take at once are queued and
/// sent by the connection's event loop (a client that stops reading is dropped after
/// ``HTTPLimits/writeTimeout`` or ``HTTPLimits/maxPendingOutputBytes``).
///
/// The server owns framing: it writes `Content-Length` or `Transfer-Encoding: chunked`, `Connection` and
/// `Date` (unless given). When the handler returns without answering, the server sends a 500; a stream
/// left open is ended. A response must therefore be complete when the handler returns.
public final class HTTPResponseWriter: Sendable {
    let connection: HTTPConnection
    let requestID: UInt64
    let isHead: Bool
    let isHTTP10: Bool
    let requestKeepAlive: Bool

    init(connection: HTTPConnection, requestID: UInt64, request: HTTPRequest) {
        self.connection = connection
        self.requestID = requestID
        isHead = request.method == .head
        isHTTP10 = request.version.minor == 0
        requestKeepAlive = request.keepAlive
    }

    private var fd: Int32 { connection.fd }
    private var outputLimit: Int { connection.core.limits.maxPendingOutputBytes }

    private func keepAlive(_ headers: HTTPHeaders) -> Bool {
        requestKeepAlive && !connection.core.isDraining && !ResponseHead.asksToClose(headers)
    }

    /// Sends a complete response with a `Content-Length` body (no body for HEAD, 204 and 304).
    /// Does nothing when the client has gone (see ``isClosed``).
    /// - Parameters:
    ///   - status: the status; 200...999.
    ///   - headers: response headers; `Content-Length`, `Transfer-Encoding` and `Connection` are the
    ///     server's own (a `Connection: close` here closes the connection after the response).
    ///   - body: the body bytes.
    /// - Throws: ``HTTPResponseError`` for an invalid status or header (CR or LF in a value: header
    ///   injection), or when this request was already answered; nothing is sent then.
    public func respond(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) throws(HTTPResponseError) {
        try ResponseHead.validate(status: status, headers: headers)
        let keepAlive = keepAlive(headers)
        let bodyless = ResponseHead.forbidsBody(status)
        let date = connection.loop.dateCache.headerLine()
        let sent = try connection.output.withLock { (output) throws(HTTPResponseError) -> Bool in
            guard output.requestID == requestID, output.progress == .awaiting else { throw .alreadyResponded }
            output.progress = .complete
            output.closeCallbacks = []
            guard output.isWritable else { return false }
            // Counted before the bytes leave, so that a client that has read them sees the count.
            connection.core.requestsServed.add(1, ordering: .relaxed)
            var head = output.takeScratch()
            let length = ResponseHead.serialize(
                into: &head, status: status, headers: headers,
                framing: bodyless ? .none : .length(body.count),
                keepAlive: keepAlive, http10: isHTTP10, date: date)
            let sendBody = !isHead && !bodyless
            let ok = head.withUnsafeBytes { h in
                body.withUnsafeBytes { b in
                    output.send(
                        fd, UnsafeRawBufferPointer(rebasing: h[0..<length]),
                        sendBody ? b : UnsafeRawBufferPointer(start: nil, count: 0), limit: outputLimit)
                }
            }
            output.returnScratch(head)
            return ok
        }
        connection.responseFinished(id: requestID, keepAlive: keepAlive, failed: !sent)
    }

    /// Sends a complete response whose body is the UTF-8 of `body`.
    /// - Throws: see ``respond(status:headers:body:)-([UInt8])``.
    public func respond(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: String) throws(HTTPResponseError) {
        try respond(status: status, headers: headers, body: Array(body.utf8))
    }

    /// Starts a streamed response: `Transfer-Encoding: chunked` for HTTP/1.1, a body ended by closing the
    /// connection for HTTP/1.0. Follow with ``write(_:)`` and ``end()``.
    /// - Parameters:
    ///   - status: the status; 200...999.
    ///   - headers: response headers (validated as for ``respond(status:headers:body:)-([UInt8])``).
    /// - Throws: ``HTTPResponseError`` for an invalid status or header, or when already answered.
    public func startStream(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) throws(HTTPResponseError) {
        try ResponseHead.validate(status: status, headers: headers)
        let bodyless = isHead || ResponseHead.forbidsBody(status)
        let mode: ConnectionOutput.StreamMode = bodyless ? .discard : (isHTTP10 ? .closeDelimited : .chunked)
        let keepAlive = mode != .closeDelimited && keepAlive(headers)
        let framing: ResponseHead.Framing
        switch mode {
        case .chunked: framing = .chunked
        case .closeDelimited: framing = .closeDelimited
        case .discard: framing = ResponseHead.forbidsBody(status) ? .none : (isHTTP10 ? .closeDelimited : .chunked)
        }
        let date = connection.loop.dateCache.headerLine()
        let sent = try connection.output.withLock { (output) throws(HTTPResponseError) -> Bool in
            guard output.requestID == requestID, output.progress == .awaiting else { throw .alreadyResponded }
            output.progress = .streaming(mode, keepAlive: keepAlive)
            guard output.isWritable else { return false }
            var head = output.takeScratch()
            let length = ResponseHead.serialize(
                into: &head, status: status, headers: headers, framing: framing,
                keepAlive: keepAlive, http10: isHTTP10, date: date)
            let ok = head.withUnsafeBytes { output.send(fd, UnsafeRawBufferPointer(rebasing: $0[0..<length]), limit: outputLimit) }
            output.returnScratch(head)
            return ok
        }
        if !sent { connection.writeFailed() }
    }

    /// Sends bytes of a streamed response (one chunk). Empty writes are ignored.
    /// - Returns: `false` when the client has gone or no stream is open, `true` when the bytes were sent
    ///   or queued.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        enum Outcome { case sent, closed, failed }
        let outcome = connection.output.withLock { output -> Outcome in
            guard output.requestID == requestID, case .streaming(let mode, _) = output.progress else { return .closed }
            guard output.isWritable else { return .closed }
            if bytes.isEmpty || mode == .discard { return .sent }
            let ok: Bool
            if mode == .chunked {
                ok = withUnsafeTemporaryAllocation(byteCount: 20, alignment: 1) { prefix in
                    let length = Self.chunkPrefix(bytes.count, into: prefix)
                    return bytes.withUnsafeBytes { b in
                        Self.crlf.withUnsafeBytes { c in
                            output.send(fd, UnsafeRawBufferPointer(rebasing: prefix[0..<length]), b, c, limit: outputLimit)
                        }
                    }
                }
            } else {
                ok = bytes.withUnsafeBytes { output.send(fd, $0, limit: outputLimit) }
            }
            return ok ? .sent : .failed
        }
        if outcome == .failed { connection.writeFailed() }
        return outcome == .sent
    }

    /// Sends the UTF-8 of `text` as one chunk of a streamed response.
    /// - Returns: see ``write(_:)-([UInt8])``.
    @discardableResult
    public func write(_ text: String) -> Bool {
        write(Array(text.utf8))
    }

    /// Ends a streamed response (the last chunk for HTTP/1.1; closing the connection for HTTP/1.0).
    /// Does nothing when no stream is open.
    public func end() {
        let result = connection.output.withLock { output -> (keepAlive: Bool, sent: Bool)? in
            guard output.requestID == requestID, case .streaming(let mode, let keepAlive) = output.progress else {
                return nil
            }
            output.progress = .complete
            output.closeCallbacks = []
            guard output.isWritable else { return (false, false) }
            connection.core.requestsServed.add(1, ordering: .relaxed)
            if mode == .chunked {
                let ok = Self.lastChunk.withUnsafeBytes { output.send(fd, $0, limit: outputLimit) }
                return (keepAlive, ok)
            }
            return (keepAlive && mode != .closeDelimited, true)
        }
        guard let result else { return }
        connection.responseFinished(id: requestID, keepAlive: result.keepAlive, failed: !result.sent)
    }

    /// Whether the client has gone (closed, reset, or dropped for not reading); writes are then ignored.
    public var isClosed: Bool {
        connection.output.withLock { !$0.isWritable }
    }

    /// Whether this request has been answered (a response sent, or a stream started).
    public var hasResponded: Bool {
        connection.output.withLock { $0.requestID != requestID || $0.progress != .awaiting }
    }

    /// Registers `callback` to run once if the connection closes before this response is complete (the
    /// client went away: cancel the work). It runs at once when the client is already gone, and never
    /// when the response completes first. It runs on the event loop's thread: keep it short. The handler's
    /// task is also cancelled then.
    public func onClose(_ callback: @escaping @Sendable () -> Void) {
        let callNow = connection.output.withLock { output -> Bool in
            if !output.isWritable { return true }
            guard output.requestID == requestID, output.progress != .complete else { return false }
            output.closeCallbacks.append(callback)
            return false
        }
        if callNow { callback() }
    }

    /// Called by the server after the handler returns: a missing answer becomes a 500, an open stream ends.
    func handlerReturned() {
        let progress = connection.output.withLock { output -> ConnectionOutput.Progress in
            output.requestID == requestID ? output.progress : .complete
        }
        switch progress {
        case .awaiting:
            let reply = ErrorReply(status: .internalServerError, message: "the handler sent no response",
                                   requestID: ErrorReply.requestID(connection.core.requestIDs))
            let (contentType, body) = connection.core.errorBody(reply)
            try? respond(status: .internalServerError, headers: reply.headers(contentType: contentType), body: body)
        case .streaming:
            end()
        case .complete:
            break
        }
    }

    /// Writes `size` in hex and CR LF; returns the length (at most 18 bytes).
    private static func chunkPrefix(_ size: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let digits: StaticString = "0123456789abcdef"
        var shift = 60
        while shift > 0 && (size >> shift) & 0xF == 0 { shift -= 4 }
        var count = 0
        while shift >= 0 {
            buffer[count] = digits.utf8Start[(size >> shift) & 0xF]
            count += 1
            shift -= 4
        }
        buffer[count] = ASCII.cr
        buffer[count + 1] = ASCII.lf
        return count + 2
    }

    private static let crlf: [UInt8] = [ASCII.cr, ASCII.lf]
    private static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
}
