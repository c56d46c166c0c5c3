/// How long the client waits for each phase of an upstream request.
///
/// - `connect`: from the moment the request may start (it holds a concurrency slot) until the request
///   has been written to the upstream (TCP connect, TLS handshake, headers and body). A request without
///   a body (`models()`) gives no signal when it is written, so its connect and first-byte budgets are
///   added up and a timeout there is reported as `firstByte`.
/// - `firstByte`: from the request written until the response head (status line and headers) arrives.
///   A non-streaming answer comes only when the whole generation is done, so for those this bounds
///   the generation too: keep it generous.
/// - `total`: from the call until the last byte, including the wait for a concurrency slot; a
///   caller's own deadline (``UpstreamRequestOptions/deadline``) may end the call sooner.
public struct UpstreamTimeouts: Sendable, Equatable, CustomStringConvertible {
    /// Until the request is written.
    public var connect: Duration
    /// Until the response head arrives, after the request is written.
    public var firstByte: Duration
    /// The whole call, queueing included.
    public var total: Duration

    /// The defaults: 5 s to connect, 120 s to the first byte, 600 s in all.
    public init(connect: Duration = .seconds(5), firstByte: Duration = .seconds(120), total: Duration = .seconds(600)) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
    }

    public var description: String {
        "connect \(connect.upstreamSeconds) s, first byte \(firstByte.upstreamSeconds) s, total \(total.upstreamSeconds) s"
    }

    /// Checks that every timeout is positive.
    func validated() throws(UpstreamConfigurationError) -> UpstreamTimeouts {
        for (name, value) in [("connect", connect), ("first byte", firstByte), ("total", total)] where value <= .zero {
            throw UpstreamConfigurationError("timeouts", "\(name) timeout must be positive, got \(value)")
        }
        return self
    }
}

extension Duration {
    /// The duration in seconds, as a `Double` (what Foundation's APIs take).
    var upstreamSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
