import Foundation
import HTTP
import Testing
import TestKit

/// The replies the server writes itself: the body in the shape its user gives (``ErrorReply/Writer``,
/// plain text by default), and an `X-Request-ID` from the user's generator when it has one.
@Suite("the server's own error replies", .serialized, .timeLimit(.minutes(1)))
struct ErrorReplyTests {
    /// The error object of a reply body, or nil when the body is not the error shape.
    private func errorObject(_ response: RawHTTPClient.Response) -> [String: Any]? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return object?["error"] as? [String: Any]
    }

    @Test("parser errors, 414 and 408 carry the generated id in the header and the body",
          arguments: [
              ("GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
              ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
              ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
              ("GET / HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "h", count: 17_000) + "\r\n\r\n", 431),
              ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
              ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
              ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab", 408),
          ])
    func idsOnParserErrors(_ input: String, _ status: Int) async throws {
        // rid-1, rid-2, … so the test can tell which reply got which id.
        let ids = Counter()
        let limits = HTTPLimits(bodyReadTimeout: .milliseconds(200))
        try await withServer(limits: limits, requestIDs: { "rid-\(ids.increment())" }, errorBody: ErrorReply.json, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(input)
            let response = try client.readResponse()
            #expect(response.status == status)
            #expect(response.header("X-Request-ID") == "rid-1")
            #expect(response.header("Content-Type") == "application/json")
            let error = try #require(errorObject(response), "not the error shape: \(response.text)")
            #expect(error["request_id"] as? String == "rid-1")
            #expect(error["status"] as? Int == status)
            #expect((error["message"] as? String)?.isEmpty == false)
            #expect(client.closesWithoutReply(within: 3))
        }
    }

    @Test("by default the body is plain text: the status and the message on one line")
    func plainTextByDefault() async throws {
        try await withServer(requestIDs: { "p-1" }, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/1.1\r\nHost : t\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(response.header("X-Request-ID") == "p-1")
            #expect(response.text.hasPrefix("400 Bad Request: "))
            #expect(response.text.hasSuffix("\n"))
        }
    }

    @Test("the user's writer is given the status, the message and the id, and its body is sent as it is")
    func usersWriter() async throws {
        let seen = SharedValue<[Int]>([])
        let writer: ErrorReply.Writer = { reply in
            seen.update { $0.append(reply.status.code) }
            return ("application/x-custom", Array("custom \(reply.requestID ?? "-")".utf8))
        }
        try await withServer(requestIDs: { "c-9" }, errorBody: writer, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/9.9\r\nHost: t\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 505)
            #expect(response.header("Content-Type") == "application/x-custom")
            #expect(response.text == "custom c-9")
        }
        #expect(seen.value == [505])
    }

    @Test("a handler that sends nothing gets a 500 server_error with an id")
    func forgottenResponseHasID() async throws {
        try await withServer(requestIDs: { "gen-7" }, errorBody: ErrorReply.json, handler: { _, _ in }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 500)
            #expect(response.header("X-Request-ID") == "gen-7")
            #expect(errorObject(response)?["status"] as? Int == 500)
        }
    }

    @Test("without a generator the reply has no X-Request-ID and request_id is null")
    func noGenerator() async throws {
        try await withServer(errorBody: ErrorReply.json, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.header("X-Request-ID") == nil)
            #expect(errorObject(response)?["request_id"] is NSNull)
        }
    }

    @Test("an id that would inject a header is left out")
    func unsafeGeneratedID() async throws {
        try await withServer(requestIDs: { "x\r\nSet-Cookie: a=b" }, errorBody: ErrorReply.json, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/9.9\r\nHost: t\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 505)
            #expect(response.header("X-Request-ID") == nil)
            #expect(response.header("Set-Cookie") == nil)
            #expect(errorObject(response)?["request_id"] is NSNull)
        }
    }
}
