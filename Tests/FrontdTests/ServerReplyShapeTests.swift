import Foundation
import HTTP
import IPC
import Services
import Testing
@testable import frontd

/// frontd gives the HTTP server its own error shape for the replies the server writes itself, so a
/// client sees `{"error": {"message", "type", "code", "param", "request_id"}}` whatever answered.
@Suite("the gateway's shape for replies the HTTP server writes itself")
struct ServerReplyShapeTests {
    @Test("status, type and code", arguments: [
        (400, "bad_request", "invalid_request_error"), (408, "request_timeout", "invalid_request_error"),
        (413, "request_too_large", "invalid_request_error"), (414, "uri_too_long", "invalid_request_error"),
        (431, "headers_too_large", "invalid_request_error"), (500, "internal_error", "server_error"),
        (501, "not_implemented", "invalid_request_error"), (505, "http_version_not_supported", "invalid_request_error"),
    ])
    func shape(_ status: Int, _ code: String, _ type: String) throws {
        let reply = ErrorReply(status: HTTPStatus(code: status), message: "what went wrong", requestID: "rid-1")
        let (contentType, body) = APIError.serverReplyBody(reply)
        #expect(contentType == "application/json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        #expect(error["code"] as? String == code)
        #expect(error["type"] as? String == type)
        #expect(error["message"] as? String == "what went wrong")
        #expect(error["request_id"] as? String == "rid-1")
        #expect(error["param"] is NSNull)
    }

    @Test("no request id is null, not absent")
    func noRequestID() throws {
        let (_, body) = APIError.serverReplyBody(ErrorReply(status: .badRequest, message: "m", requestID: nil))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect((object["error"] as? [String: Any])?["request_id"] is NSNull)
    }
}

/// How the upstream's failures, relayed by modeld and batchd as service codes, reach the client.
@Suite("upstream failures as HTTP answers")
struct UpstreamFailureStatusTests {
    @Test("429 keeps its Retry-After, 502 for a failed upstream, 504 for a slow one, 400 passes through")
    func statuses() {
        let limited = APIError.from(IPCError.remote(code: ServiceErrorCode.upstreamRateLimited,
                                                    message: RetryAfterMessage.make(seconds: 7, "slow down")))
        #expect(limited.status.code == 429)
        #expect(limited.retryAfter == 7)
        #expect(limited.message == "slow down")
        #expect(APIError.from(IPCError.remote(code: ServiceErrorCode.upstreamRateLimited, message: "busy")).retryAfter == 1)
        #expect(APIError.from(IPCError.remote(code: ServiceErrorCode.upstreamFailed, message: "m")).status.code == 502)
        #expect(APIError.from(IPCError.remote(code: ServiceErrorCode.upstreamTimeout, message: "m")).status.code == 504)
        #expect(APIError.from(IPCError.remote(code: ServiceErrorCode.invalidRequest, message: "m")).status.code == 400)
    }

    @Test("the Retry-After convention reads back what it wrote and leaves other messages alone")
    func retryAfterMessage() {
        #expect(RetryAfterMessage.parse(RetryAfterMessage.make(seconds: 30, "a; b")) == (30, "a; b"))
        #expect(RetryAfterMessage.parse("retry-after=x; y") == (nil, "retry-after=x; y"))
        #expect(RetryAfterMessage.parse("plain") == (nil, "plain"))
    }
}
