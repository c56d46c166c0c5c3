import Foundation
import Glibc
import Synchronization
import Testing
import TestKit
import TestModels

/// The native routes, `/v1/completions`, the metrics and cache routes and idempotency, on the real
/// daemons under `inferctl up`, with curl as the client.
///
/// The registry has two chat models on the same SmolLM2 file (`smollm2` and `tiny`, with different
/// prices) so that per-model cache clearing and per-model cost can be told apart.
@Suite("native routes on the real stack")
struct NativeRoutesTests {
    /// Greedy SmolLM2 on the raw prompt "Once upon a time" (4 tokens), 20 tokens: the numpy and llama.cpp
    /// reference (../shared/reference/smollm2_numpy_out.jsonl); the first 19 tokens end at " But".
    static let onceUponATime20 = ", the city of Nova Haven was a thriving metropolis, with towering skyscrapers and bustling streets. But as"
    static let onceUponATime19 = ", the city of Nova Haven was a thriving metropolis, with towering skyscrapers and bustling streets. But"

    /// One stack for every check (booting it loads three models), stopped at the end.
    @Test("native routes, completions, metrics, cache and idempotency through every daemon")
    func nativeRoutes() throws {
        let s = try Stack()
        defer { #expect(s.run.stop() == 0) }
        try rootAndInfer(s)
        try inferStream(s)
        try completions(s)
        try chatParameters(s)
        try batch(s)
        try contextLength(s)
        try cacheRoutes(s)
        try cacheControls(s)
        try servingMetrics(s)
        try metrics(s)
        try idempotency(s)
    }

    /// The stack and requests to it (shared by concurrent curls: they only read the URLs).
    final class Stack: @unchecked Sendable {
        let run: StackRun
        let url: String
        let metricsURL: String
        /// A models folder where `tiny.gguf` is the SmolLM2 file again (modeld finds a model by its name there).
        let models: TemporaryDirectory

        init() throws {
            let models = try TemporaryDirectory()
            let real = try ModelPaths.directory()
            for (link, target) in [("smollm2", "smollm2"), ("minilm", "minilm"), ("tiny.gguf", ModelPaths.smollm2Relative)] {
                try FileManager.default.createSymbolicLink(atPath: models.path + "/" + link, withDestinationPath: real + "/" + target)
            }
            self.models = models
            // Every check uses the key "test": no rate limit in the way; batchd routes the extra model.
            let run = try StackRun(models: [("smollm2", "chat"), ("tiny", "chat"), ("minilm", "embedding")],
                                   environmentFile: ["RATE_LIMIT_RPM=1000000", "BATCH_MODELS=smollm2,tiny,minilm"], realDaemons: true,
                                   apiKeys: [.fixed("test"), .fixed("someone-else")],
                                   prices: ["smollm2": (0.5, 2.0), "tiny": (3.0, 7.0), "minilm": (0.1, 0)],
                                   modelsDirectory: models.path)
            guard run.wait(.seconds(120), until: { run.isReady }) else {
                throw HarnessError("stack not ready: \(run.standardError.suffix(2000))")
            }
            guard let port = run.port("http"), let metricsPort = run.port("metrics-http") else { throw HarnessError("no ports") }
            url = "http://127.0.0.1:\(port)"
            metricsURL = "http://127.0.0.1:\(metricsPort)/metrics"
            self.run = run
        }

        /// A POST of a JSON body with a bearer key (and more headers).
        func post(_ path: String, _ body: String, key: String = "test", headers: [String] = []) -> CurlResult {
            curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)"] + headers.flatMap { ["-H", $0] }
                + ["-d", body, url + path], timeout: 120)
        }

        func get(_ path: String, key: String = "test") -> CurlResult {
            curl(["-H", "Authorization: Bearer \(key)", url + path])
        }

        func delete(_ path: String) -> CurlResult {
            curl(["-X", "DELETE", "-H", "Authorization: Bearer test", url + path])
        }

        /// The value of one series in frontd's `/metrics` (0 when absent).
        func metric(_ series: String) -> Double {
            let text = curl([url + "/metrics"]).body
            for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
                return Double(line.dropFirst(series.count + 1)) ?? 0
            }
            return 0
        }
    }

    static func object(_ r: CurlResult) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any] ?? [:]
    }

    /// The usage's token counts (its `cost`, a number of USD, is read on its own).
    static func usage(_ o: [String: Any]) -> [String: Int] {
        (o["usage"] as? [String: Any] ?? [:]).filter { $0.key != "cost" }.compactMapValues { $0 as? Int }
    }

    static func error(_ r: CurlResult) -> [String: Any] { object(r)["error"] as? [String: Any] ?? [:] }

    /// The `data:` payloads of an SSE body, with their event names (nil for the default).
    static func events(_ body: String) -> [(event: String?, data: String)] {
        body.components(separatedBy: "\n\n").compactMap { block in
            var event: String?
            var data: [String] = []
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
            }
            return data.isEmpty ? nil : (event, data.joined(separator: "\n"))
        }
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// GET / lists the routes; /v1/infer's usage is the chat template's exact count.
    func rootAndInfer(_ s: Stack) throws {
        let root = curl([s.url + "/"])
        #expect(root.status == 200)
        let routes = Self.object(root)["routes"] as? [String] ?? []
        for r in ["POST /v1/infer", "POST /v1/infer/stream", "POST /v1/batch", "POST /v1/completions", "GET /metrics",
                  "GET /v1/metrics/summary", "GET /v1/metrics/cache", "GET /v1/metrics/cost", "GET /v1/cache/stats", "DELETE /v1/cache"] {
            #expect(routes.contains(r), "missing \(r)")
        }
        #expect(Self.object(root)["name"] as? String == "infer")

        let infer = s.post("/v1/infer", #"{"model":"smollm2","prompt":"What is the capital of France?","params":{"max_new_tokens":12,"temperature":0}}"#)
        #expect(infer.status == 200, "\(infer.body)")
        let o = Self.object(infer)
        #expect((o["output"] as? String)?.contains("Paris") == true)
        #expect(o["finish_reason"] as? String == "stop")
        #expect(o["cached"] as? Bool == false && infer.headers["x-cache"] == "MISS")
        #expect((o["latency_ms"] as? Double ?? 0) > 0)
        // The same text as a chat (another max_tokens, so it runs again instead of hitting the cache).
        let chat = s.post("/v1/chat/completions", #"{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":13}"#)
        #expect(chat.status == 200 && chat.headers["x-cache"] == "MISS")
        let c = Self.object(chat)
        #expect(Self.usage(o)["prompt_tokens"] == 37)
        #expect(Self.usage(o)["prompt_tokens"] == Self.usage(c)["prompt_tokens"])
        #expect(Self.usage(o)["completion_tokens"] == Self.usage(c)["completion_tokens"])
        #expect(Self.usage(o)["total_tokens"] == (Self.usage(o)["prompt_tokens"] ?? 0) + (Self.usage(o)["completion_tokens"] ?? -1))
        let content = ((c["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        #expect(content == o["output"] as? String)

        // The native request is a one-message chat: the same chat request is answered from the cache.
        let same = s.post("/v1/chat/completions", #"{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":12}"#)
        #expect(same.headers["x-cache"] == "HIT")
        #expect(Self.usage(Self.object(same)) == Self.usage(o))

        // Validation names the field.
        for (body, param) in [(#"{"prompt":"x","params":{"temperature":3}}"#, "params.temperature"),
                              (#"{"prompt":"x","params":{"max_new_tokens":0}}"#, "params.max_new_tokens"),
                              (#"{"prompt":""}"#, "prompt"), (#"{"prompt":"x","params":[1]}"#, "params")] {
            let r = s.post("/v1/infer", body)
            #expect(r.status == 422, "\(body)")
            #expect(Self.error(r)["param"] as? String == param)
        }
    }

    /// /v1/infer/stream: token events, then done with usage; completion_tokens equals the tokens streamed.
    func inferStream(_ s: Stack) throws {
        let body = #"{"model":"smollm2","prompt":"Tell me a long story about a dragon.","params":{"max_new_tokens":8,"temperature":0}}"#
        let r = s.post("/v1/infer/stream", body)
        #expect(r.status == 200 && r.headers["content-type"]?.hasPrefix("text/event-stream") == true)
        let events = Self.events(r.body)
        let tokens = events.dropLast()
        #expect(tokens.allSatisfy { $0.event == "token" })
        #expect(events.last?.event == "done")
        let done = Self.json(events.last?.data ?? "")
        #expect(done["finish_reason"] as? String == "length")
        #expect(Self.usage(done)["completion_tokens"] == 8)
        #expect(tokens.count == 8, "one event per token of plain ASCII text")
        let text = tokens.map { Self.json($0.data)["text"] as? String ?? "" }.joined()
        // The stream was stored: the same request as JSON is a hit with the same text and usage.
        let again = s.post("/v1/infer", body)
        #expect(again.headers["x-cache"] == "HIT")
        #expect(Self.object(again)["output"] as? String == text)
        #expect(Self.object(again)["cached"] as? Bool == true)
        #expect(Self.usage(Self.object(again)) == Self.usage(done))

        // A refusal before any output keeps its status.
        let unknown = s.post("/v1/infer/stream", #"{"model":"nope","prompt":"hi"}"#)
        #expect(unknown.status == 404 && Self.error(unknown)["code"] as? String == "model_not_found")
    }

    /// /v1/completions runs the raw prompt (no template): the reference text, JSON and stream.
    func completions(_ s: Stack) throws {
        let r = s.post("/v1/completions", #"{"model":"smollm2","prompt":"Once upon a time","max_tokens":20,"temperature":0}"#)
        #expect(r.status == 200, "\(r.body)")
        let o = Self.object(r)
        #expect(o["object"] as? String == "text_completion")
        #expect((o["id"] as? String)?.hasPrefix("cmpl-") == true)
        let choice = (o["choices"] as? [[String: Any]])?.first ?? [:]
        #expect(choice["text"] as? String == Self.onceUponATime20)
        #expect(choice["finish_reason"] as? String == "length")
        #expect(choice["logprobs"] is NSNull)
        #expect(Self.usage(o) == ["prompt_tokens": 4, "completion_tokens": 20, "total_tokens": 24])

        let stream = s.post("/v1/completions", #"{"model":"smollm2","prompt":["Once upon a time"],"max_tokens":19,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(stream.status == 200 && stream.headers["x-cache"] == "MISS")
        let events = Self.events(stream.body)
        #expect(events.last?.data == "[DONE]")
        let chunks = events.dropLast().map { Self.json($0.data) }
        let text = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }.joined()
        #expect(text == Self.onceUponATime19)
        #expect(chunks.allSatisfy { $0["object"] as? String == "text_completion" })
        let finishes = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finishes == ["length"])
        #expect(Self.usage(chunks.last ?? [:]) == ["prompt_tokens": 4, "completion_tokens": 19, "total_tokens": 23])

        for (body, param) in [(#"{"prompt":["a","b"]}"#, "prompt"), (#"{"prompt":"a","echo":true}"#, "echo"),
                              (#"{"prompt":"a","logprobs":2}"#, "logprobs"), (#"{"prompt":"a","n":2}"#, "n")] {
            let e = s.post("/v1/completions", body)
            #expect(e.status == 422 && Self.error(e)["param"] as? String == param, "\(body): \(e.body)")
        }
    }

    /// Chat: response_format text only, stop, seed, max_completion_tokens, n=1.
    func chatParameters(_ s: Stack) throws {
        func chat(_ extra: String) -> CurlResult {
            s.post("/v1/chat/completions", #"{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],\#(extra)}"#)
        }
        #expect(chat(#""temperature":0,"max_tokens":12,"response_format":{"type":"text"}"#).status == 200)
        let json = chat(#""response_format":{"type":"json_object"}"#)
        #expect(json.status == 422 && Self.error(json)["param"] as? String == "response_format")
        let two = chat(#""n":2"#)
        #expect(two.status == 422 && Self.error(two)["param"] as? String == "n")
        #expect(chat(#""n":1,"temperature":0,"max_tokens":12"#).status == 200)

        let stopped = Self.object(chat(#""temperature":0,"max_tokens":12,"stop":[" Paris"]"#))
        let choice = (stopped["choices"] as? [[String: Any]])?.first ?? [:]
        #expect((choice["message"] as? [String: Any])?["content"] as? String == "The capital of France is")
        #expect(choice["finish_reason"] as? String == "stop")

        let short = Self.object(chat(#""temperature":0,"max_completion_tokens":3"#))
        #expect(Self.usage(short)["completion_tokens"] == 3)
        #expect((short["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "length")

        // Sampled with a seed: the same text every time, so cacheable; the second run reads past the cache
        // (no-cache) to show the model itself repeats it. Sampled without a seed: never cached.
        let a = chat(#""temperature":1.2,"seed":42,"max_tokens":16"#)
        let b = chat(#""temperature":1.2,"seed":42,"max_tokens":16,"cache":{"no-cache":true}"#)
        #expect(a.headers["x-cache"] == "MISS" && b.headers["x-cache"] == "BYPASS")
        #expect(chat(#""temperature":1.2,"seed":42,"max_tokens":16"#).headers["x-cache"] == "HIT")
        #expect(chat(#""temperature":1.2,"max_tokens":4"#).headers["x-cache"] == "BYPASS")
        func content(_ r: CurlResult) -> String? {
            ((Self.object(r)["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        }
        #expect(content(a) != nil && content(a) == content(b))
    }

    /// /v1/batch: items run and fail on their own; a bad envelope fails the call.
    func batch(_ s: Stack) throws {
        let r = s.post("/v1/batch", #"{"model":"smollm2","params":{"max_new_tokens":5,"temperature":0},"requests":[{"prompt":"Name a fruit."},{"prompt":"Name a color.","params":{"max_new_tokens":3}},{"prompt":"Name a car.","params":{"temperature":7}},{"prompt":"Name a city.","model":"nope"},{"prompt":"Name a dog breed.","request_id":"batch-item-1"}]}"#)
        #expect(r.status == 200, "\(r.body)")
        let o = Self.object(r)
        let results = o["results"] as? [[String: Any]] ?? []
        #expect(results.map { $0["index"] as? Int } == [0, 1, 2, 3, 4])
        #expect(o["succeeded"] as? Int == 3 && o["failed"] as? Int == 2)
        #expect(Self.usage(results[0])["completion_tokens"] ?? 0 > 0 && Self.usage(results[0])["prompt_tokens"] ?? 0 > 0)
        #expect(Self.usage(results[1])["completion_tokens"] ?? 99 <= 3)
        #expect(results[2]["status"] as? Int == 422)
        #expect((results[2]["error"] as? [String: Any])?["param"] as? String == "requests[2].params.temperature")
        #expect(results[3]["status"] as? Int == 404)
        #expect((results[3]["error"] as? [String: Any])?["param"] as? String == "requests[3].model")
        #expect(results[4]["id"] as? String == "batch-item-1")

        // An item's request_id is an idempotency key shared with /v1/infer: the same request is replayed.
        let replay = s.post("/v1/infer", #"{"model":"smollm2","prompt":"Name a dog breed.","request_id":"batch-item-1","params":{"max_new_tokens":5,"temperature":0}}"#)
        #expect(replay.headers["idempotent-replayed"] == "true")
        #expect(Self.object(replay)["output"] as? String == results[4]["output"] as? String)

        let empty = s.post("/v1/batch", #"{"requests":[]}"#)
        #expect(empty.status == 422 && Self.error(empty)["param"] as? String == "requests")
        let many = s.post("/v1/batch", #"{"requests":["# + Array(repeating: #"{"prompt":"x"}"#, count: 65).joined(separator: ",") + "]}")
        #expect(many.status == 422 && Self.error(many)["param"] as? String == "requests")
        let badParams = s.post("/v1/batch", #"{"params":{"top_p":0},"requests":[{"prompt":"x"}]}"#)
        #expect(badParams.status == 422 && Self.error(badParams)["param"] as? String == "params.top_p")
    }

    /// A prompt longer than the model's context is a 400 naming the field.
    func contextLength(_ s: Stack) throws {
        // "hello " is one token; 8300 of them exceed SmolLM2's 8192.
        let long = String(repeating: "hello ", count: 8300)
        for (path, body, param) in [
            ("/v1/infer", #"{"prompt":"\#(long)"}"#, "prompt"),
            ("/v1/completions", #"{"prompt":"\#(long)","max_tokens":1}"#, "prompt"),
            ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"\#(long)"}],"max_tokens":1}"#, "messages"),
        ] {
            let r = s.post(path, body)
            #expect(r.status == 400, "\(path): \(r.body.prefix(300))")
            #expect(Self.error(r)["code"] as? String == "context_length_exceeded")
            #expect(Self.error(r)["param"] as? String == param)
            #expect((Self.error(r)["message"] as? String)?.contains("the model's context is 8192") == true)
        }
    }

    /// Cache stats, DELETE /v1/cache for one model or all.
    func cacheRoutes(_ s: Stack) throws {
        func ask(_ model: String) -> CurlResult {
            s.post("/v1/infer", #"{"model":"\#(model)","prompt":"Spell cat.","params":{"max_new_tokens":4,"temperature":0}}"#)
        }
        _ = ask("smollm2")
        _ = ask("tiny")
        #expect(ask("smollm2").headers["x-cache"] == "HIT" && ask("tiny").headers["x-cache"] == "HIT")
        let stats = Self.object(s.get("/v1/cache/stats"))
        #expect((stats["entries"] as? Int ?? 0) >= 2 && (stats["hits"] as? Int ?? 0) >= 2)
        #expect(stats["max_bytes"] as? Int == 64 << 20)
        #expect((stats["hit_rate"] as? Double ?? -1) > 0)

        let one = s.delete("/v1/cache?model=tiny")
        #expect(one.status == 200)
        #expect(Self.object(one)["removed"] as? Int == 1 && Self.object(one)["model"] as? String == "tiny")
        #expect(ask("smollm2").headers["x-cache"] == "HIT")
        #expect(ask("tiny").headers["x-cache"] == "MISS")

        let all = s.delete("/v1/cache")
        #expect(all.status == 200 && Self.object(all)["model"] is NSNull && (Self.object(all)["removed"] as? Int ?? 0) >= 2)
        #expect(ask("smollm2").headers["x-cache"] == "MISS")
        #expect(Self.object(s.get("/v1/cache/stats"))["entries"] as? Int == 1)

        let bad = s.delete("/v1/cache?model=Not%20A%20Model")
        #expect(bad.status == 422 && Self.error(bad)["param"] as? String == "model")
    }

    /// /metrics is metricsd's text; summary, cache and cost figures follow the requests.
    func metrics(_ s: Stack) throws {
        // Both once first, so that the series a scrape itself creates exist in both.
        _ = curl([s.url + "/metrics"])
        _ = curl([s.metricsURL])
        let front = curl([s.url + "/metrics"])
        let direct = curl([s.metricsURL])
        #expect(front.status == 200 && front.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        func series(_ text: String) -> Set<String> {
            Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != " " }) })
        }
        #expect(series(front.body) == series(direct.body))
        let stable = "infer_modeld_generated_tokens_total{model=\"smollm2\"}"
        let line = { (text: String) in text.split(separator: "\n").first { $0.hasPrefix(stable + " ") }.map(String.init) }
        #expect(line(front.body) != nil && line(front.body) == line(direct.body))
        let check = try promtoolCheck(front.body)
        #expect(check.accepted, "promtool check metrics failed on frontd's /metrics: \(check.output)")

        let before = Self.object(s.get("/v1/metrics/summary"))
        let costBefore = Self.object(s.get("/v1/metrics/cost"))
        let cacheBefore = Self.object(s.get("/v1/metrics/cache"))
        let r = s.post("/v1/infer", #"{"model":"tiny","prompt":"Count to three.","params":{"max_new_tokens":6,"temperature":0}}"#)
        #expect(r.status == 200 && r.headers["x-cache"] == "MISS")
        let hit = s.post("/v1/infer", #"{"model":"tiny","prompt":"Count to three.","params":{"max_new_tokens":6,"temperature":0}}"#)
        #expect(hit.headers["x-cache"] == "HIT")
        let used = Self.usage(Self.object(r))
        let after = Self.object(s.get("/v1/metrics/summary"))
        func tokens(_ o: [String: Any], _ kind: String) -> Int { (o["tokens"] as? [String: Int])?[kind] ?? -1 }
        #expect(tokens(after, "prompt") - tokens(before, "prompt") == used["prompt_tokens"])
        #expect(tokens(after, "completion") - tokens(before, "completion") == used["completion_tokens"])
        #expect((after["requests_total"] as? Int ?? 0) - (before["requests_total"] as? Int ?? 0) >= 5)
        func cache(_ o: [String: Any], _ k: String) -> Int { (o["cache"] as? [String: Any])?[k] as? Int ?? -1 }
        #expect(cache(after, "hits") - cache(before, "hits") == 1 && cache(after, "misses") - cache(before, "misses") == 1)
        #expect((after["daemons"] as? [String: Bool])?.values.allSatisfy { $0 } == true)
        #expect((after["daemons"] as? [String: Bool])?["modeld-tiny"] == true)
        #expect(((after["latency_ms"] as? [String: Double])?["p50"] ?? 0) > 0)

        let cacheAfter = Self.object(s.get("/v1/metrics/cache"))
        #expect((cacheAfter["hits"] as? Int ?? 0) - (cacheBefore["hits"] as? Int ?? 0) == 1)
        #expect((cacheAfter["entries"] as? Int ?? 0) == (cacheBefore["entries"] as? Int ?? 0) + 1)

        // tiny's cost moved by exactly this request's tokens at tiny's prices (3 and 7 USD per 1M).
        let costAfter = Self.object(s.get("/v1/metrics/cost"))
        #expect(costAfter["currency"] as? String == "USD")
        func model(_ o: [String: Any], _ name: String) -> [String: Any] {
            (o["models"] as? [[String: Any]])?.first { $0["model"] as? String == name } ?? [:]
        }
        let p = (model(costAfter, "tiny")["prompt_tokens"] as? Int ?? 0) - (model(costBefore, "tiny")["prompt_tokens"] as? Int ?? 0)
        let n = (model(costAfter, "tiny")["completion_tokens"] as? Int ?? 0) - (model(costBefore, "tiny")["completion_tokens"] as? Int ?? 0)
        #expect(p == used["prompt_tokens"] && n == used["completion_tokens"])
        // The reply's usage.cost is the same charge; the cache hit's is 0.
        let charged = ((Self.object(r)["usage"] as? [String: Any])?["cost"] as? NSNumber)?.doubleValue
        #expect(abs((charged ?? -1) - (Double(p) * 3e-6 + Double(n) * 7e-6)) < 1e-12, "usage: \(Self.object(r))")
        #expect(((Self.object(hit)["usage"] as? [String: Any])?["cost"] as? NSNumber)?.doubleValue == 0)
        let tiny = model(costAfter, "tiny")
        #expect(tiny["price_input_per_1m"] as? Double == 3 && tiny["price_output_per_1m"] as? Double == 7)
        let expected = Double(tiny["prompt_tokens"] as? Int ?? 0) * 3 / 1e6 + Double(tiny["completion_tokens"] as? Int ?? 0) * 7 / 1e6
        #expect(abs((tiny["cost"] as? Double ?? -1) - expected) < 1e-12)
        let sum = (costAfter["models"] as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["cost"] as? Double ?? 0) }
        #expect(abs((costAfter["total"] as? Double ?? -1) - sum) < 1e-12 && sum > 0)
    }

    /// Idempotency: a repeat is replayed without running the model; another body is a 409; keys are per caller.
    func idempotency(_ s: Stack) throws {
        let ran = "infer_modeld_requests_total{model=\"smollm2\",outcome=\"ok\"}"
        // Sampled (temperature 1): not cached, so only idempotency can answer a repeat the same.
        let body = #"{"model":"smollm2","prompt":"Invent a word.","params":{"max_new_tokens":10,"temperature":1}}"#
        let runs = s.metric(ran)
        let first = s.post("/v1/infer", body, headers: ["Idempotency-Key: idem-1"])
        let second = s.post("/v1/infer", body, headers: ["Idempotency-Key: idem-1"])
        #expect(first.status == 200 && second.status == 200)
        #expect(first.headers["idempotent-replayed"] == nil && second.headers["idempotent-replayed"] == "true")
        #expect(second.body == first.body)
        #expect(s.metric(ran) - runs == 1)

        let other = s.post("/v1/infer", #"{"model":"smollm2","prompt":"Invent two words.","params":{"max_new_tokens":10,"temperature":1}}"#,
                           headers: ["Idempotency-Key: idem-1"])
        #expect(other.status == 409 && Self.error(other)["code"] as? String == "idempotency_key_reused")
        // Another caller with the same key gets its own run.
        let stranger = s.post("/v1/infer", body, key: "someone-else", headers: ["Idempotency-Key: idem-1"])
        #expect(stranger.status == 200 && stranger.headers["idempotent-replayed"] == nil && stranger.body != first.body)
        #expect(s.post("/v1/infer", body, headers: ["Idempotency-Key: has space"]).status == 400)

        // The body's request_id, with concurrent duplicates: one run, every caller the same reply.
        let runs2 = s.metric(ran)
        let concurrentBody = #"{"model":"smollm2","prompt":"Write a haiku.","request_id":"idem-concurrent","params":{"max_new_tokens":24,"temperature":1}}"#
        let collected = Mutex<[CurlResult]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let r = s.post("/v1/infer", concurrentBody)
            collected.withLock { $0.append(r) }
        }
        let replies = collected.withLock { $0 }
        #expect(replies.count == 4)
        #expect(replies.allSatisfy { $0.status == 200 && $0.body == replies[0].body })
        #expect(replies.count { $0.headers["idempotent-replayed"] == "true" } == 3)
        #expect(Self.object(replies[0])["id"] as? String == "idem-concurrent")
        #expect(s.metric(ran) - runs2 == 1)

        // Chat, completions and batch honour the header too.
        for (path, request) in [
            ("/v1/chat/completions", #"{"model":"smollm2","messages":[{"role":"user","content":"Invent a name."}],"temperature":1,"max_tokens":8}"#),
            ("/v1/completions", #"{"model":"smollm2","prompt":"My favourite word is","temperature":1,"max_tokens":8}"#),
            ("/v1/batch", #"{"params":{"temperature":1,"max_new_tokens":6},"requests":[{"prompt":"Invent a colour."},{"prompt":"Invent a fruit."}]}"#),
        ] {
            let before = s.metric(ran)
            let a = s.post(path, request, headers: ["Idempotency-Key: route-\(path)"])
            let b = s.post(path, request, headers: ["Idempotency-Key: route-\(path)"])
            #expect(a.status == 200 && b.body == a.body && b.headers["idempotent-replayed"] == "true", "\(path)")
            #expect(s.metric(ran) - before == (path == "/v1/batch" ? 2 : 1), "\(path)")
        }
    }
}
