import Foundation
import Glibc
import Spawn
import Testing
import TestKit

/// CORS_ORIGINS on the real stack, driven with curl as a browser's requests would look.
@Suite("CORS on the real stack", .serialized)
struct CORSTests {
    static let app = "https://app.example.com"

    /// Boots a stack with `CORS_ORIGINS=origins` and returns it with frontd's base URL.
    private func stack(_ origins: String) throws -> (StackRun, String) {
        let run = try StackRun(models: [("smollm2", "chat")], environmentFile: ["CORS_ORIGINS=\(origins)"], realDaemons: true, apiKeys: [.fixed("cors-key")])
        #expect(run.wait(.seconds(120)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        return (run, "http://127.0.0.1:\(port)")
    }

    private func preflight(_ url: String, origin: String, method: String = "POST", headers: String? = nil) -> CurlResult {
        var arguments = ["-X", "OPTIONS", "-H", "Origin: \(origin)", "-H", "Access-Control-Request-Method: \(method)"]
        if let headers { arguments += ["-H", "Access-Control-Request-Headers: \(headers)"] }
        return curl(arguments + [url])
    }

    @Test("an allow-list: preflights allowed and refused, headers on simple requests and errors, nothing without Origin")
    func allowList() throws {
        let (run, base) = try stack("\(Self.app), http://localhost:3000")

        // An allowed preflight: no credentials needed, 204 with what the browser asks for.
        let ok = preflight(base + "/v1/chat/completions", origin: Self.app, headers: "content-type, authorization, x-stainless-os")
        #expect(ok.status == 204, "\(ok.status) \(ok.body)")
        #expect(ok.headers["access-control-allow-origin"] == Self.app)
        #expect(ok.headers["access-control-allow-credentials"] == "true")
        #expect(ok.headers["access-control-allow-methods"] == "POST")
        #expect(ok.headers["access-control-allow-headers"] == "content-type, authorization, x-stainless-os")
        #expect(ok.headers["access-control-max-age"] == "600")
        #expect(ok.headers["vary"] == "Origin")
        #expect(ok.headers["x-request-id"] != nil)
        let health = preflight(base + "/health", origin: "http://localhost:3000", method: "GET")
        #expect(health.status == 204 && health.headers["access-control-allow-methods"] == "GET, HEAD")
        #expect(health.headers["access-control-allow-origin"] == "http://localhost:3000")
        // Without Access-Control-Request-Headers, the default list.
        #expect(health.headers["access-control-allow-headers"] == "Authorization, Content-Type, Idempotency-Key, X-Request-ID")

        // A preflight from another origin: 403 in the error shape, and no CORS header at all.
        let refused = preflight(base + "/v1/chat/completions", origin: "https://evil.example")
        #expect(refused.status == 403)
        #expect(refused.body.contains("\"cors_origin_not_allowed\""))
        #expect(refused.headers.keys.filter { $0.hasPrefix("access-control-") }.isEmpty, "\(refused.headers)")
        #expect(refused.headers["x-request-id"] != nil)
        let lookalike = preflight(base + "/v1/chat/completions", origin: Self.app + ".evil.example")
        #expect(lookalike.status == 403)
        // A preflight for a path no route serves.
        #expect(preflight(base + "/v1/nope", origin: Self.app).status == 404)

        // Simple requests: the allowed origin gets its headers, on success and on errors alike.
        let get = curl(["-H", "Origin: \(Self.app)", base + "/health"])
        #expect(get.status == 200)
        #expect(get.headers["access-control-allow-origin"] == Self.app)
        #expect(get.headers["access-control-allow-credentials"] == "true")
        #expect(get.headers["access-control-expose-headers"] == "X-Request-ID, X-Cache, Retry-After")
        #expect(get.headers["vary"] == "Origin")
        let missing = curl(["-H", "Origin: \(Self.app)", base + "/v1/nope"])
        #expect(missing.status == 404 && missing.headers["access-control-allow-origin"] == Self.app)
        let invalid = curl(["-H", "Origin: \(Self.app)", "-H", "Content-Type: application/json", "-H", "Authorization: Bearer cors-key", "-d", "{", base + "/v1/chat/completions"])
        #expect(invalid.status == 400 && invalid.headers["access-control-allow-origin"] == Self.app)
        let chat = curl(["-H", "Origin: \(Self.app)", "-H", "Content-Type: application/json", "-H", "Authorization: Bearer cors-key",
                         "-d", PipelineTests.chatBody("Hi", maxTokens: 1), base + "/v1/chat/completions"])
        #expect(chat.status == 200, "\(chat.body)")
        #expect(chat.headers["access-control-allow-origin"] == Self.app && chat.headers["x-cache"] != nil)

        // Another origin's simple request is answered (the browser hides it), without CORS headers.
        let other = curl(["-H", "Origin: https://evil.example", base + "/health"])
        #expect(other.status == 200 && other.headers["access-control-allow-origin"] == nil)
        #expect(other.headers["vary"] == "Origin")
        // No Origin (not a browser): no CORS header.
        #expect(curl([base + "/health"]).headers["access-control-allow-origin"] == nil)
        #expect(run.stop() == 0)
    }

    @Test("*: any origin, answered with * and never with credentials")
    func wildcard() throws {
        let (run, base) = try stack("*")
        let get = curl(["-H", "Origin: https://anywhere.example", base + "/health"])
        #expect(get.status == 200)
        #expect(get.headers["access-control-allow-origin"] == "*")
        #expect(get.headers["access-control-allow-credentials"] == nil)
        #expect(get.headers["access-control-expose-headers"] == "X-Request-ID, X-Cache, Retry-After")
        let pre = preflight(base + "/v1/chat/completions", origin: "https://anywhere.example")
        #expect(pre.status == 204)
        #expect(pre.headers["access-control-allow-origin"] == "*" && pre.headers["access-control-allow-credentials"] == nil)
        #expect(pre.headers["access-control-allow-methods"] == "POST")
        #expect(run.stop() == 0)
    }

    @Test("CORS off (the default): no CORS header, preflights refused, OPTIONS still answers Allow")
    func off() throws {
        let run = try StackRun(models: [("smollm2", "chat")], realDaemons: true, apiKeys: [.fixed("cors-key")])
        #expect(run.wait(.seconds(120)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let base = "http://127.0.0.1:\(try #require(run.port("http")))"
        #expect(curl(["-H", "Origin: \(Self.app)", base + "/health"]).headers["access-control-allow-origin"] == nil)
        #expect(preflight(base + "/v1/chat/completions", origin: Self.app).status == 403)
        let options = curl(["-X", "OPTIONS", base + "/v1/chat/completions"])
        #expect(options.status == 204 && options.headers["allow"] == "POST, OPTIONS")
        #expect(run.stop() == 0)
    }

    @Test("a CORS_ORIGINS or HTTP timeout that is not valid stops frontd with exit 78 naming the variable",
          arguments: [("CORS_ORIGINS", "https://app.example.com/path"), ("CORS_ORIGINS", "app.example.com"),
                      ("CORS_ORIGINS", "*, https://app.example.com"), ("HTTP_HEADER_TIMEOUT_SEC", "0"),
                      ("HTTP_IDLE_TIMEOUT_SEC", "forever")])
    func badSetting(_ name: String, _ value: String) throws {
        let directory = try TemporaryDirectory()
        let frontd = try PipedProgram(builtProduct("frontd"), [],
                                      environment: ["PATH": "/usr/bin:/bin", "INFER_RUNTIME_DIR": directory.path, "PORT": "0", name: value],
                                      output: .null, error: .pipe)
        let text = String(decoding: frontd.readError(), as: UTF8.self)
        let status = frontd.finish(timeout: .seconds(30))
        #expect(status == .exited(78), "\(status): \(text)")
        #expect(text.contains(name), "\(text)")
    }
}
