import Glibc
import Synchronization

/// An HTTP/1.1 server on a listening TCP socket: non-blocking I/O on one epoll event loop per thread
/// (default: one per core), keep-alive, pipelining, timeouts, connection limits and a graceful drain.
///
/// Each request runs `handler` in a task whose preferred executor is the event loop that read it, so a
/// handler that answers without awaiting anything else runs on that loop's thread with no hand-off; a
/// handler that awaits other work (IPC, actors) resumes there afterwards. When the client goes away
/// before the response is complete, the handler's task is cancelled and ``HTTPResponseWriter/onClose(_:)``
/// callbacks run.
///
/// ```swift
/// let fd = try TCPListener.bind(host: "127.0.0.1", port: 8080)
/// let server = HTTPServer(listenFD: fd) { request, response in
///     try? response.respond(status: .ok, headers: ["Content-Type": "text/plain"], body: "hello\n")
/// }
/// try server.start()
/// ...
/// await server.drain(timeout: .seconds(10))
/// ```
public final class HTTPServer: Sendable {
    /// Answers one request through its writer; see ``HTTPResponseWriter``.
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponseWriter) async -> Void
    /// Makes a request id for a reply the server writes itself, before or instead of the handler (a
    /// request it could not parse, a timeout, a handler that sent nothing): sent as `X-Request-ID` and
    /// as the error body's `request_id`, so those replies can be traced like the handler's own. An id
    /// that is empty or not printable ASCII is left out.
    public typealias RequestIDGenerator = @Sendable () -> String

    private enum Lifecycle {
        case created
        case running
        case drained
    }

    let core: ServerCore
    private let eventLoopCount: Int
    private let lifecycle = Mutex(Lifecycle.created)

    /// The number of online processors: the default number of event loops.
    public static var defaultEventLoopCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Creates a server; it serves nothing until ``start()``.
    /// - Parameters:
    ///   - listenFD: a listening TCP socket (from systemd or ``TCPListener/bind(host:port:backlog:reusePort:)``).
    ///     The server makes it non-blocking; it never closes it.
    ///   - limits: size limits and timeouts.
    ///   - eventLoops: the number of event-loop threads, default one per core.
    ///   - requestIDs: makes the request id of the replies the server writes itself; nil: none.
    ///   - errorBody: the body of the replies the server writes itself (a parse error, a timeout, a
    ///     handler that sent nothing), in the user's shape; plain text by default.
    ///   - handler: answers each request.
    public init(
        listenFD: Int32,
        limits: HTTPLimits = HTTPLimits(),
        eventLoops: Int = HTTPServer.defaultEventLoopCount,
        requestIDs: RequestIDGenerator? = nil,
        errorBody: @escaping ErrorReply.Writer = ErrorReply.plainText,
        handler: @escaping Handler
    ) {
        core = ServerCore(listenFD: listenFD, limits: limits, requestIDs: requestIDs, errorBody: errorBody, handler: handler)
        eventLoopCount = max(1, eventLoops)
    }

    /// Starts the event loops, which begin accepting at once. Calling it again does nothing.
    /// - Throws: ``HTTPServerError`` when epoll, eventfd or a thread cannot be created.
    public func start() throws(HTTPServerError) {
        let shouldStart = lifecycle.withLock { state -> Bool in
            guard case .created = state else { return false }
            state = .running
            return true
        }
        guard shouldStart else { return }
        // A peer that resets while we write must not kill the process; writes also pass MSG_NOSIGNAL.
        signal(SIGPIPE, SIG_IGN)
        let flags = fcntl(core.listenFD, F_GETFL)
        guard flags >= 0, fcntl(core.listenFD, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw HTTPServerError("fcntl(O_NONBLOCK) on listening socket \(core.listenFD)", errno: errno)
        }
        var loops: [HTTPEventLoop] = []
        for index in 0..<eventLoopCount { loops.append(try HTTPEventLoop(core: core, index: index)) }
        core.loops = loops
        for loop in loops { try loop.start() }
    }

    /// Stops accepting new connections; open ones are served as usual. The listening socket stays open
    /// (connections keep queueing in its backlog for whoever listens next).
    public func stopAccepting() {
        core.accepting.store(false, ordering: .relaxed)
        for loop in core.loops { loop.execute { loop.stopListening() } }
    }

    /// Shuts the server down gracefully: stops accepting, closes idle keep-alive connections, lets
    /// requests in progress finish (their responses carry `Connection: close`), force-closes whatever is
    /// left after `timeout`, then ends the event loops.
    /// - Parameter timeout: how long requests in progress may take to finish.
    public func drain(timeout: Duration) async {
        let running = lifecycle.withLock { state -> Bool in
            guard case .running = state else { return false }
            state = .drained
            return true
        }
        guard running else { return }
        core.draining.store(true, ordering: .relaxed)
        stopAccepting()
        // Kept-alive connections between requests close now; connections accepted but not yet used get a
        // moment for the request their client is sending (answered with Connection: close), then close.
        for loop in core.loops { loop.execute { loop.closeIdleConnections(includingFresh: false) } }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        try? await Task.sleep(for: min(Self.freshConnectionGrace, timeout))
        for loop in core.loops { loop.execute { loop.closeIdleConnections() } }
        while core.openConnections.load(ordering: .relaxed) > 0 && clock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(5))
        }
        for loop in core.loops { loop.stop() }
        let stopDeadline = clock.now.advanced(by: .seconds(2))
        while !core.loops.allSatisfy({ $0.finished }) && clock.now < stopDeadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        if core.loops.allSatisfy({ $0.finished }) {
            core.loops = []  // the loops refer to the core: break the cycle once their threads are gone
        }
    }

    /// How long a drain waits for the first request of a connection accepted just before it.
    static let freshConnectionGrace: Duration = .milliseconds(250)

    /// Whether ``drain(timeout:)`` has begun.
    public var isDraining: Bool { core.isDraining }

    /// The server's counters now.
    public var stats: HTTPServerStats {
        HTTPServerStats(
            openConnections: core.openConnections.load(ordering: .relaxed),
            acceptedConnections: core.acceptedConnections.load(ordering: .relaxed),
            rejectedConnections: core.rejectedConnections.load(ordering: .relaxed),
            rejectedPerClient: core.rejectedPerClient.load(ordering: .relaxed),
            requestsServed: core.requestsServed.load(ordering: .relaxed),
            badRequests: core.badRequests.load(ordering: .relaxed),
            timeouts: core.timeouts.load(ordering: .relaxed),
            clientDisconnects: core.clientDisconnects.load(ordering: .relaxed))
    }
}
