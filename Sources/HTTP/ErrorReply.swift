import Basics

/// A reply the server writes itself, before or instead of a handler: a request it could not parse
/// (400, 413, 414, 417, 431, 501, 505), a request not received in time (408), a handler that sent
/// nothing (500). The server decides the status and a message; the body's shape is its user's (an
/// API's JSON error object, say), given to ``HTTPServer`` as an ``ErrorReply/Writer``.
public struct ErrorReply: Sendable {
    /// The status the server answers with.
    public let status: HTTPStatus
    /// What went wrong, in words for the client.
    public let message: String
    /// The id from ``HTTPServer/RequestIDGenerator``, also sent as `X-Request-ID`; nil when there is none.
    public let requestID: String?

    /// Makes a reply (the server makes them; tests and writers may too).
    public init(status: HTTPStatus, message: String, requestID: String?) {
        self.status = status
        self.message = message
        self.requestID = requestID
    }

    /// Makes the body of a server-written reply: its `Content-Type` and bytes.
    public typealias Writer = @Sendable (ErrorReply) -> (contentType: String, body: [UInt8])

    /// The default ``Writer``: `text/plain`, the status line's words and the message on one line.
    public static let plainText: Writer = { reply in
        ("text/plain; charset=utf-8", Array("\(reply.status.code) \(reply.status.reason): \(reply.message)\n".utf8))
    }

    /// The same reply as JSON, `{"error":{"message","status","request_id"}}`: a ready-made ``Writer``
    /// for JSON APIs without a shape of their own.
    public static let json: Writer = { reply in
        var out: [UInt8] = []
        out.append(static: #"{"error":{"message":"#)
        JSONString.append(reply.message, to: &out)
        out.append(static: #","status":"#)
        out.appendDecimal(reply.status.code)
        out.append(static: #","request_id":"#)
        if let requestID = reply.requestID { JSONString.append(requestID, to: &out) } else { out.append(static: "null") }
        out.append(static: "}}")
        return ("application/json", out)
    }

    /// The headers of a server-written reply: its content type, and the request id when there is one.
    func headers(contentType: String) -> HTTPHeaders {
        var headers: HTTPHeaders = ["Content-Type": contentType]
        if let requestID { headers.add(name: "X-Request-ID", value: requestID) }
        return headers
    }

    /// A request id from `generator`, or nil when there is none or it could not be sent safely as a
    /// header value (the generator is the embedder's code: never let it inject a header).
    static func requestID(_ generator: HTTPServer.RequestIDGenerator?) -> String? {
        guard let id = generator?(), !id.isEmpty,
              id.utf8.allSatisfy({ ASCII.isFieldValueByte($0) && $0 != ASCII.tab && $0 < 0x80 }) else { return nil }
        return id
    }
}
