import HTTP
import IPC
import Wire

/// A reply kept for an idempotency key: what the first request with the key was answered, and the
/// fingerprint of that request, so a repeat is answered the same and a different request under the same
/// key is refused. Stored in cached (binary, with the IPC codec) for `IDEMPOTENCY_WINDOW_SEC`.
struct IdempotencyRecord: WireCodable, Equatable {
    /// SHA-256 of the route and the parsed request (see `IdempotencyScope.fingerprint`).
    var fingerprint: String
    var status: UInt16
    /// Headers to send again besides the ones every reply gets (e.g. `X-Cache`).
    var headers: [HTTPHeaders.Field]
    var contentType: String
    var body: [UInt8]

    init(fingerprint: String, status: UInt16, headers: [HTTPHeaders.Field], contentType: String = "application/json", body: [UInt8]) {
        self.fingerprint = fingerprint
        self.status = status
        self.headers = headers
        self.contentType = contentType
        self.body = body
    }

    init(from r: inout WireReader) throws {
        fingerprint = try r.readString(maxLength: 128)
        status = try r.readUInt16()
        headers = try r.readArray(maxCount: 32) { r in
            HTTPHeaders.Field(name: try r.readString(maxLength: 256), value: try r.readString(maxLength: 4096))
        }
        contentType = try r.readString(maxLength: 256)
        body = try r.readBytes()
    }

    func encode(to w: inout WireWriter) {
        w.writeString(fingerprint)
        w.writeUInt16(status)
        w.writeArray(headers) { w, f in
            w.writeString(f.name)
            w.writeString(f.value)
        }
        w.writeString(contentType)
        w.writeBytes(body)
    }
}
