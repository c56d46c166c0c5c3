import Synchronization

/// What every event loop of one server shares: configuration, the handler, lifecycle flags and counters.
final class ServerCore: @unchecked Sendable {
    let listenFD: Int32
    let limits: HTTPLimits
    let handler: HTTPServer.Handler
    /// Ids for the replies the server writes itself (nil: they carry none).
    let requestIDs: HTTPServer.RequestIDGenerator?
    /// The body of every reply the server writes itself (the user's shape).
    let errorBody: ErrorReply.Writer

    let headerTimeout: UInt64
    let bodyTimeout: UInt64
    let idleTimeout: UInt64
    let writeTimeout: UInt64
    /// How long a connection closed after an error keeps reading (and discarding) so that the client
    /// sees the error response instead of a reset.
    let lingerTimeout: UInt64 = 2_000_000_000

    let accepting = Atomic<Bool>(true)
    let draining = Atomic<Bool>(false)

    let openConnections = Atomic<Int>(0)
    let acceptedConnections = Atomic<Int>(0)
    let rejectedConnections = Atomic<Int>(0)
    let rejectedPerClient = Atomic<Int>(0)
    /// Open connections per client address, when ``HTTPLimits/maxConnectionsPerClient`` caps them.
    let clientConnections = Mutex<[String: Int]>([:])
    let requestsServed = Atomic<Int>(0)
    let badRequests = Atomic<Int>(0)
    let timeouts = Atomic<Int>(0)
    let clientDisconnects = Atomic<Int>(0)

    /// Set once by `HTTPServer.start()` before any loop runs; read-only afterwards.
    var loops: [HTTPEventLoop] = []

    init(listenFD: Int32, limits: HTTPLimits, requestIDs: HTTPServer.RequestIDGenerator?, errorBody: @escaping ErrorReply.Writer,
         handler: @escaping HTTPServer.Handler) {
        self.listenFD = listenFD
        self.limits = limits
        self.requestIDs = requestIDs
        self.errorBody = errorBody
        self.handler = handler
        headerTimeout = limits.headerReadTimeout.clampedNanoseconds
        bodyTimeout = limits.bodyReadTimeout.clampedNanoseconds
        idleTimeout = limits.idleTimeout.clampedNanoseconds
        writeTimeout = limits.writeTimeout.clampedNanoseconds
    }

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// How often each loop checks its connections' deadlines: a quarter of the shortest timeout, kept
    /// between 5 ms and 250 ms, so deadlines fire at most that late.
    var sweepInterval: UInt64 {
        let shortest = min(headerTimeout, bodyTimeout, idleTimeout, writeTimeout)
        return min(max(shortest / 4, 5_000_000), 250_000_000)
    }

    /// Counts a new connection from `address` against the per-client cap; false when it is over.
    func admitClient(_ address: String) -> Bool {
        let cap = limits.maxConnectionsPerClient
        guard cap > 0 else { return true }
        return clientConnections.withLock { table in
            let open = table[address, default: 0]
            guard open < cap else { return false }
            table[address] = open + 1
            return true
        }
    }

    /// Forgets a closed connection from `address`.
    func releaseClient(_ address: String) {
        guard limits.maxConnectionsPerClient > 0 else { return }
        clientConnections.withLock { table in
            let open = (table[address] ?? 1) - 1
            table[address] = open > 0 ? open : nil
        }
    }
}
