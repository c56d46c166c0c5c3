import Foundation
import Testing
import TestKit

@testable import Upstream

/// `UpstreamClient.call` and `stream(path:)`: any route of the server, the body as written, and the
/// further headers a caller adds (what inferctl's client commands use against a whole gateway).
@Suite("UpstreamClient: any route of the server, bodies as written, further headers")
struct UpstreamAnyRouteTests {
    @Test("the body goes as written (its model is not rewritten); further headers are sent, unsafe ones dropped")
    func bodyAsWrittenAndHeaders() async throws {
        let server = try await ScriptedUpstream.start(["--api-key", "sk-right"])
        let client = try makeClient(server, apiKey: "sk-right")
        let body = Data(#"{"model":"public-name","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#.utf8)
        let headers = ["Cache-Control": "no-cache, no-store", "Authorization": "Bearer sk-other", "Bad Name": "x",
                       "X-Split": "a\r\nInjected: yes", "X-Trailing": "space "]
        let reply = try await client.call("POST", path: "/v1/chat/completions", body: body,
                                          options: UpstreamRequestOptions(extraHeaders: headers))
        #expect(reply.status == 200)
        #expect(reply.usage?.completionTokens == 4)
        #expect(try await server.lastRequestBody()["model"] as? String == "public-name")

        // The scripted upstream's own control route, outside /v1, through the same call.
        let stats = try await client.call("GET", path: "/control/stats").json()
        let last = try #require(stats["last_request"] as? [String: Any])
        let sent = try #require(last["headers"] as? [String: String])
        #expect(sent["cache-control"] == "no-cache, no-store")
        #expect(sent["authorization"] == "Bearer sk-right", "the endpoint's key, never a caller's header")
        #expect(sent["bad name"] == nil && sent["x-split"] == nil && sent["injected"] == nil && sent["x-trailing"] == nil)
    }

    @Test("a stream on any route: events as they come, to [DONE]")
    func streamAnyRoute() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let body = Data(#"{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#.utf8)
        let stream = try await client.stream(path: "/v1/chat/completions", body: body)
        var contents = 0
        var usage: UpstreamUsage?
        for try await event in stream {
            if event.data.contains("\"content\"") { contents += 1 }
            if let counted = event.usage { usage = counted }
        }
        #expect(contents == 4)
        #expect(usage?.completionTokens == 4)
    }

    @Test("an error status of any route is an UpstreamError with its status; a relative path is refused before sending")
    func errorsOfAnyRoute() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let missing = try #require(await expectUpstreamError { try await client.call("GET", path: "/no-such-route") })
        #expect(missing.kind == .http && missing.upstreamStatus == 404)
        let relative = try #require(await expectUpstreamError { try await client.call("GET", path: "health") })
        #expect(relative.kind == .invalidRequest)
        let method = try #require(await expectUpstreamError { try await client.call("get it", path: "/health") })
        #expect(method.kind == .invalidRequest)
        #expect(try await server.stats().requests(to: "/no-such-route") == 1)
    }

    @Test("absolute paths resolve next to the base URL's /v1, a prefix kept", arguments: [
        ("http://127.0.0.1:8080/v1", "/health", "http://127.0.0.1:8080/health"),
        ("http://127.0.0.1:8080/v1", "/v1/infer", "http://127.0.0.1:8080/v1/infer"),
        ("https://gw.example/api/v1", "/metrics", "https://gw.example/api/metrics"),
        ("http://127.0.0.1:8080/v1", "/v1/cache?model=a", "http://127.0.0.1:8080/v1/cache?model=a"),
    ])
    func absolutePaths(base: String, path: String, expected: String) throws {
        let endpoint = try UpstreamEndpoint(baseURL: base, model: "m")
        #expect(endpoint.url(ofAbsolutePath: path)?.absoluteString == expected)
        #expect(endpoint.url(ofAbsolutePath: "health") == nil)
        #expect(endpoint.url(ofAbsolutePath: "//other.host/x") == nil)
    }
}
