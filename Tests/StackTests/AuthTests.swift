import APIKeys
import Foundation
import Glibc
import IPC
import Testing
import TestKit

/// API keys through the real stack under `inferctl up`, with curl: keys made by the built
/// `inferctl keys create`, checked by frontd, limited per key by limitd.
@Suite("API keys through the real stack", .serialized)
struct AuthTests {
    static let keys = [
        HarnessKey(name: "writer", scopes: "infer"),
        HarnessKey(name: "embedder", scopes: "embed"),
        HarnessKey(name: "reader", scopes: "none"),
        HarnessKey(name: "slow", scopes: "infer", rpm: 2),
    ]

    static func chatBody(_ content: String) -> String {
        #"{"model":"smollm2","messages":[{"role":"user","content":"\#(content)"}],"temperature":0,"max_tokens":1}"#
    }

    /// The error object of a JSON error reply.
    static func error(_ result: CurlResult) -> [String: Any]? {
        let object = try? JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any]
        return object?["error"] as? [String: Any]
    }

    @Test("401 without or with a wrong key, 403 without the scope, 200 with it; per-key rpm; a key created or revoked while frontd runs takes effect in seconds")
    func keysThroughTheStack() throws {
        let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], realDaemons: true, apiKeys: Self.keys)
        try #require(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let url = "http://127.0.0.1:\(port)"
        func post(_ path: String, _ body: String, key: String?) -> CurlResult {
            var arguments = ["-H", "Content-Type: application/json", "-d", body]
            if let key { arguments += ["-H", "Authorization: Bearer \(key)"] }
            return curl(arguments + [url + path])
        }
        func chat(_ key: String?) -> CurlResult { post("/v1/chat/completions", Self.chatBody("Hi"), key: key) }

        // The banner's curl lines tell where keys come from (none was shown: the file already had keys).
        #expect(run.standardOutput.contains("Authorization: Bearer $INFER_API_KEY"))
        #expect(run.standardOutput.contains(run.keysFile))

        // No key: 401, the one error shape, WWW-Authenticate, X-Request-ID.
        let missing = chat(nil)
        #expect(missing.status == 401)
        #expect(missing.headers["www-authenticate"] == "Bearer")
        #expect(Self.error(missing)?["type"] as? String == "authentication_error")
        #expect(Self.error(missing)?["code"] as? String == "invalid_api_key")
        #expect(Self.error(missing)?["request_id"] as? String == missing.headers["x-request-id"])
        #expect(missing.headers["x-request-id"]?.isEmpty == false)

        // A wrong key, a real key with its last character changed, the old default token, another scheme.
        let writer = try run.key("writer")
        let lastChanged = String(writer.dropLast()) + (writer.hasSuffix("A") ? "B" : "A")
        for bad in ["sk-infer-not-a-key", lastChanged, "changeme"] {
            let refused = chat(bad)
            #expect(refused.status == 401, "\(bad): \(refused.status) \(refused.body)")
            #expect(refused.headers["www-authenticate"] == "Bearer")
        }
        let basic = curl(["-u", "user:\(writer)", "-H", "Content-Type: application/json", "-d", Self.chatBody("Hi"), url + "/v1/chat/completions"])
        #expect(basic.status == 401)

        // An embed-only key on a generation route: 403 naming the scope; on embeddings: 200.
        let embedder = try run.key("embedder")
        let forbidden = chat(embedder)
        #expect(forbidden.status == 403, "\(forbidden.body)")
        #expect(Self.error(forbidden)?["code"] as? String == "insufficient_scope")
        #expect((Self.error(forbidden)?["message"] as? String)?.contains("\"infer\"") == true)
        let embedded = post("/v1/embeddings", #"{"model":"minilm","input":"hello"}"#, key: embedder)
        #expect(embedded.status == 200, "\(embedded.body)")
        #expect(post("/v1/embeddings", #"{"model":"minilm","input":"hello"}"#, key: writer).status == 403)

        // The right key: 200. A key with no scope may call routes that need any key, and open routes need none.
        let answered = chat(writer)
        #expect(answered.status == 200, "\(answered.body)")
        let reader = try run.key("reader")
        #expect(curl(["-H", "Authorization: Bearer \(reader)", url + "/v1/models"]).status == 200)
        #expect(curl([url + "/v1/models"]).status == 401)
        #expect(chat(reader).status == 403)
        #expect(curl([url + "/health"]).status == 200)

        // "slow" has its own 2 requests per minute: the third is refused with Retry-After while "writer"
        // (limitd's default, 60 a minute) is still admitted.
        let slow = try run.key("slow")
        let slowStatuses = (0..<3).map { _ in chat(slow) }
        #expect(slowStatuses.map(\.status) == [200, 200, 429], "\(slowStatuses.map(\.body))")
        let refused = try #require(slowStatuses.last)
        #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 >= 1)
        #expect(Self.error(refused)?["code"] as? String == "rate_limit_exceeded")
        #expect(chat(writer).status == 200)

        // A key created while frontd runs is accepted within a few seconds (frontd looks at the file at
        // most once a second); revoked, it is refused again.
        let made = try runInferctl(["keys", "create", "late", "--scopes", "infer", "--file", run.keysFile])
        try #require(made.status == 0, "\(made.stderr)")
        let late = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(run.wait(.seconds(5)) { chat(late).status == 200 }, "a new key was not accepted within 5 s")
        let revoked = try runInferctl(["keys", "revoke", "late", "--file", run.keysFile])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(run.wait(.seconds(5)) { chat(late).status == 401 }, "a revoked key was still accepted after 5 s")
        #expect(chat(writer).status == 200)

        // frontd logged what it loaded, never a key.
        let frontdLines = run.logLines().filter { $0["daemon"] as? String == "frontd" }
        #expect(frontdLines.contains { $0["msg"] as? String == "API keys loaded" })
        #expect(!run.standardError.contains(writer) && !run.standardError.contains(late))
        #expect(run.stop() == 0)
    }

    @Test("make run's way: --first-key creates a key with every scope when the file has none and shows it once in the banner; the key works")
    func firstKey() throws {
        let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], arguments: ["--first-key"],
                               realDaemons: true, apiKeys: [])
        try #require(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let banner = run.standardOutput
        let marker = try #require(banner.range(of: "Authorization: Bearer "), "no key in the banner:\n\(banner)")
        let key = String(banner[marker.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(key.hasPrefix(APIKeySecret.prefix) && key.count == APIKeySecret.prefix.count + 43, "\(key)")
        #expect(banner.contains("shown only this once"))
        let file = try APIKeyFile.load(path: run.keysFile)
        #expect(file.keys.map(\.name) == ["dev"])
        #expect(file.keys.first?.scopes == Set(APIKeyScope.allCases))
        #expect(file.keys.first?.digest == APIKeySecret.digest(key.utf8))
        // inferctl's log names the file and the key's id, never the key.
        #expect(!run.standardError.contains(key))
        let models = curl(["-H", "Authorization: Bearer \(key)", "http://127.0.0.1:\(port)/v1/models"])
        #expect(models.status == 200, "\(models.body)")
        let embedded = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json",
                             "-d", #"{"model":"minilm","input":"hello"}"#, "http://127.0.0.1:\(port)/v1/embeddings"])
        #expect(embedded.status == 200, "\(embedded.body)")
        #expect(run.stop() == 0)
    }
}
