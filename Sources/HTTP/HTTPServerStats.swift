/// A snapshot of a server's counters (cumulative since start, except ``openConnections``).
public struct HTTPServerStats: Sendable, Equatable {
    /// Client connections open now.
    public var openConnections: Int
    /// Connections accepted, including rejected ones.
    public var acceptedConnections: Int
    /// Connections refused with 503 because ``HTTPLimits/maxConnections`` were open.
    public var rejectedConnections: Int
    /// Connections refused with 503 because their client address had ``HTTPLimits/maxConnectionsPerClient`` open.
    public var rejectedPerClient: Int = 0
    /// Responses completed.
    public var requestsServed: Int
    /// Requests refused by the parser (400, 413, 417, 431, 501, 505).
    public var badRequests: Int
    /// Connections closed by a header, body or write timeout.
    public var timeouts: Int
    /// Clients that went away while their request was being handled.
    public var clientDisconnects: Int
}
