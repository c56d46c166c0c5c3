#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Glibc
import Testing
import TestKit

/// A second infer stack as the upstream of the first: stack B serves the built-in smollm2 and minilm;
/// stack A's registry has `"engine": "openai"` deployments whose url is B's `/v1`, with B's API key in
/// the variable `api_key_env` names. What A relays must be what B answers directly, A's replies name A's
/// deployment, and B's key never shows in A's replies or logs. Over https, haproxy terminates TLS in front
/// of B with certificates of a test CA, which A trusts only inside its own mount namespace (a bundle bound
/// over the system one, as `BindReadOnlyPaths=` does under systemd).
@Suite("a second infer stack as the upstream of the first", .serialized, .timeLimit(.minutes(5)))
struct InferUpstreamTests {
    /// The variable of stack A's environment file that holds B's key.
    static let keyVariable = "STACK_B_API_KEY"
    /// Where FoundationNetworking (libcurl) reads its trusted CAs on Debian.
    static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"
    static let messages: [[String: String]] = [["role": "user", "content": "What is the capital of France?"]]

    /// Stack B, ready: the built-in smollm2 (chat) and minilm (embeddings), with the standard keys.
    static func startB() throws -> StackRun {
        let b = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], realDaemons: true)
        guard b.wait(.seconds(120), until: { b.isReady }) else {
            throw HarnessError("stack B did not become ready: \(b.standardError.suffix(2000))")
        }
        return b
    }

    /// Stack A, ready (or not: `launcher` may be meant to fail), with B's key in its environment file.
    static func startA(bKey: String, entries: [String], launcher: [String] = []) throws -> StackRun {
        try StackRun(models: [], environmentFile: ["\(keyVariable)=\(bKey)"], realDaemons: true,
                     extraRegistryEntries: entries, launcher: launcher)
    }

    /// A registry entry of stack A for one of B's models.
    static func entry(_ name: String, kind: String = "chat", url: String, upstreamModel: String, _ extra: String = "") -> String {
        #"{"name": "\#(name)", "kind": "\#(kind)", "engine": "openai", "url": "\#(url)", "upstream_model": "\#(upstreamModel)", "api_key_env": "\#(keyVariable)"\#(extra)}"#
    }

    static func baseURL(_ stack: StackRun) throws -> String {
        "http://127.0.0.1:\(try #require(stack.port("http")))/v1"
    }

    static func usage(_ reply: OpenAICalls.Reply) -> [Int?] {
        let usage = reply.json["usage"] as? [String: Any]
        return [usage?["prompt_tokens"] as? Int, usage?["completion_tokens"] as? Int]
    }

    @Test("chat (JSON and stream), completions and embeddings through A equal B's own answers; A's headers name A's deployment; B's key stays out of A's replies and logs")
    func relaysStackB() async throws {
        let b = try Self.startB()
        defer { _ = b.stop() }
        let bKey = try b.key("unlimited")
        let bURL = try Self.baseURL(b)
        let a = try Self.startA(bKey: bKey, entries: [
            Self.entry("b-chat", url: bURL, upstreamModel: "smollm2", #", "price_input_per_1m": 1, "price_output_per_1m": 2"#),
            Self.entry("b-embed", kind: "embedding", url: bURL, upstreamModel: "minilm"),
        ])
        defer { _ = a.stop() }
        try #require(a.wait(.seconds(60)) { a.isReady }, "stack A did not become ready: \(a.standardError.suffix(2000))")
        let aKey = try a.key("unlimited")
        let aURL = try Self.baseURL(a)
        var replies: [OpenAICalls.Reply] = []

        let chat: [String: Any] = ["messages": Self.messages, "temperature": 0, "max_tokens": 16]
        let direct = try OpenAICalls.post(bURL + "/chat/completions", chat.merging(["model": "smollm2"]) { $1 }, key: bKey)
        let relayed = try OpenAICalls.post(aURL + "/chat/completions", chat.merging(["model": "b-chat"]) { $1 }, key: aKey)
        replies.append(relayed)
        #expect(direct.status == 200 && relayed.status == 200, "\(relayed.text)")
        let directText = try #require(OpenAICalls.chatText(direct.body))
        #expect(!directText.isEmpty)
        #expect(OpenAICalls.chatText(relayed.body) == directText)
        #expect(OpenAICalls.firstChoice(relayed.body)?["finish_reason"] as? String
                    == OpenAICalls.firstChoice(direct.body)?["finish_reason"] as? String)
        // B sends its usage in the stream A's modeld reads, so A's counts are B's exactly.
        #expect(Self.usage(relayed) == Self.usage(direct) && Self.usage(direct).allSatisfy { ($0 ?? 0) > 0 })
        #expect(relayed.headers["x-infer-deployment"] == "b-chat")
        #expect(relayed.json["model"] as? String == "b-chat")
        let tokens = Self.usage(relayed).map { Double($0 ?? 0) }
        #expect(abs((Double(relayed.headers["x-infer-cost"] ?? "") ?? -1) - (tokens[0] * 1e-6 + tokens[1] * 2e-6)) < 1e-9)

        // A seed changes A's cache key (the answer stays greedy), so the stream is relayed from B, not a hit.
        let streamed = try OpenAICalls.post(aURL + "/chat/completions", chat.merging([
            "model": "b-chat", "stream": true, "seed": 1, "stream_options": ["include_usage": true],
        ]) { $1 }, key: aKey)
        replies.append(streamed)
        #expect(streamed.status == 200)
        #expect(streamed.headers["x-infer-deployment"] == "b-chat")
        #expect(streamed.headers["x-cache"] == "MISS")
        #expect(OpenAICalls.streamedText(streamed.body) == directText)
        let lastUsage = OpenAICalls.events(streamed.body).last?["usage"] as? [String: Any]
        #expect([lastUsage?["prompt_tokens"] as? Int, lastUsage?["completion_tokens"] as? Int] == Self.usage(direct))
        #expect(String(decoding: streamed.body, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))

        let completion: [String: Any] = ["prompt": "The capital of France is", "temperature": 0, "max_tokens": 8]
        let directCompletion = try OpenAICalls.post(bURL + "/completions", completion.merging(["model": "smollm2"]) { $1 }, key: bKey)
        let relayedCompletion = try OpenAICalls.post(aURL + "/completions", completion.merging(["model": "b-chat"]) { $1 }, key: aKey)
        replies.append(relayedCompletion)
        #expect(relayedCompletion.status == 200, "\(relayedCompletion.text)")
        #expect(OpenAICalls.completionText(relayedCompletion.body) != nil)
        #expect(OpenAICalls.completionText(relayedCompletion.body) == OpenAICalls.completionText(directCompletion.body))
        #expect(Self.usage(relayedCompletion) == Self.usage(directCompletion))
        #expect(relayedCompletion.headers["x-infer-deployment"] == "b-chat")
        let streamedCompletion = try OpenAICalls.post(aURL + "/completions", completion.merging([
            "model": "b-chat", "stream": true, "seed": 3]) { $1 }, key: aKey)
        replies.append(streamedCompletion)
        #expect(streamedCompletion.status == 200)
        let pieces = OpenAICalls.events(streamedCompletion.body).compactMap { object in
            (object["choices"] as? [[String: Any]])?.first?["text"] as? String
        }
        #expect(pieces.joined() == OpenAICalls.completionText(directCompletion.body))

        let embed: [String: Any] = ["input": ["hello world", "infer"], "encoding_format": "float"]
        let directEmbed = try OpenAICalls.post(bURL + "/embeddings", embed.merging(["model": "minilm"]) { $1 }, key: bKey)
        let relayedEmbed = try OpenAICalls.post(aURL + "/embeddings", embed.merging(["model": "b-embed"]) { $1 }, key: aKey)
        replies.append(relayedEmbed)
        #expect(relayedEmbed.status == 200, "\(relayedEmbed.text)")
        let vectors = OpenAICalls.vectors(directEmbed.body)
        #expect(vectors.count == 2 && vectors.allSatisfy { $0.count == 384 })
        #expect(OpenAICalls.sameVectors(vectors, OpenAICalls.vectors(relayedEmbed.body)))
        #expect(Self.usage(relayedEmbed)[0] == Self.usage(directEmbed)[0])
        #expect(relayedEmbed.headers["x-infer-deployment"] == "b-embed")

        for reply in replies { #expect(!reply.text.contains(bKey), "B's key in a reply of A") }
        #expect(!a.standardError.contains(bKey) && !a.standardOutput.contains(bKey), "B's key in A's logs")
        let metricsPort = try #require(a.port("metrics-http"))
        var metrics = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(metricsPort)/metrics")))
        metrics.timeoutInterval = 30
        let scrape = String(decoding: try await URLSession.shared.data(for: metrics).0, as: UTF8.self)
        #expect(scrape.contains("b-chat") && !scrape.contains(bKey), "B's key in A's metrics")
        #expect(a.logLines().contains { $0["daemon"] as? String == "modeld" }, "A's logs were not read")
    }

    @Test("over https through haproxy: A trusts the CA its entry names in its own mount namespace; a wrong name or an unknown CA fails requests with 502; a CA outside the store stops modeld with exit 78",
          .enabled(if: TLSFixture.available, "needs the openssl command (apt-get install -y openssl)"),
          .enabled(if: MountNamespace.available,
                   "needs root and `unshare --mount` (a private mount namespace to bind the CA bundle in, as systemd's BindReadOnlyPaths= does), which this machine refuses"),
          .enabled(if: FileManager.default.fileExists(atPath: systemBundle), "needs Debian's CA bundle \(systemBundle) (ca-certificates)"))
    func https() async throws {
        let b = try Self.startB()
        defer { _ = b.stop() }
        let bKey = try b.key("unlimited")
        let bURL = try Self.baseURL(b)
        let trusted = try await TLSFixture.make()
        defer { trusted.remove() }
        let unknown = try await TLSFixture.make()
        defer { unknown.remove() }
        let wrongName = try await trusted.issue("wrong-name", subjectAltName: "DNS:wrong-name.invalid")
        let proxy = try await TLSProxy(
            certificates: [trusted.directory + "/server.pem", wrongName, unknown.directory + "/server.pem"],
            backendPort: try #require(b.port("http")))
        defer { proxy.stop() }
        let url = proxy.ports.map { "https://127.0.0.1:\($0)/v1" }
        // What an operator does (docs/OPERATIONS.md "Adding an upstream"): the system bundle plus the CA,
        // bound over the system bundle for infer's services alone.
        let namespace = MountNamespace.binding(try trusted.bundle(addingTo: Self.systemBundle), over: Self.systemBundle)
        let caFile = #", "ca_file": "\#(trusted.caFile)""#
        let a = try Self.startA(bKey: bKey, entries: [
            Self.entry("b-tls", url: url[0], upstreamModel: "smollm2", caFile),
            Self.entry("b-wrong-name", url: url[1], upstreamModel: "smollm2", caFile),
            Self.entry("b-unknown-ca", url: url[2], upstreamModel: "smollm2"),
        ], launcher: namespace)
        defer { _ = a.stop() }
        try #require(a.wait(.seconds(60)) { a.isReady }, "stack A did not become ready: \(a.standardError.suffix(2000))")
        let aKey = try a.key("unlimited")
        let aURL = try Self.baseURL(a)

        let chat: [String: Any] = ["messages": Self.messages, "temperature": 0, "max_tokens": 12]
        let direct = try OpenAICalls.post(bURL + "/chat/completions", chat.merging(["model": "smollm2"]) { $1 }, key: bKey)
        let relayed = try OpenAICalls.post(aURL + "/chat/completions", chat.merging(["model": "b-tls"]) { $1 }, key: aKey)
        #expect(relayed.status == 200, "\(relayed.text)")
        #expect(OpenAICalls.chatText(relayed.body) != nil && OpenAICalls.chatText(relayed.body) == OpenAICalls.chatText(direct.body))
        #expect(relayed.headers["x-infer-deployment"] == "b-tls")
        let streamed = try OpenAICalls.post(aURL + "/chat/completions", chat.merging(["model": "b-tls", "stream": true, "seed": 2]) { $1 }, key: aKey)
        #expect(streamed.status == 200)
        #expect(OpenAICalls.streamedText(streamed.body) == OpenAICalls.chatText(direct.body))

        // The certificate is verified: its name, and the CA that signed it.
        for model in ["b-wrong-name", "b-unknown-ca"] {
            let refused = try OpenAICalls.post(aURL + "/chat/completions", chat.merging(["model": model]) { $1 }, key: aKey)
            #expect(refused.status == 502, "\(model): \(refused.text)")
            #expect(OpenAICalls.chatText(refused.body) == nil)
            #expect(!refused.text.contains("127.0.0.1") && !refused.text.contains(bKey), "\(refused.text)")
            let logged = a.logLines().contains {
                $0["deployment"] as? String == model && ($0["error"] as? String ?? "").contains("TLS failure")
            }
            #expect(logged, "no TLS failure logged for \(model)")
        }
        #expect(!a.standardError.contains(bKey))

        // A CA that is not in the store (even with the namespace's bundle) stops that modeld at start with
        // exit 78, and inferctl with it, saying how to add the CA.
        let stopped = try Self.startA(bKey: bKey, entries: [
            Self.entry("b-other-ca", url: url[2], upstreamModel: "smollm2", #", "ca_file": "\#(unknown.caFile)""#),
        ], launcher: namespace)
        #expect(stopped.exitCode(timeout: .seconds(60)) == 78, "\(stopped.standardError.suffix(2000))")
        let message = stopped.logLines().first { $0["daemon"] as? String == "modeld" && ($0["msg"] as? String ?? "").contains("CA file") }
        let text = message?["msg"] as? String ?? ""
        #expect(text.contains("not in the trust store") && text.contains("BindReadOnlyPaths"), "modeld's message: \(stopped.standardError.suffix(2000))")
    }
}
