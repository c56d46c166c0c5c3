import Basics
/// The replies the server writes itself, before or instead of a handler: a request it could not parse
/// (400, 413, 414, 417, 431, 501, 505), a request not received in time (408), a handler that sent
/// nothing (500). They use the gateway's JSON error shape,
/// `{"error":{"message","type","code","param","request_id"}}`, and carry `X-Request-ID` when the server
/// was given a ``HTTPServer/RequestIDGenerator``.
enum ErrorReply {
    /// The headers of an error reply: JSON, and the request id when there is one.
    static func headers(requestID: String?) -> HTTPHeaders {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
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

    /// The JSON body: the message, `invalid_request_error` (`server_error` for 5xx other than 501 and
    /// 505, which are about the request), a code naming the status, `param` null, and the request id.
    static func body(status: HTTPStatus, message: String, requestID: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.append(static: #"{"error":{"message":"#)
        JSONString.append(message, to: &out)
        out.append(static: #","type":""#)
        let serverSide = status.code >= 500 && status.code != 501 && status.code != 505
        out.append(string: serverSide ? "server_error" : "invalid_request_error")
        out.append(static: #"","code":""#)
        out.append(string: code(for: status))
        out.append(static: #"","param":null,"request_id":"#)
        if let requestID { JSONString.append(requestID, to: &out) } else { out.append(static: "null") }
        out.append(static: "}}")
        return out
    }

    /// A short code for `status`, e.g. `request_too_large` for 413.
    static func code(for status: HTTPStatus) -> String {
        switch status.code {
        case 400: return "bad_request"
        case 408: return "request_timeout"
        case 413: return "request_too_large"
        case 414: return "uri_too_long"
        case 417: return "expectation_failed"
        case 431: return "headers_too_large"
        case 500: return "internal_error"
        case 501: return "not_implemented"
        case 505: return "http_version_not_supported"
        default: return "http_\(status.code)"
        }
    }
}
