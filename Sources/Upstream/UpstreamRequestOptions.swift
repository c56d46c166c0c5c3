/// Per-request settings: the caller's deadline, and values forwarded to the upstream as headers for
/// tracing across hops.
///
/// Header values that are not safe in a header (not visible ASCII, or too long) are dropped, not sent.
public struct UpstreamRequestOptions: Sendable, Equatable {
    /// Sent as `X-Request-ID` (vLLM and others log it and echo it) when it is a UUID (32 hex digits,
    /// dashes allowed in the 8-4-4-4-12 places), as frontd's own ids are: llama.cpp's Python server
    /// refuses any other id with 400, which would fail a client's request for its choice of id.
    public var requestID: String?
    /// A W3C trace context `traceparent` value, sent as is.
    public var traceParent: String?
    /// The caller's own deadline (the client's request has one); the call ends at the earlier of this
    /// and the endpoint's total timeout, with a `total` timeout error.
    public var deadline: ContinuousClock.Instant?
    /// More headers by name (`Cache-Control: no-cache`); a name that is not an HTTP token, a value with
    /// characters other than visible ASCII and inner spaces, or one of the headers the client sets itself
    /// (`Authorization`, `Content-Type`, `Accept`, `Host`, `Content-Length`) is dropped.
    public var extraHeaders: [String: String]

    /// The longest header value forwarded.
    static let maximumLength = 256

    /// Headers only the client sets.
    private static let reservedNames: Set<String> = ["authorization", "content-type", "accept", "host", "content-length"]

    /// Creates options; every value is optional.
    public init(requestID: String? = nil, traceParent: String? = nil, deadline: ContinuousClock.Instant? = nil,
                extraHeaders: [String: String] = [:]) {
        self.requestID = requestID
        self.traceParent = traceParent
        self.deadline = deadline
        self.extraHeaders = extraHeaders
    }

    /// The headers to add, each value checked.
    var headers: [(name: String, value: String)] {
        var result: [(String, String)] = []
        if let requestID, Self.isUUID(requestID) { result.append(("X-Request-ID", requestID)) }
        if let traceParent, Self.isSafe(traceParent) { result.append(("traceparent", traceParent)) }
        for (name, value) in extraHeaders.sorted(by: { $0.key < $1.key })
        where Self.isToken(name) && !Self.reservedNames.contains(name.lowercased()) && Self.isSafe(value, spaces: true) {
            result.append((name, value))
        }
        return result
    }

    /// Whether `id` reads as a UUID: 32 hex digits, bare or as 8-4-4-4-12.
    static func isUUID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        let hex = bytes.filter { $0 != 45 }
        guard hex.count == 32, hex.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }) else {
            return false
        }
        return bytes.count == 32 || (bytes.count == 36 && [8, 13, 18, 23].allSatisfy { bytes[$0] == 45 })
    }

    /// RFC 9110's token characters: what a header name may hold.
    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func isSafe(_ value: String, spaces: Bool = false) -> Bool {
        let lowest: UInt8 = spaces ? 0x20 : 0x21
        return !value.isEmpty && value.utf8.count <= maximumLength && value.first != " " && value.last != " "
            && value.utf8.allSatisfy { $0 >= lowest && $0 < 0x7F }
    }
}
