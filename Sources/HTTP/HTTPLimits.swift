/// Bounds that keep one client from taking more than its share of a server: sizes checked before any
/// allocation they would cause, and timeouts that reclaim connections from slow or silent peers.
public struct HTTPLimits: Sendable, Equatable {
    /// Largest request line plus header section, in bytes (beyond: 431).
    public var maxHeaderBytes: Int
    /// Largest number of header lines in one request (beyond: 431).
    public var maxHeaderCount: Int
    /// Longest request target (path and query), in bytes (beyond: 414). A target longer than
    /// ``maxHeaderBytes`` is answered 431, as the header section it is part of is too large first.
    public var maxTargetBytes: Int
    /// Largest request body, in bytes, after chunked decoding (beyond: 413).
    public var maxBodyBytes: Int
    /// Time allowed from the first byte of a request to the end of its header section (beyond: 408, close).
    public var headerReadTimeout: Duration
    /// Time allowed from the end of the header section to the end of the body (beyond: 408, close).
    public var bodyReadTimeout: Duration
    /// Time a kept-alive connection may wait for its next request (beyond: closed without a response).
    public var idleTimeout: Duration
    /// Time a response may make no progress towards the client while output is queued (beyond: close).
    public var writeTimeout: Duration
    /// Largest number of open client connections; further ones get a 503 and are closed.
    public var maxConnections: Int
    /// Largest number of open connections from one client address (0: no cap); further ones from it get a
    /// 503 and are closed, so one client cannot take every slot.
    public var maxConnectionsPerClient: Int
    /// Largest amount of response bytes queued for a slow reader before the connection is dropped.
    public var maxPendingOutputBytes: Int

    /// Creates limits; every parameter has the default the project documents.
    /// - Parameters:
    ///   - maxHeaderBytes: request line plus headers, default 16 KiB.
    ///   - maxHeaderCount: header lines, default 100.
    ///   - maxTargetBytes: request target, default 8 KiB.
    ///   - maxBodyBytes: request body, default 1 MiB.
    ///   - headerReadTimeout: default 10 s (slow-loris defence).
    ///   - bodyReadTimeout: default 30 s.
    ///   - idleTimeout: keep-alive idle time, default 60 s.
    ///   - writeTimeout: default 30 s without write progress.
    ///   - maxConnections: default 10 000.
    ///   - maxConnectionsPerClient: default 0 (no cap).
    ///   - maxPendingOutputBytes: default 16 MiB.
    public init(
        maxHeaderBytes: Int = 16 * 1024,
        maxHeaderCount: Int = 100,
        maxTargetBytes: Int = 8 * 1024,
        maxBodyBytes: Int = 1 << 20,
        headerReadTimeout: Duration = .seconds(10),
        bodyReadTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60),
        writeTimeout: Duration = .seconds(30),
        maxConnections: Int = 10_000,
        maxConnectionsPerClient: Int = 0,
        maxPendingOutputBytes: Int = 16 << 20
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxTargetBytes = maxTargetBytes
        self.maxBodyBytes = maxBodyBytes
        self.headerReadTimeout = headerReadTimeout
        self.bodyReadTimeout = bodyReadTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.maxPendingOutputBytes = maxPendingOutputBytes
    }
}
