import Basics
import Glibc
import Reactor

/// One keep-alive TCP connection to a plain-`http://` upstream, on the process's event loop: connects
/// without blocking, writes one request at a time, parses the answer as it arrives and hands its head,
/// body pieces and end to the exchange's ``Transfer``. Between requests it waits in its
/// ``HTTP1ConnectionPool``, watched, so a server that closes an idle connection is noticed.
///
/// Loop thread only: the pool calls it there, and the loop calls ``handleEvents(_:)`` there.
final class HTTP1Connection: LoopHandler, @unchecked Sendable {
    // @unchecked: every stored property is touched on the loop's thread only.

    private let loop: EventLoop
    private weak var pool: HTTP1ConnectionPool?
    private var fd: Int32 = -1
    private var registration: LoopRegistration?
    private var connecting = false
    private var watchingWrites = false
    private var output: [UInt8] = []
    private var written = 0
    private var parser = HTTP1ResponseParser()
    private var events: [HTTP1ResponseParser.Event] = []
    /// The exchange being carried; nil while idle.
    private(set) var exchange: HTTP1Exchange?
    /// Whether a request went over it before the current one (a close before any answer then means the
    /// server dropped an idle connection, and the request may go again on a new one).
    private var reused = false

    /// Whether the socket is still open.
    var isOpen: Bool { fd >= 0 }

    init(loop: EventLoop, pool: HTTP1ConnectionPool) {
        self.loop = loop
        self.pool = pool
    }

    // MARK: Opening

    /// Opens a non-blocking socket to `address` and starts connecting.
    /// - Returns: nil once connecting began, else why it could not (the socket is closed then).
    func open(to address: SocketAddress) -> HTTP1Failure? {
        let descriptor = socket(address.family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return HTTP1Failure(kind: .connectFailed, detail: "socket: \(errorText(errno))") }
        var one: Int32 = 1
        // Requests and answers are small and answered at once: no Nagle delay on either.
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = address.withSockaddr { connect(descriptor, $0, $1) }
        let code = result == 0 ? 0 : errno
        guard code == 0 || code == EINPROGRESS else {
            Glibc.close(descriptor)
            return Self.connectFailure(code)
        }
        fd = descriptor
        connecting = code == EINPROGRESS
        do {
            registration = try loop.register(fd: descriptor, events: Self.readEvents | PollEvents.writable, handler: self)
            watchingWrites = true
        } catch {
            Glibc.close(descriptor)
            fd = -1
            return HTTP1Failure(kind: .connectFailed, detail: "cannot watch the socket: \(error)")
        }
        return nil
    }

    private static let readEvents = PollEvents.readable | PollEvents.readHangup

    private static func connectFailure(_ code: Int32) -> HTTP1Failure {
        HTTP1Failure(kind: code == ECONNREFUSED ? .connectRefused : .connectFailed, detail: "connect: \(errorText(code))")
    }

    // MARK: Carrying an exchange

    /// Starts writing `exchange`'s request (at once when connected, else once the connection is made).
    func carry(_ exchange: HTTP1Exchange) {
        self.exchange = exchange
        exchange.connection = self
        parser = HTTP1ResponseParser()
        output = exchange.request
        written = 0
        if !connecting { flush() }
    }

    /// Closes the connection for its exchange's cancellation (or timeout); the transfer hears the end.
    func cancelExchange() {
        fail(HTTP1Failure(kind: .connectionReset, detail: "closed by the client"))
    }

    // MARK: Events

    func handleEvents(_ bits: UInt32) {
        guard fd >= 0 else { return }
        if connecting {
            guard bits & (PollEvents.writable | PollEvents.error | PollEvents.hangup) != 0 else { return }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
            guard code == 0 else {
                fail(Self.connectFailure(code))
                return
            }
            connecting = false
            if exchange != nil { flush() } else { watchWrites(false) }
            guard fd >= 0 else { return }
        } else if bits & PollEvents.writable != 0 && written < output.count {
            flush()
            guard fd >= 0 else { return }
        }
        if bits & (PollEvents.readable | PollEvents.readHangup | PollEvents.hangup | PollEvents.error) != 0 {
            readAvailable()
        }
    }

    func loopEnding() {
        fail(HTTP1Failure(kind: .connectionReset, detail: "the event loop is ending"))
    }

    private func flush() {
        while written < output.count {
            let count = output.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + written, raw.count - written, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                written += count
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                watchWrites(true)
                return
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                let code = errno
                if retryOnNewConnection() { return }
                fail(HTTP1Failure(kind: .connectionReset, detail: "send: \(errorText(code))"))
                return
            }
        }
        watchWrites(false)
        let total = Int64(output.count)
        output = []
        written = 0
        exchange?.transfer.didSendBody(total: total, expected: total)
    }

    private func watchWrites(_ on: Bool) {
        guard on != watchingWrites, let registration else { return }
        watchingWrites = on
        loop.modify(registration, events: on ? Self.readEvents | PollEvents.writable : Self.readEvents)
    }

    private func readAvailable() {
        let buffer = loop.scratch
        while fd >= 0 {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                guard exchange != nil else {
                    // An idle connection has nothing to hear; a server that talks out of turn is closed.
                    close()
                    return
                }
                do {
                    try parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), into: &events)
                } catch {
                    events.removeAll(keepingCapacity: true)
                    fail(HTTP1Failure(kind: .invalidResponse, detail: error.description))
                    return
                }
                deliverEvents()
                if count < buffer.count { return }
            } else if count == 0 {
                closedByPeer(detail: "the server closed the connection before the response ended")
                return
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else {
                closedByPeer(detail: "recv: \(errorText(errno))")
                return
            }
        }
    }

    private func deliverEvents() {
        guard let transfer = exchange?.transfer else { return }
        var ended: Bool?
        for event in events {
            switch event {
            case .head(let status, let headers): transfer.didReceive(status: status, headers: headers)
            case .body(let bytes): if !bytes.isEmpty { transfer.didReceive(bytes: bytes) }
            case .end(let reusable): ended = reusable
            }
        }
        events.removeAll(keepingCapacity: true)
        if let reusable = ended { complete(reusable: reusable) }
    }

    private func closedByPeer(detail: String) {
        guard exchange != nil else {
            close()  // an idle connection the server dropped
            return
        }
        if case .end(let reusable)? = parser.finishOnClose() {
            _ = reusable
            complete(reusable: false)
            return
        }
        if retryOnNewConnection() { return }
        fail(HTTP1Failure(kind: .connectionReset, detail: detail))
    }

    /// A reused connection that closed before any byte of the answer: the server dropped it while idle,
    /// so the request goes once more on a new connection (as libcurl does).
    private func retryOnNewConnection() -> Bool {
        guard let exchange, reused, !parser.sawBytes, !exchange.retried, let pool else { return false }
        exchange.retried = true
        self.exchange = nil
        exchange.connection = nil
        close()
        pool.start(exchange, fresh: true)
        return true
    }

    /// The whole answer arrived: back to the pool (before the transfer hears the end, which frees its
    /// concurrency slot for a request that can then take this connection), or closed.
    private func complete(reusable: Bool) {
        guard let exchange else { return }
        self.exchange = nil
        exchange.connection = nil
        reused = true
        if !(reusable && (pool?.keep(self) ?? false)) { close() }
        exchange.transfer.didComplete(failure: nil)
    }

    private func fail(_ failure: HTTP1Failure) {
        let exchange = self.exchange
        self.exchange = nil
        exchange?.connection = nil
        close()
        exchange?.transfer.didComplete(failure: failure)
    }

    /// Closes the socket and leaves the pool; the exchange, if any, must have been handled.
    func close() {
        guard fd >= 0 else { return }
        if let registration { loop.deregister(registration) }
        registration = nil
        Glibc.close(fd)
        fd = -1
        pool?.forget(self)
    }
}
