import Foundation
import Glibc
import Testing
import TestKit

// Nested in PipelineTests (a serialized suite) so that no two real stacks run at once.
extension PipelineTests {
    /// Rate limits, token limits and budgets through the real stack: the official openai client, curl,
    /// 32 concurrent streams against a token limit, and limitd killed mid-load.
    @Suite("limits and budgets through the stack")
    struct LimitsStackTests {
        /// The priced model: $10 per 1M input tokens, $1000 per 1M output tokens, so 8 tokens cost cents.
        static let prices: [String: (input: Double, output: Double)] = ["smollm2": (10, 1000)]

        /// A sampled chat (never a cache hit, which would cost nothing and give its tokens back).
        static func chatBody(maxTokens: Int, stream: Bool = false) -> String {
            #"{"model":"smollm2","messages":[{"role":"user","content":"Count to three."}],"temperature":0.7,"max_tokens":\#(maxTokens)"#
                + (stream ? #","stream":true,"stream_options":{"include_usage":true}}"# : "}")
        }

        static func postArguments(_ port: Int, _ key: String, _ body: String, path: String = "/v1/chat/completions") -> [String] {
            ["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)", "-d", body, "http://127.0.0.1:\(port)\(path)"]
        }

        static func post(_ port: Int, _ key: String, _ body: String, path: String = "/v1/chat/completions") -> CurlResult {
            curl(postArguments(port, key, body, path: path))
        }

        static func usage(_ port: Int, _ key: String) throws -> [String: Any] {
            let reply = curl(["-H", "Authorization: Bearer \(key)", "http://127.0.0.1:\(port)/v1/usage"])
            #expect(reply.status == 200, "\(reply.body)")
            return try #require(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])
        }

        /// The `total_tokens` of every usage chunk of an SSE body.
        static func streamedTotals(_ body: String) -> [Int] {
            body.components(separatedBy: "\n").compactMap { line -> Int? in
                guard line.hasPrefix("data: {"), let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any],
                      let usage = object["usage"] as? [String: Any] else { return nil }
                return usage["total_tokens"] as? Int
            }
        }

        static func spend(_ usage: [String: Any]) -> Double {
            ((usage["budget"] as? [String: Any])?["spend_usd"] as? Double) ?? -1
        }

        @Test("the openai client: x-ratelimit-* headers (streams too), RateLimitError with an exact Retry-After, budget_exceeded; /v1/usage and keys list agree on the spend")
        func openAIClient() throws {
            let tools = try PythonTestTools()
            let work = try TemporaryDirectory()
            let run = try StackRun(
                models: [("smollm2", "chat")], environmentFile: ["RATE_LIMIT_WINDOW_SEC=60"], realDaemons: true,
                apiKeys: [HarnessKey(name: "headers", scopes: "infer", rpm: 600, flags: ["--tpm", "100000"]),
                          HarnessKey(name: "ratelimit", scopes: "infer", rpm: 2),
                          HarnessKey(name: "budget", scopes: "infer", rpm: 600, flags: ["--max-budget", "0.03", "--budget-duration", "1d"])],
                prices: Self.prices)
            #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
            let port = try #require(run.port("http"))
            let keys = try ["headers", "ratelimit", "budget"].reduce(into: [String: String]()) { $0[$1] = try run.key($1) }
            let result = try tools.run(
                tools.python, [tools.script("limits_client.py"), "http://127.0.0.1:\(port)/v1"],
                environment: ["INFER_TEST_KEYS": String(decoding: try JSONSerialization.data(withJSONObject: keys), as: UTF8.self)],
                in: work.path, timeout: .seconds(120))
            let lines = result.output.split(separator: "\n").map(String.init)
            for failure in lines where failure.hasPrefix("FAIL ") { Issue.record(Comment(rawValue: failure)) }
            #expect(result.exitCode == 0, "limits_client.py:\n\(result.output.suffix(3000))")
            #expect(lines.filter { $0.hasPrefix("PASS ") }.count == 3, "\(result.output)")

            // What the client paid (X-Infer-Cost of each answer) is what limitd charged, to the nano-dollar.
            let seen = try #require(lines.first { $0.hasPrefix("BUDGET ") }.map { String($0.dropFirst(7)) })
            let budget = try #require(try JSONSerialization.jsonObject(with: Data(seen.utf8)) as? [String: Any])
            let costs = try #require(budget["costs"] as? [Double])
            let paid = costs.reduce(0, +)
            #expect(costs.count >= 2 && paid <= 0.03 && paid > 0.015, "\(costs)")
            let usage = try Self.usage(port, keys["budget"] ?? "")
            #expect(abs(Self.spend(usage) - paid) < 1e-8 * Double(costs.count + 1), "usage \(usage), paid \(paid)")
            #expect((usage["budget"] as? [String: Any])?["max_budget_usd"] as? Double == 0.03)
            #expect((usage["budget"] as? [String: Any])?["resets_at"] is String)
            // The refused request generated nothing: the spend did not move, and a curl gets the same 429.
            let refused = Self.post(port, keys["budget"] ?? "", Self.chatBody(maxTokens: 8))
            #expect(refused.status == 429 && refused.body.contains("\"budget_exceeded\""), "\(refused.body)")
            #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 > 0)
            #expect(abs(Self.spend(try Self.usage(port, keys["budget"] ?? "")) - paid) < 1e-8 * Double(costs.count + 1))

            let list = try runInferctl(["keys", "list", "--json", "--file", run.keysFile, "--runtime-dir", run.runtimeDirectory])
            #expect(list.status == 0, "\(list.stderr)")
            let listed = try #require((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["keys"] as? [[String: Any]])
            let entry = try #require(listed.first { $0["name"] as? String == "budget" })
            #expect(abs((entry["spend_usd"] as? Double ?? -1) - paid) < 1e-8 * Double(costs.count + 1), "\(entry)")
            #expect(entry["max_budget"] as? Double == 0.03 && entry["budget_duration"] as? String == "1d" && entry["budget_resets_at"] is Int)
            #expect(run.stop() == 0)
        }

        @Test("32 concurrent streams against 1200 tokens a minute: the tokens admitted never exceed the limit plus its refill")
        func concurrentStreams() throws {
            let run = try StackRun(
                models: [("smollm2", "chat")], realDaemons: true,
                apiKeys: [HarnessKey(name: "tpm", scopes: "infer", rpm: 1000, flags: ["--tpm", "1200"])])
            #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
            let port = try #require(run.port("http"))
            let key = try run.key("tpm")
            let started = ContinuousClock.now
            // 32 curl processes started at once.
            let replies = curlConcurrently([[String]](repeating: Self.postArguments(port, key, Self.chatBody(maxTokens: 16, stream: true)), count: 32))
            let elapsed = started.duration(to: .now)
            let admitted = replies.filter { $0.status == 200 }
            let refused = replies.filter { $0.status == 429 }
            #expect(admitted.count + refused.count == 32, "\(replies.map(\.status))")
            #expect(!admitted.isEmpty && !refused.isEmpty, "admitted \(admitted.count), refused \(refused.count)")
            // Every refusal waits for tokens, exactly: a Retry-After of a few seconds, not the whole minute.
            for reply in refused {
                #expect(reply.body.contains("tokens per minute"), "\(reply.body)")
                #expect((1...10).contains(Int(reply.headers["retry-after"] ?? "") ?? 0), "\(reply.headers)")
            }
            // The tokens the admitted streams really used, from their usage chunks.
            var used = 0
            for reply in admitted {
                let usage = Self.streamedTotals(reply.body)
                #expect(usage.count == 1, "\(reply.body.suffix(300))")
                used += usage.first ?? 0
                #expect(reply.headers["x-ratelimit-limit-tokens"] == "1200")
            }
            // GCRA: over a span d at most the burst plus d's refill (20 tokens a second).
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let allowed = 1200 + Int((seconds * 20).rounded(.up))
            #expect(used <= allowed, "\(admitted.count) streams used \(used) tokens in \(seconds) s; allowed \(allowed)")
            print("32 streams vs TPM 1200: \(admitted.count) admitted using \(used) tokens, \(refused.count) refused, in \(seconds) s")
            #expect(run.stop() == 0)
        }

        @Test("limitd SIGKILLed mid-load loses no spend: what limitd charged is what the answers cost")
        func spendSurvivesSigkill() throws {
            let run = try StackRun(
                models: [("smollm2", "chat")],
                // Fail closed and wait for limitd through its restart: no request is served uncounted.
                environmentFile: ["LIMITD_FAIL_OPEN=false", "DEPENDENCY_TIMEOUT_MS=5000"], realDaemons: true,
                apiKeys: [HarnessKey(name: "spender", scopes: "infer", rpm: 10_000, flags: ["--max-budget", "100"])],
                prices: Self.prices)
            #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
            let port = try #require(run.port("http"))
            let key = try run.key("spender")
            let firstLimitd = try #require(run.pid("limitd"))
            let results = SharedValue([CurlResult]())
            let killed = SharedValue(false)
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                for i in 0..<6 {
                    let reply = Self.post(port, key, Self.chatBody(maxTokens: 4 + i))
                    results.update { $0.append(reply) }
                    if worker == 0 && i == 1 && !killed.value {
                        killed.update { $0 = true }
                        kill(firstLimitd, SIGKILL)
                    }
                }
            }
            #expect(run.wait(.seconds(20)) { run.pid("limitd").map { $0 != firstLimitd } ?? false }, "limitd was not restarted")
            let replies = results.value
            let answered = replies.filter { $0.status == 200 }
            #expect(answered.count + replies.filter { $0.status == 503 }.count == 24, "\(replies.map(\.status))")
            #expect(answered.count >= 20, "\(replies.map(\.status))")
            let paid = answered.compactMap { Double($0.headers["x-infer-cost"] ?? "") }.reduce(0, +)
            #expect(paid > 0)
            let spend = Self.spend(try Self.usage(port, key))
            // Never less than what was answered; more only by a reservation whose lease ran out (none here).
            #expect(abs(spend - paid) < 1e-8 * Double(answered.count + 1), "limitd charged \(spend), the answers cost \(paid)")
            print("SIGKILL mid-load: \(answered.count) answered, costing \(paid) USD; limitd charged \(spend) USD")
            #expect(run.stop() == 0)
        }
    }
}
