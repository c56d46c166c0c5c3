import Foundation

/// A complete, successful (2xx) upstream answer: status, the headers that matter, the body.
public struct UpstreamResponse: Sendable {
    /// The HTTP status (2xx).
    public let status: Int
    /// The response headers, names lower-cased.
    public let headers: [String: String]
    /// The body bytes as received (decompressed).
    public let body: Data
    /// The `usage` of the answer, when it is a JSON object that has one.
    public let usage: UpstreamUsage?

    init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        self.usage = object.flatMap { UpstreamUsage(answer: $0) }
    }

    /// The `Retry-After` header in seconds, if present and valid.
    public var retryAfterSeconds: Int? { headers["retry-after"].flatMap { RetryAfter.seconds(from: $0) } }

    /// The body parsed as a JSON object.
    /// - Throws: ``UpstreamError`` (``UpstreamError/Kind/invalidResponse``) when it is not one.
    public func json() throws(UpstreamError) -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw UpstreamError(.invalidResponse, route: "response", detail: "the body is not a JSON object")
        }
        return object
    }
}
