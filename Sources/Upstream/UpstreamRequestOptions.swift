/// Per-request settings: the caller's deadline, and values forwarded to the upstream as headers for
/// tracing across hops.
///
/// Header values that are not safe in a header (not visible ASCII, or too long) are dropped, not sent.
public struct UpstreamRequestOptions: Sendable, Equatable {
    /// Sent as `X-Request-ID` (vLLM and others log it and echo it).
    public var requestID: String?
    /// A W3C trace context `traceparent` value, sent as is.
    public var traceParent: String?
    /// The caller's own deadline (the client's request has one); the call ends at the earlier of this
    /// and the endpoint's total timeout, with a `total` timeout error.
    public var deadline: ContinuousClock.Instant?

    /// The longest header value forwarded.
    static let maximumLength = 256

    /// Creates options; every value is optional.
    public init(requestID: String? = nil, traceParent: String? = nil, deadline: ContinuousClock.Instant? = nil) {
        self.requestID = requestID
        self.traceParent = traceParent
        self.deadline = deadline
    }

    /// The headers to add, each value checked.
    var headers: [(name: String, value: String)] {
        var result: [(String, String)] = []
        if let requestID, Self.isSafe(requestID) { result.append(("X-Request-ID", requestID)) }
        if let traceParent, Self.isSafe(traceParent) { result.append(("traceparent", traceParent)) }
        return result
    }

    private static func isSafe(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= maximumLength && value.utf8.allSatisfy { $0 >= 0x21 && $0 < 0x7F }
    }
}
