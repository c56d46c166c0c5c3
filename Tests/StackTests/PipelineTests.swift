import Foundation
import Glibc
import IPC
import Synchronization
import Testing
import TestKit

/// The real daemons under `inferctl up`, driven over HTTP like a user would.
@Suite("the pipeline under inferctl up", .serialized)
struct PipelineTests {
    static func chatBody(_ content: String, stream: Bool = false, temperature: Double = 0, maxTokens: Int = 12) -> String {
        #"{"model":"smollm2","messages":[{"role":"user","content":"\#(content)"}],"temperature":\#(temperature),"max_tokens":\#(maxTokens),"stream":\#(stream)}"#
    }

    /// An operator adds a model by adding a registry entry: modeld loads the entry's `path` (the names
    /// here match no file under the models folder) and batchd routes every registry model.
    @Test("models named only in the registry are loaded from their path and routed")
    func registryPathsAndRouting() throws {
        let run = try StackRun(models: [("pocket", "chat"), ("pocket-embed", "embedding")], realDaemons: true)
        #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let key = try run.key("alpha")
        let body = #"{"model":"pocket","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":8}"#
        let chat = curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)", "-d", body,
                         "http://127.0.0.1:\(port)/v1/chat/completions"])
        #expect(chat.status == 200, "\(chat.body)")
        #expect(chat.body.contains("Paris"))
        let embed = curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)",
                          "-d", #"{"model":"pocket-embed","input":"hello world"}"#, "http://127.0.0.1:\(port)/v1/embeddings"])
        #expect(embed.status == 200, "\(embed.body)")
        #expect(embed.body.contains(#""embedding""#))
        #expect(run.stop() == 0)
    }

    @Test("chat through every daemon, cache, 429, metrics, and each daemon killed and back within 2 s")
    func wholePipeline() throws {
        let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")],
                               environmentFile: ["RATE_LIMIT_RPM=5", "RATE_LIMIT_WINDOW_SEC=60"], realDaemons: true)
        #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let metricsPort = try #require(run.port("metrics-http"))
        let url = "http://127.0.0.1:\(port)"
        func chat(_ body: String, key: String) -> CurlResult {
            curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)", "-d", body, url + "/v1/chat/completions"])
        }

        // A completion from SmolLM2 through frontd → limitd → cached → batchd → modeld, then the same from cache.
        let first = chat(Self.chatBody("What is the capital of France?"), key: try run.key("alpha"))
        #expect(first.status == 200, "\(first.body)")
        #expect(first.headers["x-cache"] == "MISS")
        #expect(first.body.contains("Paris"))
        let object = try JSONSerialization.jsonObject(with: Data(first.body.utf8)) as? [String: Any]
        let usage = object?["usage"] as? [String: Int]
        #expect(usage?["prompt_tokens"] == 37 && (usage?["completion_tokens"] ?? 0) > 0)
        let second = chat(Self.chatBody("What is the capital of France?"), key: try run.key("alpha"))
        #expect(second.status == 200 && second.headers["x-cache"] == "HIT")
        #expect((try JSONSerialization.jsonObject(with: Data(second.body.utf8)) as? [String: Any])?["choices"] as? NSArray
                == object?["choices"] as? NSArray)

        // Streaming: SSE chunks, then [DONE].
        let stream = chat(Self.chatBody("Say hello", stream: true, temperature: 0.7), key: try run.key("beta"))
        #expect(stream.status == 200 && stream.headers["content-type"]?.hasPrefix("text/event-stream") == true)
        #expect(stream.body.contains("\"object\":\"chat.completion.chunk\"") && stream.body.hasSuffix("data: [DONE]\n\n"))

        // Past the limit: 429 with Retry-After (key "gamma" has limitd's default of 5 requests per minute; the same
        // deterministic request, so 1 miss then 4 cache hits before the refusals).
        var statuses: [Int] = []
        var refused = CurlResult()
        for _ in 0..<7 {
            let r = chat(Self.chatBody("Hi", maxTokens: 1), key: try run.key("gamma"))
            statuses.append(r.status)
            if r.status == 429 { refused = r }
        }
        #expect(statuses.prefix(5).allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(statuses.suffix(2) == [429, 429])
        #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 >= 1)
        #expect(refused.body.contains("rate_limit_exceeded"))

        // /metrics counts all of it, and promtool accepts it.
        let metrics = curl(["http://127.0.0.1:\(metricsPort)/metrics"]).body
        for name in ["infer_daemon_up{daemon=\"limitd\"} 1", "infer_daemon_up{daemon=\"modeld-smollm2\"} 1",
                     "infer_http_requests_total{route=\"/v1/chat/completions\",status=\"429\"} 2",
                     // frontd answered 5 hits; cached was asked 7 times, as the exact lookup goes out before
                     // admission and the 2 refused requests were looked up too (their answers unused).
                     "infer_frontd_cache_lookups_total{result=\"hit\"} 5", "infer_cached_requests_total{result=\"hit\"} 7",
                     "infer_limitd_decisions_total{result=\"refused\"} 2",
                     "infer_batchd_queue_depth", "infer_batchd_batch_size_bucket", "infer_http_request_duration_seconds_bucket",
                     "infer_modeld_generated_tokens_total{model=\"smollm2\"}"] {
            #expect(metrics.contains(name), "missing \(name)")
        }
        let check = try promtoolCheck(metrics)
        #expect(check.accepted, "promtool check metrics failed: \(check.output)")

        // Each daemon killed with SIGKILL in turn is restarted and requests succeed again within 2 s
        // (with a key whose own rate the limit of 5 per minute does not stop).
        let unlimited = try run.key("unlimited")
        var n = 0
        for unit in ["limitd", "cached", "batchd", "modeld@smollm2", "metricsd", "frontd"] {
            let pid = try #require(run.pid(unit), "no pid for \(unit)")
            kill(pid, SIGKILL)
            let killed = ContinuousClock.now
            var ok = false
            while ContinuousClock.now - killed < .seconds(2) {
                n += 1
                let r = unit == "metricsd"
                    ? curl(["http://127.0.0.1:\(metricsPort)/metrics"], timeout: 2)
                    : chat(Self.chatBody("Count to \(n)", temperature: 0.5, maxTokens: 2), key: unlimited)
                if r.status == 200 && run.pid(unit) != pid {
                    ok = true
                    break
                }
                usleep(20_000)
            }
            #expect(ok, "\(unit) not serving again within 2 s of SIGKILL")
        }
        #expect(run.stop() == 0)
    }

    @Test("each daemon restarted with SIGTERM while a client sends a steady stream of requests loses no request")
    func gracefulRestartsLoseNothing() throws {
        let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], realDaemons: true)
        #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let unlimited = try run.key("unlimited")
        let statuses = Mutex<[Int]>([])
        let stop = Atomic<Bool>(false)
        // Unique greedy prompts: every request misses the cache, so it goes through all of limitd, cached,
        // batchd and modeld (and connects to each restarted daemon).
        let sender = Thread {
            var n = 0
            while !stop.load(ordering: .relaxed) {
                n += 1
                let r = curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(unlimited)",
                              "-d", PipelineTests.chatBody("Count to \(n)", temperature: 0, maxTokens: 3),
                              "http://127.0.0.1:\(port)/v1/chat/completions"], timeout: 30)
                statuses.withLock { $0.append(r.status) }
            }
        }
        sender.start()
        defer { stop.store(true, ordering: .relaxed) }
        for unit in ["limitd", "cached", "batchd", "modeld@smollm2", "frontd"] {
            let before = statuses.withLock { $0.count }
            let pid = try #require(run.pid(unit))
            kill(pid, SIGTERM)
            // Restarted (on the next connection) and a few more requests through it.
            #expect(run.wait(.seconds(20)) { run.pid(unit) != nil && run.pid(unit) != pid && statuses.withLock { $0.count } >= before + 3 },
                    "\(unit) did not come back under load")
        }
        stop.store(true, ordering: .relaxed)
        while !sender.isFinished { usleep(20_000) }
        let all = statuses.withLock { $0 }
        #expect(all.count >= 15)
        #expect(all.allSatisfy { $0 == 200 }, "statuses: \(all.filter { $0 != 200 })")
        #expect(run.stop() == 0)
    }
}
