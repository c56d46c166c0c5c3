import Crypto
import HTTP
import IPC
import Wire

/// Where a request's idempotency key lives and what it is scoped to.
///
/// The key comes from the `Idempotency-Key` header, or on the native routes from the body's
/// `request_id`. It is scoped by caller (`RequestContext.clientKey`), so one client can never be
/// answered with another's reply; the route and the parsed request make its fingerprint, so the same key
/// sent with a different request is refused (409) instead of answered with the wrong reply.
struct IdempotencyKey: Sendable, Equatable {
    /// cached's key for the record: `idempotency/` + SHA-256 of the caller and the client's key.
    let recordKey: String
    /// SHA-256 of the route and the canonical request.
    let fingerprint: String

    /// cached's `model` label of idempotency records, which no model can have (names are `[a-z0-9_-]`),
    /// so `DELETE /v1/cache?model=NAME` leaves them alone.
    static let cacheModel = "(idempotency)"
    static let recordPrefix = "idempotency/"
    /// Longest key accepted.
    static let maxLength = 255

    init(scope clientKey: String, key: String, fingerprint: String) {
        recordKey = Self.recordPrefix + SHA256.hex(Array((clientKey + "\u{0}" + key).utf8))
        self.fingerprint = fingerprint
    }

    /// The key of a request: the `Idempotency-Key` header, else `bodyKey` (a native body's `request_id`),
    /// else nil (the request is not idempotent).
    /// - Throws: 400 naming `Idempotency-Key` for an empty, overlong or non-printable header.
    static func key(_ request: HTTPRequest, bodyKey: String?) throws(APIError) -> String? {
        if let header = request.headers["Idempotency-Key"] {
            guard (1...maxLength).contains(header.utf8.count), header.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                throw .invalid("Idempotency-Key must be 1 to \(maxLength) printable ASCII characters without spaces", param: "Idempotency-Key")
            }
            return header
        }
        return bodyKey
    }

    /// SHA-256 over the route and `parts` (each length-prefixed, so no two requests collide by concatenation).
    static func fingerprint(route: String, _ parts: [UInt8]...) -> String {
        var w = WireWriter()
        w.writeString(route)
        for p in parts { w.writeBytes(p) }
        return SHA256.hex(w.bytes)
    }

    /// A native body's `request_id`: nil when absent or null, else a string of 1 to 255 characters.
    static func requestID(_ value: JSONValue?, param: String = "request_id") throws(APIError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let s = value.string, (1...maxLength).contains(s.utf8.count) else {
            throw .unprocessable("\(param) must be a string of 1 to \(maxLength) bytes", param: param)
        }
        return s
    }
}
