import APIKeys
import Foundation
import Testing
import TestKit

/// A key's expiry and model allow-list, honoured on every route that takes a key, through the real
/// daemons under `inferctl up` (docs/HTTP.md, docs/SECURITY.md).
@Suite("key expiry and model allow-lists on every route", .serialized)
struct KeyPolicyTests {
    /// Every route that takes a key: method, path, body (empty for none).
    static let keyedRoutes: [(String, String, String)] = [
        ("GET", "/v1/models", ""), ("GET", "/v1/usage", ""), ("GET", "/v1/metrics/summary", ""), ("GET", "/v1/metrics/cache", ""),
        ("GET", "/v1/metrics/cost", ""), ("GET", "/v1/cache/stats", ""), ("DELETE", "/v1/cache", ""), ("GET", "/v1/jobs/job_0", ""),
        ("POST", "/v1/chat/completions", chat("smollm2", "Hi")), ("POST", "/v1/chat/completions", chat("smollm2", "Hi", stream: true)),
        ("POST", "/v1/completions", #"{"model":"smollm2","prompt":"Hi","max_tokens":2}"#),
        ("POST", "/v1/embeddings", #"{"model":"minilm","input":"Hi"}"#),
        ("POST", "/v1/infer", #"{"model":"smollm2","prompt":"Hi","params":{"max_new_tokens":2}}"#),
        ("POST", "/v1/infer/stream", #"{"model":"smollm2","prompt":"Hi","params":{"max_new_tokens":2}}"#),
        ("POST", "/v1/batch", #"{"requests":[{"model":"smollm2","prompt":"Hi","params":{"max_new_tokens":2}}]}"#),
    ]

    /// A greedy chat body for `model`, in `namespace` when given.
    static func chat(_ model: String, _ prompt: String, stream: Bool = false, namespace: String? = nil) -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(prompt)"}],"max_tokens":4,"temperature":0"#
            + (stream ? #","stream":true"# : "") + (namespace.map { #","cache":{"namespace":"\#($0)"}"# } ?? "") + "}"
    }

    /// curl's answer to `method path` with `key` (and a JSON body, and more headers).
    static func call(_ url: String, _ method: String, _ path: String, key: String, body: String = "", headers: [String] = []) -> CurlResult {
        var arguments = ["-X", method, "-H", "Authorization: Bearer \(key)"]
        for h in headers { arguments += ["-H", h] }
        if !body.isEmpty { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        return curl(arguments + [url + path])
    }

    static func errorCode(_ r: CurlResult) -> String? {
        let o = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any]
        return (o?["error"] as? [String: Any])?["code"] as? String
    }

    static func modelIDs(_ r: CurlResult) -> [String] {
        let o = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any]
        return (o?["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }.sorted()
    }

    /// Rewrites one key of the stack's keys file (as `inferctl keys update` would: a new file by rename).
    static func update(_ run: StackRun, key name: String, _ change: (inout APIKeyEntry) -> Void) throws {
        var file = try APIKeyFile.load(path: run.keysFile)
        let i = try #require(file.keys.firstIndex { $0.name == name })
        change(&file.keys[i])
        try file.write(to: run.keysFile)
    }

    @Test("restricted keys see only their models in /v1/models, get 403 model_not_allowed on every generating route, batch items included, and never a cached answer or an idempotent replay of another model; an expired key gets 401 expired_api_key on every keyed route")
    func expiryAndAllowLists() async throws {
        let keys = [HarnessKey.fixed("policy-admin"),
                    HarnessKey(name: "chatonly", scopes: "infer,embed", rpm: 100_000, flags: ["--models", "smollm2"]),
                    HarnessKey(name: "embedonly", scopes: "infer,embed", rpm: 100_000, flags: ["--models", "minilm"]),
                    HarnessKey(name: "soon", scopes: "infer,embed", rpm: 100_000, flags: ["--models", "smollm2"])]
        let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], environmentFile: ["CACHE_SCOPE=namespace"],
                               realDaemons: true, apiKeys: keys, prices: ["smollm2": (1.0, 2.0), "minilm": (0.5, 0)])
        #expect(run.wait(.seconds(120)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let url = "http://127.0.0.1:\(try #require(run.port("http")))"
        let admin = "policy-admin", chatOnly = try run.key("chatonly"), embedOnly = try run.key("embedonly"), soon = try run.key("soon")

        // GET /v1/models: only what the key may use.
        #expect(Self.modelIDs(Self.call(url, "GET", "/v1/models", key: admin)) == ["minilm", "smollm2"])
        #expect(Self.modelIDs(Self.call(url, "GET", "/v1/models", key: chatOnly)) == ["smollm2"])
        #expect(Self.modelIDs(Self.call(url, "GET", "/v1/models", key: embedOnly)) == ["minilm"])

        // Every generating route refuses a model outside the list with 403 model_not_allowed, streams
        // before any event; a model that does not exist gets the same 403 (no oracle for model names).
        for (method, path, body) in Self.keyedRoutes where method == "POST" {
            let key = path == "/v1/embeddings" ? chatOnly : embedOnly
            let r = Self.call(url, method, path, key: key, body: body)
            #expect(r.status == 403 && Self.errorCode(r) == "model_not_allowed", "\(path): \(r.status) \(r.body)")
            #expect(!(r.headers["content-type"] ?? "").contains("event-stream"), "\(path) started a stream")
        }
        let unknown = Self.call(url, "POST", "/v1/chat/completions", key: embedOnly, body: Self.chat("no-such-model", "Hi"))
        #expect(unknown.status == 403 && Self.errorCode(unknown) == "model_not_allowed", "\(unknown.body)")
        // An unrestricted key still learns that a model does not exist.
        #expect(Self.call(url, "POST", "/v1/chat/completions", key: admin, body: Self.chat("no-such-model", "Hi")).status == 404)

        // A batch is checked item by item, not only on its first item's model.
        let mixed = #"{"requests":[{"model":"smollm2","prompt":"Hi","params":{"max_new_tokens":2}},{"model":"other-chat","prompt":"Hi"}]}"#
        let batch = Self.call(url, "POST", "/v1/batch", key: chatOnly, body: mixed)
        #expect(batch.status == 403 && Self.errorCode(batch) == "model_not_allowed" && batch.body.contains("requests[1].model"), "\(batch.body)")

        // A cached answer is not a way around the list: with CACHE_SCOPE=namespace the admin key's answer in
        // namespace "team" serves the chat-only key, but not the embedding-only key.
        let shared = Self.chat("smollm2", "Name a planet.", namespace: "team")
        #expect(Self.call(url, "POST", "/v1/chat/completions", key: admin, body: shared).status == 200)
        let hit = Self.call(url, "POST", "/v1/chat/completions", key: chatOnly, body: shared)
        #expect(hit.status == 200 && hit.headers["x-cache"] == "HIT", "\(hit.status) \(hit.headers)")
        let refusedHit = Self.call(url, "POST", "/v1/chat/completions", key: embedOnly, body: shared)
        #expect(refusedHit.status == 403 && refusedHit.headers["x-cache"] == nil && !refusedHit.body.contains("choices"), "\(refusedHit.body)")

        // Nor is an idempotent replay: the key's answer is kept, then the key loses the model.
        let once = Self.chat("smollm2", "Name a river.")
        let first = Self.call(url, "POST", "/v1/chat/completions", key: chatOnly, body: once, headers: ["Idempotency-Key: policy-1"])
        #expect(first.status == 200, "\(first.body)")
        let replay = Self.call(url, "POST", "/v1/chat/completions", key: chatOnly, body: once, headers: ["Idempotency-Key: policy-1"])
        #expect(replay.headers["idempotent-replayed"] == "true")
        try Self.update(run, key: "chatonly") { $0.models = ["minilm"] }
        #expect(await eventually(.seconds(5)) {
            let r = Self.call(url, "POST", "/v1/chat/completions", key: chatOnly, body: once, headers: ["Idempotency-Key: policy-1"])
            return r.status == 403 && Self.errorCode(r) == "model_not_allowed" && r.headers["idempotent-replayed"] == nil
        }, "a key that lost the model still got the replay")
        #expect(Self.modelIDs(Self.call(url, "GET", "/v1/models", key: chatOnly)) == ["minilm"])

        // Expiry: the key works, then its time passes (no change to the file is needed), then every keyed route is 401.
        #expect(Self.call(url, "POST", "/v1/chat/completions", key: soon, body: once, headers: ["Idempotency-Key: soon-1"]).status == 200)
        let expiresAt = Int64(Date().timeIntervalSince1970) + 2
        try Self.update(run, key: "soon") { $0.expires = expiresAt }
        while Int64(Date().timeIntervalSince1970) < expiresAt { try await Task.sleep(for: .milliseconds(200)) }
        for (method, path, body) in Self.keyedRoutes {
            let r = Self.call(url, method, path, key: soon, body: body)
            #expect(r.status == 401 && Self.errorCode(r) == "expired_api_key" && r.headers["www-authenticate"] == "Bearer",
                    "\(method) \(path): \(r.status) \(r.body)")
        }
        let replayExpired = Self.call(url, "POST", "/v1/chat/completions", key: soon, body: once, headers: ["Idempotency-Key: soon-1"])
        #expect(replayExpired.status == 401 && replayExpired.headers["idempotent-replayed"] == nil)
        // The others keep working.
        #expect(Self.call(url, "GET", "/v1/models", key: admin).status == 200)

        // Spend is each tenant's own: /v1/metrics/cost shows a non-admin key only its own row, an admin every key's.
        let costRows = { (key: String) -> [String] in
            let o = (try? JSONSerialization.jsonObject(with: Data(Self.call(url, "GET", "/v1/metrics/cost", key: key).body.utf8))) as? [String: Any]
            return Set((o?["keys"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }).sorted()
        }
        #expect(await eventually(.seconds(5)) { Set(costRows(admin)).isSuperset(of: ["chatonly", "policy-admin"]) }, "\(costRows(admin))")
        #expect(costRows(chatOnly) == ["chatonly"], "\(costRows(chatOnly))")
        #expect(costRows(embedOnly).isEmpty, "\(costRows(embedOnly))")
        #expect(run.stop() == 0)
    }
}
