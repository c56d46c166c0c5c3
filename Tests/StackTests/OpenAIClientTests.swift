import Foundation
import Testing
import TestKit

// Nested in PipelineTests (a serialized suite) so that no two real stacks run at once (see ContractTests).
extension PipelineTests {
    /// Real clients against the real daemons: the official `openai` Python package
    /// (tests-python/openai_client.py), and curl reading a chat stream's SSE framing.
    @Suite("OpenAI clients against frontd")
    struct OpenAIClientTests {
        /// The checks of openai_client.py, each with its own API key (so their rate limits do not mix).
        static let keyNames = ["chat", "stream", "completions", "embeddings", "models", "ratelimit", "errors"]

        @Test("the official openai client: chat (plain and streamed), completions, embeddings, models, and its error classes")
        func officialClient() throws {
            let tools = try PythonTestTools()
            let work = try TemporaryDirectory()
            // 5 requests per key per minute: enough for every check, and the sixth of "ratelimit" is refused.
            let run = try StackRun(
                models: [("smollm2", "chat"), ("minilm", "embedding")],
                environmentFile: ["RATE_LIMIT_RPM=5", "RATE_LIMIT_WINDOW_SEC=60"], realDaemons: true,
                apiKeys: Self.keyNames.map { HarnessKey(name: $0, scopes: "infer,embed,admin") })
            #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
            let port = try #require(run.port("http"))
            let keys = try Dictionary(uniqueKeysWithValues: Self.keyNames.map { ($0, try run.key($0)) })
            let keysJSON = String(decoding: try JSONSerialization.data(withJSONObject: keys, options: [.sortedKeys]), as: UTF8.self)
            let result = try tools.run(
                tools.python, [tools.script("openai_client.py"), "http://127.0.0.1:\(port)/v1"],
                environment: ["INFER_TEST_KEYS": keysJSON, "INFER_EXPECT_AUTH": "1"],
                in: work.path, timeout: .seconds(240))
            print(result.output)
            let lines = result.output.split(separator: "\n").map(String.init)
            for failure in lines where failure.hasPrefix("FAIL ") {
                Issue.record(Comment(rawValue: failure))
            }
            #expect(!result.timedOut, "openai_client.py did not finish within 240 s")
            #expect(result.exitCode == 0, "openai_client.py failed:\n\(result.output.suffix(3000))")
            // Every check ran: the ones that cannot run in this build say so (SKIP) and why.
            let reported = lines.filter { $0.hasPrefix("PASS ") || $0.hasPrefix("FAIL ") || $0.hasPrefix("SKIP ") }
            #expect(reported.count == 9, "expected 9 checks reported:\n\(result.output)")
            #expect(lines.contains("PASS authentication_error"), "an unknown key must be a 401")
            #expect(run.stop() == 0)
        }

        @Test("curl -N reads a chat stream as data: lines, one chunk per event, then data: [DONE]")
        func sseFramingWithCurl() throws {
            let run = try StackRun(models: [("smollm2", "chat")], realDaemons: true)
            let key = try run.key("alpha")
            #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
            let port = try #require(run.port("http"))
            let url = "http://127.0.0.1:\(port)/v1/chat/completions"
            func chat(_ body: String) -> CurlResult {
                curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)", "-d", body, url])
            }
            let body = #"{"model":"smollm2","messages":[{"role":"user","content":"Name a fruit."}],"temperature":0,"max_tokens":10,"#
                + #""stream":true,"stream_options":{"include_usage":true}}"#
            let stream = chat(body)
            #expect(stream.status == 200, "\(stream.body)")
            #expect(stream.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            #expect(stream.headers["transfer-encoding"] == "chunked")
            #expect(stream.headers["x-cache"] == "MISS")
            #expect(stream.headers["x-request-id"]?.isEmpty == false)

            // Every event is one `data: ` line followed by a blank line; the last is [DONE].
            #expect(stream.body.hasSuffix("\n\ndata: [DONE]\n\n"), "\(stream.body.suffix(200))")
            let events = stream.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.allSatisfy { $0.hasPrefix("data: ") && !$0.contains("\n") }, "\(events)")
            #expect(events.last == "data: [DONE]")
            let chunks = events.dropLast().compactMap { event in
                (try? JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8))) as? [String: Any]
            }
            #expect(chunks.count == events.count - 1, "an event's data is not a JSON object")
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            #expect(Set(chunks.compactMap { $0["id"] as? String }).count == 1, "the chunks have different ids")
            func choice(_ chunk: [String: Any]) -> [String: Any]? { (chunk["choices"] as? [[String: Any]])?.first }
            #expect((choice(chunks[0])?["delta"] as? [String: Any])?["role"] as? String == "assistant")
            let finishes = chunks.compactMap { choice($0)?["finish_reason"] as? String }
            #expect(finishes.count == 1 && ["stop", "length"].contains(finishes.first ?? ""), "\(finishes)")
            // include_usage: the last chunk has usage and no choices.
            let last = try #require(chunks.last)
            #expect((last["choices"] as? [Any])?.isEmpty == true)
            let usage = last["usage"] as? [String: Int]
            #expect((usage?["completion_tokens"] ?? 0) > 0 && (usage?["prompt_tokens"] ?? 0) > 0, "\(String(describing: usage))")
            let text = chunks.compactMap { (choice($0)?["delta"] as? [String: Any])?["content"] as? String }.joined()
            #expect(!text.isEmpty)

            // The same greedy request without streaming is the cached text.
            let whole = chat(body.replacingOccurrences(of: #""stream":true"#, with: #""stream":false"#))
            #expect(whole.status == 200 && whole.headers["x-cache"] == "HIT", "\(whole.status) \(whole.headers)")
            let object = (try? JSONSerialization.jsonObject(with: Data(whole.body.utf8))) as? [String: Any]
            let content = ((object?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
            #expect(content == text)

            // A refusal found before the stream starts is a plain JSON error, not an event stream.
            let refused = chat(body.replacingOccurrences(of: #""temperature":0"#, with: #""temperature":3"#))
            #expect(refused.status == 422 && refused.headers["content-type"] == "application/json", "\(refused.status) \(refused.headers)")
            #expect(refused.body.contains(#""param":"temperature""#))
            #expect(run.stop() == 0)
        }
    }
}
