#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Glibc
import Testing
import TestKit

/// infer in front of a real upstream: llama.cpp's OpenAI-compatible server (PyPI's
/// `llama-cpp-python[server]`, `scripts/install-upstream-peers.sh`) serving the same SmolLM2 GGUF,
/// registered as an `"engine": "openai"` deployment. What infer relays must be what the server answers
/// directly: chat, streamed chat, completions and embeddings.
@Suite("infer in front of llama.cpp's server", .serialized, .timeLimit(.minutes(5)))
struct UpstreamPeerTests {
    /// tests-python/llama_server.py under .venv-peers, on a free port.
    final class LlamaServer: @unchecked Sendable {
        let port: Int
        private let program: PipedProgram

        private init(port: Int, program: PipedProgram) {
            self.port = port
            self.program = program
        }

        /// Starts the server and waits, on a thread of its own (never a cooperative one), for its port.
        static func start() async throws -> LlamaServer {
            let python = packageRoot + "/.venv-peers/bin/python"
            guard FileManager.default.isExecutableFile(atPath: python) else {
                throw HarnessError("\(python) is missing: run scripts/install-upstream-peers.sh")
            }
            let peer = try await PythonPeer.start(python: python, script: "llama_server.py", arguments: ["--quiet"],
                                                  portTimeout: .seconds(300))
            return LlamaServer(port: peer.port, program: peer.program)
        }

        /// Stops the server (SIGTERM; it exits 0) without waiting on a cooperative thread.
        func stop() {
            PythonPeer.stop(program)
        }

        deinit { stop() }

        var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    }

    @Test("a model whose only deployment is down streams from its fallback, every chunk naming the fallback")
    func fallbackStreamNamesTheAnsweringModel() async throws {
        let llama = try await LlamaServer.start()
        defer { llama.stop() }
        // Port 1 on loopback refuses every connection: the deployment fails at once, before any output.
        let stack = try StackRun(realDaemons: true, extraRegistryEntries: [
            #"{"name": "llama", "kind": "chat", "engine": "openai", "url": "\#(llama.baseURL)", "upstream_model": "smollm2", "price_input_per_1m": 1, "price_output_per_1m": 2}"#,
            #"{"name": "down", "kind": "chat", "engine": "openai", "url": "http://127.0.0.1:1/v1", "fallbacks": ["llama"]}"#,
        ])
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "the stack did not become ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http"))
        let key = try stack.key("unlimited")
        let body: [String: Any] = ["model": "down", "messages": [["role": "user", "content": "Say hi"]], "max_tokens": 4,
                                   "temperature": 0, "stream": true, "stream_options": ["include_usage": true]]
        let stream = try OpenAICalls.post("http://127.0.0.1:\(port)/v1/chat/completions", body, key: key)
        #expect(stream.status == 200)
        #expect(stream.headers["x-infer-fallback"] == "llama")
        #expect(stream.headers["x-infer-deployment"] == "llama")
        let chunks = OpenAICalls.events(stream.body)
        #expect(chunks.count >= 3, "role, text or finish, usage chunks: \(chunks)")
        #expect(chunks.allSatisfy { $0["model"] as? String == "llama" }, "every chunk names the fallback: \(chunks.map { $0["model"] ?? "?" })")
        let usage = chunks.compactMap { $0["usage"] as? [String: Any] }.first
        let completion = (usage?["completion_tokens"] as? Int) ?? -1
        #expect(abs(((usage?["cost"] as? NSNumber)?.doubleValue ?? -1) - Double(completion) * 2e-6) < 1e-9)
    }

    @Test("batchd's health probes find llama.cpp's server ready, so a deployment left idle stays in service")
    func idleDeploymentStaysInService() async throws {
        let llama = try await LlamaServer.start()
        defer { llama.stop() }
        // A probe after each idle second, and a breaker that opens at the second failure in a row: a probe
        // the server refuses (it once sent an X-Request-ID that is not a UUID, which llama-cpp-python
        // answers with 400) takes the deployment out within seconds, and the request below gets 503.
        let stack = try StackRun(environmentFile: ["CIRCUIT_BREAKER_PROBE_INTERVAL_SEC=1", "CIRCUIT_BREAKER_FAILURE_THRESHOLD=2"],
                                 realDaemons: true, extraRegistryEntries: [
            #"{"name": "llama", "kind": "chat", "engine": "openai", "url": "\#(llama.baseURL)", "upstream_model": "smollm2"}"#,
        ])
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "the stack did not become ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http"))
        let key = try stack.key("unlimited")
        try await Task.sleep(for: .seconds(6))
        let chat: [String: Any] = ["model": "llama", "messages": [["role": "user", "content": "Say hi"]], "temperature": 0, "max_tokens": 2]
        let reply = try OpenAICalls.post("http://127.0.0.1:\(port)/v1/chat/completions", chat, key: key)
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self)); \(stack.standardError.suffix(1500))")
        // A client's own request id that is not a UUID is echoed to the client but not sent upstream,
        // where llama-cpp-python would answer 400.
        let named = try OpenAICalls.post("http://127.0.0.1:\(port)/v1/chat/completions", chat.merging(["seed": 7]) { $1 }, key: key,
                                         headers: ["X-Request-ID": "client-request.42"])
        #expect(named.status == 200, "\(String(decoding: named.body, as: UTF8.self))")
        #expect(named.headers["x-request-id"] == "client-request.42")
    }

    @Test("chat, stream, completions and embeddings through infer match the server's own answers")
    func matchesDirectAnswers() async throws {
        let llama = try await LlamaServer.start()
        defer { llama.stop() }
        let stack = try StackRun(realDaemons: true, extraRegistryEntries: [
            #"{"name": "llama", "kind": "chat", "engine": "openai", "url": "\#(llama.baseURL)", "upstream_model": "smollm2", "price_input_per_1m": 1, "price_output_per_1m": 2}"#,
            #"{"name": "llama-embed", "kind": "embedding", "engine": "openai", "url": "\#(llama.baseURL)", "upstream_model": "smollm2"}"#,
        ])
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "the stack did not become ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http"))
        let key = try stack.key("unlimited")
        let infer = "http://127.0.0.1:\(port)/v1"
        let messages: [[String: String]] = [["role": "user", "content": "What is the capital of France?"]]

        let chat: [String: Any] = ["model": "llama", "messages": messages, "temperature": 0, "max_tokens": 16]
        let direct = try OpenAICalls.post(llama.baseURL + "/chat/completions", chat.merging(["model": "smollm2"]) { $1 })
        let relayed = try OpenAICalls.post(infer + "/chat/completions", chat, key: key)
        #expect(relayed.status == 200)
        let directText = ((OpenAICalls.json(direct.body)["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        let relayedBody = OpenAICalls.json(relayed.body)
        let relayedText = ((relayedBody["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        #expect(directText != nil && !(directText ?? "").isEmpty)
        #expect(relayedText == directText)
        #expect(relayed.headers["x-infer-deployment"] == "llama")
        let usage = relayedBody["usage"] as? [String: Any]
        let directUsage = OpenAICalls.json(direct.body)["usage"] as? [String: Any]
        // modeld streams from the upstream; llama.cpp's server sends no usage in a stream (docs/peers), so
        // completion tokens are counted (one piece, one token: the same as the server's own count) and the
        // prompt's are unknown, 0 — the known limit of an upstream without stream usage (docs/modeld.md).
        #expect(usage?["completion_tokens"] as? Int == directUsage?["completion_tokens"] as? Int)
        #expect(usage?["prompt_tokens"] as? Int == 0)
        // Cost: 1 USD per 1M input, 2 per 1M output.
        let expectedCost = Double((usage?["prompt_tokens"] as? Int) ?? 0) * 1e-6 + Double((usage?["completion_tokens"] as? Int) ?? 0) * 2e-6
        #expect(abs((Double(relayed.headers["x-infer-cost"] ?? "") ?? -1) - expectedCost) < 1e-9)
        // The same cost in the reply's usage, for clients that read only the body.
        #expect(abs(((usage?["cost"] as? NSNumber)?.doubleValue ?? -1) - expectedCost) < 1e-9, "usage: \(String(describing: usage))")

        // A seed changes the cache key (not a greedy answer), so the stream is generated, not a cache hit.
        let stream = try OpenAICalls.post(infer + "/chat/completions", chat.merging(["stream": true, "seed": 1, "stream_options": ["include_usage": true]]) { $1 }, key: key)
        #expect(stream.status == 200)
        #expect(stream.headers["x-infer-deployment"] == "llama")
        #expect(OpenAICalls.streamedText(stream.body) == directText)
        let streamUsage = OpenAICalls.events(stream.body).compactMap { $0["usage"] as? [String: Any] }.first
        #expect(streamUsage?["cost"] is NSNumber, "the usage chunk carries the cost: \(String(describing: streamUsage))")

        let completion: [String: Any] = ["model": "llama", "prompt": "The capital of France is", "temperature": 0, "max_tokens": 8]
        let directCompletion = try OpenAICalls.post(llama.baseURL + "/completions", completion.merging(["model": "smollm2"]) { $1 })
        let relayedCompletion = try OpenAICalls.post(infer + "/completions", completion, key: key)
        #expect(relayedCompletion.status == 200)
        let text = { (data: Data) in (OpenAICalls.json(data)["choices"] as? [[String: Any]])?.first?["text"] as? String }
        #expect(text(relayedCompletion.body) != nil)
        #expect(text(relayedCompletion.body) == text(directCompletion.body))

        let embed: [String: Any] = ["model": "llama-embed", "input": ["hello world", "infer"]]
        let directEmbed = try OpenAICalls.post(llama.baseURL + "/embeddings", embed.merging(["model": "smollm2"]) { $1 })
        let relayedEmbed = try OpenAICalls.post(infer + "/embeddings", embed.merging(["encoding_format": "float"]) { $1 }, key: key)
        #expect(relayedEmbed.status == 200)
        let vectors = { (data: Data) -> [[Double]] in
            ((OpenAICalls.json(data)["data"] as? [[String: Any]]) ?? []).map { ($0["embedding"] as? [NSNumber] ?? []).map(\.doubleValue) }
        }
        let a = vectors(directEmbed.body), b = vectors(relayedEmbed.body)
        #expect(a.count == 2 && b.count == 2)
        #expect(a.first?.count == b.first?.count && (a.first?.count ?? 0) > 0)
        for (x, y) in zip(a, b) { #expect(zip(x, y).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($0)) }) }
        // Spend per key name: the chat, the stream and the completion above were charged to "unlimited".
        var request = URLRequest(url: URL(string: infer + "/metrics/cost")!)
        request.setValue("Bearer " + key, forHTTPHeaderField: "Authorization")
        let (costData, _) = try await URLSession.shared.data(for: request)
        let keys = (OpenAICalls.json(costData)["keys"] as? [[String: Any]]) ?? []
        let charged = keys.first { $0["key"] as? String == "unlimited" && $0["model"] as? String == "llama" }?["cost"] as? Double
        #expect((charged ?? 0) > expectedCost, "spend per key: \(keys)")
        #expect(!String(decoding: costData, as: UTF8.self).contains(key), "the key itself must never appear")
        _ = stack.stop()
    }
}
