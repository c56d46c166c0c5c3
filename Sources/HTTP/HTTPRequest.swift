/// One complete request: the parsed head and the whole (de-chunked) body.
///
/// A value type whose fields live in one shared, copy-on-write box, so that handing a request from the
/// parser to the handler's task costs one reference count rather than a copy of every field.
public struct HTTPRequest: Sendable {
    private final class Storage: @unchecked Sendable {
        var method: HTTPMethod
        var path: String
        var query: String?
        var version: HTTPVersion
        var headers: HTTPHeaders
        var body: [UInt8]
        var remoteAddress: String
        var keepAlive: Bool

        init(
            method: HTTPMethod, path: String, query: String?, version: HTTPVersion, headers: HTTPHeaders,
            body: [UInt8], remoteAddress: String, keepAlive: Bool
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

        func copy() -> Storage {
            Storage(
                method: method, path: path, query: query, version: version, headers: headers, body: body,
                remoteAddress: remoteAddress, keepAlive: keepAlive)
        }
    }

    private var storage: Storage

    private var unique: Storage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            return storage
        }
    }

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
        storage = Storage(
            method: method, path: path, query: query, version: version, headers: headers, body: body,
            remoteAddress: remoteAddress, keepAlive: keepAlive)
    }

    /// The method token.
    public var method: HTTPMethod {
        get { storage.method }
        set { unique.method = newValue }
    }

    /// The path part of the target (before `?`), not percent-decoded; `*` for `OPTIONS *`.
    public var path: String {
        get { storage.path }
        set { unique.path = newValue }
    }

    /// The query part of the target (after `?`), not percent-decoded, or `nil` when there is no `?`.
    public var query: String? {
        get { storage.query }
        set { unique.query = newValue }
    }

    /// The protocol version, 1.0 or 1.1.
    public var version: HTTPVersion {
        get { storage.version }
        set { unique.version = newValue }
    }

    /// The header fields in the order received.
    public var headers: HTTPHeaders {
        get { storage.headers }
        set { unique.headers = newValue }
    }

    /// The body; empty when the request has none.
    public var body: [UInt8] {
        get { storage.body }
        set { unique.body = newValue }
    }

    /// The client's IP address (IPv4-mapped IPv6 addresses shown as IPv4); empty outside a server.
    public var remoteAddress: String {
        get { storage.remoteAddress }
        set { unique.remoteAddress = newValue }
    }

    /// Whether the client allows the connection to stay open after the response.
    public var keepAlive: Bool {
        get { storage.keepAlive }
        set { unique.keepAlive = newValue }
    }

    /// The request target as sent in origin form: the path, then `?` and the query if there is one.
    public var target: String {
        guard let query else { return path }
        return path + "?" + query
    }
}
