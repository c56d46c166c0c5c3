import Foundation
import Testing
import TestKit

/// Secrets never reach a log: a stack at LOG_LEVEL=debug with API keys, an upstream credential and a
/// webhook secret, driven through successes and failures (a wrong key, an upstream error, a refused
/// webhook), then every daemon's log lines, the state files and the metrics are searched for each secret.
@Suite("no secret in any log")
struct SecretsInLogsTests {
    @Test("keys, the upstream's credential and the webhook secret appear in no log, state file or metric")
    func noSecretAnywhere() async throws {
        let upstreamKey = "sk-upstream-" + UUID().uuidString
        let webhookSecret = "whsec-" + UUID().uuidString
        let upstream = try await ScriptedUpstream.start(["--api-key", upstreamKey])
        defer { upstream.stop() }
        let stack = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], environmentFile: [
            "RATE_LIMIT_RPM=1000000", "LOG_LEVEL=debug", "UPSTREAM_SECRET=\(upstreamKey)", "WEBHOOK_HMAC_SECRET=\(webhookSecret)",
        ], realDaemons: true, extraRegistryEntries: [
            #"{"name": "remote", "kind": "chat", "engine": "openai", "url": "\#(upstream.baseURL)", "api_key_env": "UPSTREAM_SECRET"}"#,
        ])
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "not ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http")), metrics = try #require(stack.port("metrics-http"))
        let keys = stack.keys.values.sorted()
        let key = try stack.key("unlimited")
        func post(_ path: String, _ body: String, key: String, headers: [String] = []) -> CurlResult {
            curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json"] + headers.flatMap { ["-H", $0] }
                 + ["-d", body, "http://127.0.0.1:\(port)" + path], timeout: 60)
        }
        #expect(post("/v1/chat/completions", #"{"model":"smollm2","messages":[{"role":"user","content":"Hi"}],"max_tokens":2}"#, key: key).status == 200)
        #expect(post("/v1/chat/completions", #"{"model":"remote","messages":[{"role":"user","content":"Hi"}],"max_tokens":2}"#, key: key).status == 200)
        // The upstream refuses (500): the error is relayed without its credential.
        try await upstream.setDefault(["behaviour": "error", "status": 500])
        let failed = post("/v1/chat/completions", #"{"model":"remote","messages":[{"role":"user","content":"Hi again"}],"max_tokens":2}"#, key: key)
        #expect(failed.status == 502 || failed.status == 503, "\(failed.status) \(failed.body)")
        try await upstream.setDefault(["behaviour": "ok"])
        // A wrong key, a key sent where a secret is expected, a webhook with a bad signature.
        #expect(curl(["-H", "Authorization: Bearer \(key)x", "http://127.0.0.1:\(port)/v1/models"]).status == 401)
        #expect(post("/webhooks/ingest", #"{"event_id":"e1"}"#, key: key,
                     headers: ["X-Infer-Signature: t=1,v1=\(webhookSecret)"]).status >= 400)
        let exposition = curl(["http://127.0.0.1:\(metrics)/metrics"]).body
        let states = (FileManager.default.enumerator(atPath: stack.directory.path)?.allObjects as? [String] ?? [])
            // The operator's own files hold secrets by design (the environment file, the keys file's digests).
            .filter { !$0.hasSuffix(".sock") && !$0.contains("keys.json") && $0 != "test.env" }
            .compactMap { try? String(contentsOfFile: stack.directory.path + "/" + $0, encoding: .utf8) }
        let places = [("the daemons' logs", stack.standardError), ("inferctl's output", stack.standardOutput), ("/metrics", exposition)]
            + states.enumerated().map { ("state file \($0.offset)", $0.element) }
        #expect(stack.standardError.count > 10_000, "debug logging wrote little: the search would prove nothing")
        for (name, text) in places {
            for secret in keys + [upstreamKey, webhookSecret] {
                #expect(!text.contains(secret), "a secret (\(secret.prefix(6))…) appears in \(name)")
            }
        }
        #expect(try await upstream.stats().requests(to: "/v1/chat/completions") >= 2, "the upstream was really called with its key")
    }
}
