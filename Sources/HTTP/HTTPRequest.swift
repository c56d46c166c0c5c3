/// One complete request: the parsed head and the whole (de-chunked) body.
public struct HTTPRequest: Sendable {
    /// The method token.
    public var method: HTTPMethod
    /// The path part of the target (before `?`), not percent-decoded; `*` for `OPTIONS *`.
    public var path: String
    /// The query part of the target (after `?`), not percent-decoded, or `nil` when there is no `?`.
    public var query: String?
    /// The protocol version, 1.0 or 1.1.
    public var version: HTTPVersion
    /// The header fields in the order received.
    public var headers: HTTPHeaders
    /// The body; empty when the request has none.
    public var body: [UInt8]
    /// The client's IP address (IPv4-mapped IPv6 addresses shown as IPv4); empty outside a server.
    public var remoteAddress: String
    /// Whether the client allows the connection to stay open after the response.
    public var keepAlive: Bool

    /// Creates a request; servers and parsers build these, tests and handlers may too.
    public init(
        method: HTTPMethod,
        path: String,
        query: String? = nil,
        version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [],
        remoteAddress: String = "",
        keepAlive: Bool = true
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.keepAlive = keepAlive
    }

    /// The request target as sent in origin form: the path, then `?` and the query if there is one.
    public var target: String {
        guard let query else { return path }
        return path + "?" + query
    }
}
