import Basics

/// Why an exchange on an ``HTTP1Connection`` broke, before the ``Transfer`` classifies it (a timeout or
/// cancellation it recorded comes first).
struct HTTP1Failure: Error, Sendable {
    /// `connectRefused`, `connectFailed`, `connectionReset` or `invalidResponse`.
    let kind: UpstreamError.Kind
    /// What the socket or the parser said; redacted before it reaches a log.
    let detail: String
}

/// One request on its way through the ``HTTP1ConnectionPool``: its bytes, the ``Transfer`` that hears
/// the answer, and the connection carrying it. Loop thread only, except ``cancel()``.
final class HTTP1Exchange: @unchecked Sendable {
    // @unchecked: `connection`, `cancelled` and `retried` are touched on the pool's loop thread only.

    /// The request as written on the wire: head and body.
    let request: [UInt8]
    let transfer: Transfer
    /// The connection carrying it now; nil before it starts and after it ends.
    var connection: HTTP1Connection?
    /// Cancelled before a connection took it.
    var cancelled = false
    /// Sent again once on a new connection, after a reused one closed before answering.
    var retried = false

    init(request: [UInt8], transfer: Transfer) {
        self.request = request
        self.transfer = transfer
    }
}
