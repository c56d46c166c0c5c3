import Foundation

/// Every check `inferctl test-api` runs, in order: the open routes, each generating and embedding route
/// (plain and streamed), the native routes, the metrics and cache figures, and refusals (a wrong key, a
/// body that is not JSON, a field out of range, an unknown model, an unknown route). The cache is only
/// read (`DELETE /v1/cache` would empty a live stack's cache) and webhooks need the HMAC secret, so
/// neither is called.
enum APIChecks {
    /// A short greedy request, so the checks cost little model time.
    static let maxTokens = 8
    static let question = "Say hello in one word."

    static let all: [APICheck] = open + generation + native + figures + refusals

    static let open: [APICheck] = [
        .json("root lists the routes", "GET", "/") { object throws(CheckFailure) in
            let routes: [Any] = try object.field("routes")
            return "\(routes.count) routes"
        },
        .json("health", "GET", "/health") { _ in "up" },
        .json("liveness", "GET", "/health/live") { _ in "live" },
        .json("readiness", "GET", "/ready") { _ in "ready" },
        .json("readiness (health/ready)", "GET", "/health/ready") { _ in "ready" },
        .json("model list", "GET", "/v1/models") { object throws(CheckFailure) in
            let data: [[String: Any]] = try object.field("data")
            guard !data.isEmpty else { throw CheckFailure(detail: "no models listed") }
            return "\(data.count) models: " + data.compactMap { $0["id"] as? String }.joined(separator: ", ")
        },
    ]

    static let generation: [APICheck] = [
        .json("chat completion", "POST", "/v1/chat/completions", body: { context in
            context.generation(["messages": [["role": "user", "content": question]], "max_tokens": maxTokens, "temperature": 0])
        }) { object throws(CheckFailure) in
            let choices: [[String: Any]] = try object.field("choices")
            guard let content = (choices.first?["message"] as? [String: Any])?["content"] as? String else {
                throw CheckFailure(detail: "no choices[0].message.content")
            }
            return "\(try tokens(object)) tokens: \(quoted(content))"
        },
        .stream("chat completion, streamed", "/v1/chat/completions", kind: .chat, body: { context in
            context.generation(["messages": [["role": "user", "content": question]], "max_tokens": maxTokens, "temperature": 0,
                                "stream": true, "stream_options": ["include_usage": true]])
        }, judge: streamed),
        .json("completion", "POST", "/v1/completions", body: { context in
            context.generation(["prompt": "The capital of France is", "max_tokens": maxTokens, "temperature": 0])
        }) { object throws(CheckFailure) in
            let choices: [[String: Any]] = try object.field("choices")
            guard let text = choices.first?["text"] as? String else { throw CheckFailure(detail: "no choices[0].text") }
            return "\(try tokens(object)) tokens: \(quoted(text))"
        },
        .stream("completion, streamed", "/v1/completions", kind: .completion, body: { context in
            context.generation(["prompt": "The capital of France is", "max_tokens": maxTokens, "temperature": 0,
                                "stream": true, "stream_options": ["include_usage": true]])
        }, judge: streamed),
        .json("embeddings", "POST", "/v1/embeddings", body: { context in
            var body: [String: Any] = ["input": ["a first sentence", "a second one"]]
            if let model = context.embeddingModel { body["model"] = model }
            return APIClient.json(body)
        }) { object throws(CheckFailure) in
            guard let vectors = EmbedCommand.vectors(in: object), vectors.count == 2, let size = vectors.first?.count, size > 0,
                  vectors.allSatisfy({ $0.count == size }) else {
                throw CheckFailure(detail: "expected two vectors of the same non-zero size")
            }
            return "2 vectors of \(size)"
        },
    ]

    static let native: [APICheck] = [
        .json("native inference", "POST", "/v1/infer", body: { context in
            context.generation(["prompt": question, "params": ["max_new_tokens": maxTokens, "temperature": 0]])
        }) { object throws(CheckFailure) in
            let output: String = try object.field("output")
            return "\(try tokens(object)) tokens: \(quoted(output))"
        },
        .stream("native inference, streamed", "/v1/infer/stream", kind: .native, body: { context in
            context.generation(["prompt": question, "params": ["max_new_tokens": maxTokens, "temperature": 0]])
        }, judge: streamed),
        .json("batch of two", "POST", "/v1/batch", body: { context in
            context.generation(["params": ["max_new_tokens": maxTokens, "temperature": 0],
                                "requests": [["prompt": question], ["prompt": "Name a colour."]]])
        }) { object throws(CheckFailure) in
            let succeeded: Int = try object.field("succeeded")
            let results: [Any] = try object.field("results")
            guard succeeded == 2, results.count == 2 else {
                throw CheckFailure(detail: "\(succeeded) of \(results.count) items succeeded; expected 2 of 2")
            }
            return "2 of 2 succeeded"
        },
    ]

    static let figures: [APICheck] = [
        APICheck(name: "Prometheus metrics", route: "GET /metrics") { context throws(CheckFailure) in
            let reply = try await APICheck.call(context.api, "GET", "/metrics", accept: "text/plain")
            let text = String(decoding: reply.body, as: UTF8.self)
            guard text.contains("infer_http_requests_total") else {
                throw CheckFailure(detail: "no infer_http_requests_total in the exposition", status: reply.status)
            }
            let samples = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.count
            return CheckPass(status: reply.status, detail: "\(samples) samples")
        },
        .json("metrics summary", "GET", "/v1/metrics/summary") { object throws(CheckFailure) in
            let total: Int = try object.field("requests_total")
            return "\(total) requests so far"
        },
        .json("cache metrics", "GET", "/v1/metrics/cache") { object throws(CheckFailure) in
            let rate: Double = try object.field("hit_rate")
            return String(format: "hit rate %.2f", rate)
        },
        .json("cost", "GET", "/v1/metrics/cost") { object throws(CheckFailure) in
            let currency: String = try object.field("currency")
            let total: Double = try object.field("total")
            return String(format: "%.6f %@", total, currency)
        },
        .json("cache stats", "GET", "/v1/cache/stats") { object throws(CheckFailure) in
            let entries: Int = try object.field("entries")
            return "\(entries) entries"
        },
    ]

    static let refusals: [APICheck] = [
        .refusal("a wrong API key is refused", "GET", "/v1/models", status: 401, wrongKey: true),
        .refusal("a body that is not JSON is refused", "POST", "/v1/chat/completions", status: 400) { _ in
            Data("{\"messages\": [".utf8)
        },
        .refusal("a value out of range is refused", "POST", "/v1/chat/completions", status: 422) { context in
            context.generation(["messages": [["role": "user", "content": question]], "temperature": 5])
        },
        .refusal("an unknown model is refused", "POST", "/v1/chat/completions", status: 404) { _ in
            APIClient.json(["model": "no-such-model-test-api", "messages": [["role": "user", "content": question]]])
        },
        .refusal("an unknown route is refused", "GET", "/v1/no-such-route", status: 404),
    ]

    /// A streamed answer passes with some text and an end: its usage, or a finish reason.
    @Sendable static func streamed(_ answer: StreamedAnswer) throws(CheckFailure) -> String {
        guard answer.pieces > 0 else { throw CheckFailure(detail: "no text arrived") }
        guard answer.usage != nil || answer.finishReason != nil else { throw CheckFailure(detail: "the stream had no final event") }
        return "\(answer.pieces) pieces: \(quoted(answer.text))"
    }

    /// `usage.completion_tokens` of an answer.
    static func tokens(_ object: [String: Any]) throws(CheckFailure) -> Int {
        let usage: [String: Any] = try object.field("usage")
        return try usage.field("completion_tokens")
    }

    /// A short quotation of generated text, on one line.
    static func quoted(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return "\"" + (line.count > 30 ? String(line.prefix(29)) + "…" : line) + "\""
    }
}
