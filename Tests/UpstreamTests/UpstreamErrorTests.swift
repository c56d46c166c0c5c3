import Foundation
import Testing

@testable import Upstream

@Suite("UpstreamError: retry decisions, client statuses, messages")
struct UpstreamErrorTests {
    private func http(_ status: Int, retryAfter: Int? = nil, message: String? = nil) -> UpstreamError {
        UpstreamError(.http, route: "POST /v1/chat/completions", upstreamStatus: status, retryAfterSeconds: retryAfter,
                      upstreamMessage: message)
    }

    @Test("upstream statuses map to the gateway's answer",
          arguments: [(400, 400), (401, 502), (403, 502), (404, 502), (405, 502), (413, 413), (422, 422), (429, 429),
                      (500, 502), (502, 502), (503, 503), (504, 504), (301, 502)])
    func statusMapping(upstream: Int, client: Int) {
        #expect(http(upstream).clientStatus == client)
    }

    @Test("retryable: refused, failed, reset, timeouts, 429 and 5xx — and nothing after output began")
    func retryable() {
        let route = "POST /v1/completions"
        #expect(UpstreamError(.connectRefused, route: route).isRetryable)
        #expect(UpstreamError(.connectFailed, route: route).isRetryable)
        #expect(UpstreamError(.connectionReset, route: route).isRetryable)
        #expect(UpstreamError(.timeout, route: route, timeoutPhase: .firstByte).isRetryable)
        #expect(http(429).isRetryable)
        #expect(http(500).isRetryable)
        #expect(http(503).isRetryable)
        #expect(!http(400).isRetryable)
        #expect(!http(401).isRetryable)
        #expect(!UpstreamError(.tls, route: route).isRetryable)
        #expect(!UpstreamError(.streamCut, route: route, afterOutput: true).isRetryable)
        #expect(!UpstreamError(.timeout, route: route, timeoutPhase: .total, afterOutput: true).isRetryable)
        #expect(!UpstreamError(.cancelled, route: route).isRetryable)
        #expect(UpstreamError(.timeout, route: route, timeoutPhase: .total).clientStatus == 504)
        #expect(UpstreamError(.connectRefused, route: route).clientStatus == 503)
    }

    @Test("a 400's sanitised upstream message reaches the client; a 500's does not")
    func clientMessages() {
        #expect(http(400, message: "maximum context length is 2048").clientMessage.contains("maximum context length is 2048"))
        #expect(!http(500, message: "stack trace at worker 3").clientMessage.contains("stack trace"))
        #expect(http(500, message: "stack trace at worker 3").logMessage.contains("stack trace"))
        #expect(http(429, retryAfter: 7).logMessage.contains("retry after 7 s"))
    }

    @Test("the redactor removes the key, the upstream's URL, host and any address or URL")
    func redaction() throws {
        let endpoint = try UpstreamEndpoint(baseURL: "http://vllm.internal:8000/v1", model: "m",
                                            apiKey: try UpstreamAPIKey("sk-secret-key"))
        let redactor = Redactor(endpoint: endpoint)
        let text = redactor.redact(
            "Failed to connect to vllm.internal port 8000 (10.1.2.3:8000) via http://vllm.internal:8000/v1/x with sk-secret-key\n[fe80::1]:80 https://other.example/path")
        for leak in ["vllm.internal", "10.1.2.3", "sk-secret-key", "http://", "https://", "fe80", "\n"] {
            #expect(!text.contains(leak), "\(text)")
        }
        #expect(redactor.redact(String(repeating: "a", count: 1000)).count <= Redactor.maximumLength + 1)
    }

    @Test("Retry-After in seconds or as an HTTP date")
    func retryAfter() {
        #expect(RetryAfter.seconds(from: "7") == 7)
        #expect(RetryAfter.seconds(from: " 0 ") == 0)
        #expect(RetryAfter.seconds(from: "99999999999999999999999") == RetryAfter.maximumSeconds)
        let now = Date(timeIntervalSince1970: 1_000_000_000)  // Sun, 09 Sep 2001 01:46:40 GMT
        #expect(RetryAfter.seconds(from: "Sun, 09 Sep 2001 01:46:50 GMT", now: now) == 10)
        #expect(RetryAfter.seconds(from: "Sun, 09 Sep 2001 01:40:00 GMT", now: now) == 0)
        #expect(RetryAfter.seconds(from: "soon") == nil)
        #expect(RetryAfter.seconds(from: "-3") == nil)
    }

    @Test("error bodies of the common servers yield their message",
          arguments: [
            (#"{"error":{"message":"bad input","type":"invalid_request_error"}}"#, "bad input"),
            (#"{"object":"error","message":"too long","code":400}"#, "too long"),
            (#"{"error":"Input validation error","error_type":"validation"}"#, "Input validation error"),
            (#"{"detail":"Not Found"}"#, "Not Found"),
            (#"{"detail":[{"msg":"field required"},{"msg":"bad type"}]}"#, "field required; bad type"),
            ("plain text failure", "plain text failure"),
          ])
    func errorBodies(body: String, message: String) {
        #expect(UpstreamErrorBody.message(in: Array(body.utf8)) == message)
    }
}
