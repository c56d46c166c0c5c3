#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Glibc
import Testing
import TestKit

@testable import inferctl

/// inferctl's client commands — chat, complete, embed, test-api, bench — run as the built binary against
/// a real stack (the real daemons on SmolLM2 and MiniLM under `inferctl up`), and on a terminal (a pty)
/// where what they do depends on it: the REPL, colours, the progress bar.
@Suite("inferctl client commands against a real stack", .serialized, .timeLimit(.minutes(10)))
struct ClientCommandsTests {
    /// A ready stack of the real daemons, with a key of every scope and one without `embed`.
    final class Stack {
        let run: StackRun
        let url: String
        let metricsPort: Int

        init() throws {
            let keys = [HarnessKey(name: "all", scopes: "infer,embed,admin", rpm: 1_000_000),
                        HarnessKey(name: "no-embed", scopes: "infer", rpm: 1_000_000)]
            let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], environmentFile: ["RATE_LIMIT_RPM=1000000"],
                                   realDaemons: true, apiKeys: keys)
            guard run.wait(.seconds(180), until: { run.isReady }), let http = run.port("http"),
                  let metrics = run.port("metrics-http") else {
                _ = run.stop()
                throw HarnessError("the stack did not become ready: \(run.standardError.suffix(2000))")
            }
            self.run = run
            url = "http://127.0.0.1:\(http)/v1"
            metricsPort = metrics
        }

        /// inferctl's environment: where the API is and the key (by name), nothing else.
        func environment(key: String = "all", extra: [String: String] = [:]) throws -> [String: String] {
            ["PATH": "/usr/bin:/bin", "INFER_URL": url, "INFER_API_KEY": try run.key(key)].merging(extra) { $1 }
        }

        /// The sum of metricsd's samples of `name` whose labels hold every one of `labels`.
        func metric(_ name: String, _ labels: [String]) throws -> Double {
            let text = try Self.get("http://127.0.0.1:\(metricsPort)/metrics")
            return text.split(separator: "\n").filter { line in
                line.hasPrefix(name + "{") && labels.allSatisfy { line.contains($0) }
            }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }

        /// Chat completions frontd answered, by status (`"200"`, or nil for all).
        func chatRequests(status: String? = "200") throws -> Int {
            Int(try metric("infer_http_requests_total", [#"route="/v1/chat/completions""#] + (status.map { [#"status="\#($0)""#] } ?? [])))
        }

        static func get(_ url: String) throws -> String {
            guard let target = URL(string: url) else { throw HarnessError("bad URL \(url)") }
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var body: String?
            URLSession.shared.dataTask(with: target) { data, _, _ in
                body = data.map { String(decoding: $0, as: UTF8.self) }
                done.signal()
            }.resume()
            guard done.wait(timeout: .now() + 10) == .success, let body else { throw HarnessError("GET \(url) failed") }
            return body
        }
    }

    /// Whether text holds an ANSI colour (SGR) sequence: ESC [ digits/semicolons m.
    static func hasColour(_ text: String) -> Bool {
        text.range(of: "\u{1B}\\[[0-9;]*m", options: .regularExpression) != nil
    }

    static func json(_ text: String) throws -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw HarnessError("not a JSON object: \(text.prefix(500))")
        }
        return object
    }

    @Test("chat, complete and embed: answers on stdout, JSON with --json, stdin as the message, no colour off a terminal; exit 1 for a refused request, 3 for no stack, 64 for a wrong command line; the key never shown")
    func oneShotCommands() throws {
        let stack = try Stack()
        defer { _ = stack.run.stop() }
        let environment = try stack.environment()

        // Greedy, so streamed and not streamed write the same text (the second may come from the cache).
        let streamed = try runInferctl(["chat", "-m", "Name one colour.", "--max-tokens", "8", "--temperature", "0"],
                                       environment: environment, timeout: .seconds(120))
        #expect(streamed.status == 0, "\(streamed.stderr)")
        let text = streamed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!text.isEmpty && streamed.stdout.hasSuffix("\n"))
        #expect(!Self.hasColour(streamed.stdout + streamed.stderr))
        let whole = try runInferctl(["chat", "-m", "Name one colour.", "--max-tokens", "8", "--temperature", "0", "--no-stream"],
                                    environment: environment, timeout: .seconds(120))
        #expect(whole.status == 0 && whole.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == text)

        let raw = try runInferctl(["chat", "-m", "Hi", "--max-tokens", "4", "--json", "--system", "Be brief."],
                                  environment: environment, timeout: .seconds(120))
        #expect(raw.status == 0, "\(raw.stderr)")
        let reply = try Self.json(raw.stdout)
        #expect(reply["object"] as? String == "chat.completion")
        #expect(((reply["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 99) <= 4)

        // Not a terminal on stdin: the message is read from it.
        let piped = try runInferctl(["chat", "--max-tokens", "4", "--json"], environment: environment,
                                    standardInput: "What is two plus two?\n", timeout: .seconds(120))
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try Self.json(piped.stdout)["choices"] != nil)
        let empty = try runInferctl(["chat"], environment: environment, standardInput: "")
        #expect(empty.status == 64 && empty.stderr.contains("no message"))

        let completion = try runInferctl(["complete", "-p", "The capital of France is", "--max-tokens", "6", "--temperature", "0"],
                                         environment: environment, timeout: .seconds(120))
        #expect(completion.status == 0 && !completion.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                "\(completion.stderr)")
        let completionJSON = try runInferctl(["complete", "--json", "--max-tokens", "3"], environment: environment,
                                             standardInput: "Once upon a time", timeout: .seconds(120))
        #expect(completionJSON.status == 0)
        #expect(try Self.json(completionJSON.stdout)["object"] as? String == "text_completion")

        let embedded = try runInferctl(["embed", "a first sentence", "a second one"], environment: environment, timeout: .seconds(60))
        #expect(embedded.status == 0, "\(embedded.stderr)")
        let rows = embedded.stdout.split(separator: "\n").filter { $0.contains(" 384 ") }
        #expect(rows.count == 2, "\(embedded.stdout)")
        #expect(rows.allSatisfy { $0.contains("1.0000") }, "MiniLM's vectors are normalised")
        #expect(!Self.hasColour(embedded.stdout))
        let vectors = try runInferctl(["embed", "--json", "hello"], environment: environment, timeout: .seconds(60))
        let data = try Self.json(vectors.stdout)["data"] as? [[String: Any]]
        #expect((data?.first?["embedding"] as? [Any])?.count == 384)

        // Failures: a key without the embed scope (403), a wrong key (401), no stack, a wrong command line.
        let refused = try runInferctl(["embed", "hello"], environment: try stack.environment(key: "no-embed"), timeout: .seconds(60))
        #expect(refused.status == 1 && refused.stderr.contains("403"), "\(refused.stderr)")
        let wrongKey = "sk-infer-not-a-key-of-this-stack"
        let unauthorised = try runInferctl(["chat", "-m", "hi", "--key", wrongKey], environment: ["PATH": "/usr/bin:/bin", "INFER_URL": stack.url])
        #expect(unauthorised.status == 1 && unauthorised.stderr.contains("401"), "\(unauthorised.stderr)")
        #expect(!(unauthorised.stdout + unauthorised.stderr).contains(wrongKey))
        let nowhere = try runInferctl(["chat", "-m", "hi", "--url", "http://127.0.0.1:1"], environment: environment)
        #expect(nowhere.status == 3 && nowhere.stderr.contains("cannot reach"), "\(nowhere.stderr)")
        let wrong = try runInferctl(["chat", "--max-tokens", "many"], environment: environment)
        #expect(wrong.status == 64 && wrong.stderr.contains("--max-tokens many"))
        let secret = try stack.run.key("all")
        #expect(![streamed, whole, raw, piped, completion, embedded, refused, nowhere].contains { ($0.stdout + $0.stderr).contains(secret) })
    }

    @Test("test-api: every check passes against a real stack (table and JSON, no colour off a terminal); a key without a scope fails a check and exits 1")
    func testAPI() throws {
        let stack = try Stack()
        defer { _ = stack.run.stop() }
        let table = try runInferctl(["test-api"], environment: try stack.environment(), timeout: .seconds(240))
        #expect(table.status == 0, "\(table.stdout)\(table.stderr)")
        #expect(table.stdout.contains("\(APIChecks.all.count) passed, 0 failed"), "\(table.stdout)")
        #expect(!table.stdout.contains("FAIL") && !Self.hasColour(table.stdout))

        let limited = try runInferctl(["test-api", "--json"], environment: try stack.environment(key: "no-embed"), timeout: .seconds(240))
        #expect(limited.status == 1)
        let report = try Self.json(limited.stdout)
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.count == APIChecks.all.count)
        let failed = checks.filter { $0["passed"] as? Bool == false }
        #expect(failed.map { $0["route"] as? String } == ["POST /v1/embeddings"], "\(failed)")
        #expect(failed.first?["status"] as? Int == 403)
        #expect(report["failed"] as? Int == 1 && report["passed"] as? Int == checks.count - 1)

        let nowhere = try runInferctl(["test-api", "--url", "http://127.0.0.1:1"], environment: try stack.environment())
        #expect(nowhere.status == 3)
    }

    @Test("bench: exactly the requests it reports reach the stack (counted in /metrics); streamed runs measure TTFT and ITL; --duration bounds a run; compare reads two saved runs; no progress bar off a terminal")
    func bench() throws {
        let stack = try Stack()
        defer { _ = stack.run.stop() }
        let environment = try stack.environment()
        let scratch = try TemporaryDirectory()
        let prompts = scratch.path + "/prompts.txt"
        try Data("Name a fruit.\n\nName a tree.\nName a river.\n".utf8).write(to: URL(fileURLWithPath: prompts))

        let before = try stack.chatRequests()
        let plain = try runInferctl(["bench", "--requests", "12", "--concurrency", "3", "--max-tokens", "4", "--prompts", prompts,
                                     "--out", scratch.path + "/a.json"], environment: environment, timeout: .seconds(180))
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("12 ok, 0 failed") && plain.stdout.contains("requests/s"), "\(plain.stdout)")
        #expect(!plain.stderr.contains("\r") && !plain.stderr.contains("#"), "no progress bar when stderr is not a terminal")
        #expect(!Self.hasColour(plain.stdout))
        #expect(try stack.chatRequests() - before == 12)
        let saved = try Self.json(try String(contentsOfFile: scratch.path + "/a.json", encoding: .utf8))
        #expect(saved["succeeded"] as? Int == 12 && saved["prompts"] as? Int == 3 && saved["cache_bypassed"] as? Bool == true)
        #expect(saved["tokens_source"] as? String == "usage")
        #expect((saved["latency_ms"] as? [String: Any])?["count"] as? Int == 12)
        #expect(saved["ttft_ms"] == nil, "TTFT is measured on streamed runs only")

        let streamedBefore = try stack.chatRequests()
        let streamed = try runInferctl(["bench", "--requests", "6", "--concurrency", "2", "--max-tokens", "6", "--stream", "--json",
                                        "--out", scratch.path + "/b.json"], environment: environment, timeout: .seconds(180))
        #expect(streamed.status == 0, "\(streamed.stderr)")
        let report = try Self.json(streamed.stdout)
        #expect(report["succeeded"] as? Int == 6 && report["stream"] as? Bool == true)
        let ttft = try #require(report["ttft_ms"] as? [String: Any])
        let latency = try #require(report["latency_ms"] as? [String: Any])
        #expect(ttft["count"] as? Int == 6)
        #expect((ttft["p50"] as? Double ?? 0) > 0 && (ttft["p50"] as? Double ?? 0) <= (latency["p50"] as? Double ?? 0))
        #expect((report["itl_ms"] as? [String: Any])?["count"] as? Int ?? 0 > 0)
        #expect(try stack.chatRequests() - streamedBefore == 6)

        // A timed run: it stops sending at 2 s; what it sent is what the stack answered.
        let timedBefore = try stack.chatRequests(status: nil)
        let timed = try runInferctl(["bench", "--duration", "2s", "--concurrency", "2", "--max-tokens", "2", "--json"],
                                    environment: environment, timeout: .seconds(120))
        #expect(timed.status == 0, "\(timed.stderr)")
        let timedReport = try Self.json(timed.stdout)
        let sent = timedReport["requests"] as? Int ?? -1
        #expect(sent > 0 && timedReport["duration_limit_seconds"] as? Double == 2)
        #expect(try stack.chatRequests(status: nil) - timedBefore == sent)

        let compared = try runInferctl(["bench", "compare", scratch.path + "/a.json", scratch.path + "/b.json", "--json"],
                                       environment: environment)
        #expect(compared.status == 0, "\(compared.stderr)")
        let figures = try #require(try Self.json(compared.stdout)["figures"] as? [[String: Any]])
        let rate = try #require(figures.first { $0["figure"] as? String == "requests/s" })
        let ratio = try #require(rate["ratio"] as? Double)
        let (a, b) = (rate["a"] as? Double ?? 0, rate["b"] as? Double ?? 0)
        #expect(abs(ratio - b / a) < 1e-9)
        #expect(figures.contains { $0["figure"] as? String == "TTFT p99 ms" && $0["a"] is NSNull })
        let notAReport = try runInferctl(["bench", "compare", prompts, scratch.path + "/b.json"], environment: environment)
        #expect(notAReport.status == 78)
        let nowhere = try runInferctl(["bench", "--requests", "1", "--url", "http://127.0.0.1:1"], environment: environment)
        #expect(nowhere.status == 3)
    }

    /// Runs tests-python/pty_session.py: `arguments` of inferctl on a pty, the steps typed into it.
    static func onTerminal(_ arguments: [String], steps: [[String: Any]], environment: [String: String]) throws -> [String: Any] {
        let scratch = try TemporaryDirectory()
        let stepsFile = scratch.path + "/steps.json"
        try JSONSerialization.data(withJSONObject: steps).write(to: URL(fileURLWithPath: stepsFile))
        let session = try runCapturing("/usr/bin/python3", [packageRoot + "/tests-python/pty_session.py", "--timeout", "240", stepsFile, "--",
                                                            builtProduct("inferctl")] + arguments,
                                       environment: environment, separateError: true, timeout: .seconds(300))
        return try json(session.output)
    }

    @Test("on a terminal: the REPL streams answers, keeps the conversation, /reset forgets it, Ctrl-C stops an answer and not the REPL, Ctrl-D leaves; colours, none with NO_COLOR; bench draws a progress bar")
    func terminal() throws {
        let stack = try Stack()
        defer { _ = stack.run.stop() }
        let steps: [[String: Any]] = [
            ["expect": "> "], ["send": "My name is Ada.\n"], ["expect": "the conversation is ", "timeout": 120], ["expect": "> "],
            ["send": "What is my name?\n"], ["expect": "the conversation is ", "timeout": 120], ["expect": "> "],
            ["send": "/reset\n"], ["expect": "conversation cleared"], ["expect": "> "],
            ["send": "Hello.\n"], ["expect": "the conversation is ", "timeout": 120], ["expect": "> "],
            ["send": "Tell me a very long story about a dragon and a knight.\n"], ["sleep": 1.0], ["send": "\u{3}"],
            ["expect": "(stopped)", "timeout": 30], ["expect": "> "],
            ["send": "half a line\u{3}"], ["expect": "> "],
            ["send": "/exit\n"], ["wait_exit": 10],
        ]
        for noColour in [false, true] {
            var environment = try stack.environment(extra: ["TERM": "xterm"])
            if noColour { environment["NO_COLOR"] = "1" }
            let session = try Self.onTerminal(["chat", "--max-tokens", "300", "--temperature", "0"], steps: steps, environment: environment)
            let output = session["output"] as? String ?? ""
            #expect(session["failed_step"] is NSNull, "step \(session["failed_step"] ?? "?"): \(session["reason"] ?? "") in \(output)")
            #expect(session["exit_status"] as? Int == 0)
            #expect(Self.hasColour(output) == !noColour, "colour \(noColour ? "with" : "without") NO_COLOR: \(output.debugDescription)")
            // The conversation grows across turns and starts again after /reset.
            let sizes = output.components(separatedBy: "the conversation is ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
            #expect(sizes.count == 3, "\(output)")
            if sizes.count == 3 {
                #expect(sizes[1] > sizes[0], "the second turn carries the first")
                #expect(sizes[2] < sizes[1], "after /reset the conversation is new")
            }
        }
        // Ctrl-D on an empty line leaves too.
        let eof = try Self.onTerminal(["chat"], steps: [["expect": "> "], ["send": "\u{4}"], ["wait_exit": 10]],
                                      environment: try stack.environment(extra: ["TERM": "xterm"]))
        #expect(eof["exit_status"] as? Int == 0 && eof["failed_step"] is NSNull)

        for noColour in [false, true] {
            var environment = try stack.environment(extra: ["TERM": "xterm"])
            if noColour { environment["NO_COLOR"] = "1" }
            let before = try stack.chatRequests()
            let session = try Self.onTerminal(["bench", "--requests", "8", "--concurrency", "2", "--max-tokens", "16"],
                                              steps: [["wait_exit": 200]], environment: environment)
            let output = session["output"] as? String ?? ""
            #expect(session["exit_status"] as? Int == 0, "\(output)")
            #expect(output.contains("/8 requests") && output.contains("\r[") && output.contains("#"), "a progress bar: \(output.debugDescription)")
            #expect(output.contains("8 ok, 0 failed"))
            #expect(Self.hasColour(output) == !noColour, "\(output.debugDescription)")
            #expect(try stack.chatRequests() - before == 8)
        }
    }
}
