import Foundation
import Glibc
import Testing
import TestKit

/// Traces across the daemons, received by a real OTLP/HTTP receiver that decodes them with the official
/// protobuf definitions (tests-python/otlp_receiver.py, PyPI's opentelemetry-proto).
@Suite("traces across the six daemons", .serialized)
struct TracingTests {
    static let clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let clientSpan = "00f067aa0ba902b7"

    static func chat(_ port: Int, key: String, model: String, content: String, headers: [String] = []) -> CurlResult {
        let body = #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(content)"}],"temperature":0,"max_tokens":8}"#
        return curl(headers.flatMap { ["-H", $0] } + ["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)",
                                                      "-d", body, "http://127.0.0.1:\(port)/v1/chat/completions"])
    }

    /// The reply's `traceparent`: trace id and span id.
    static func replyParent(_ reply: CurlResult) -> (trace: String, span: String)? {
        let fields = (reply.headers["traceparent"] ?? "").split(separator: "-").map(String.init)
        guard fields.count == 4, fields[0] == "00", fields[1].count == 32, fields[2].count == 16 else { return nil }
        return (fields[1], fields[2])
    }

    /// The one span of `trace` named `name`.
    static func span(_ spans: [[String: Any]], _ name: String) -> [String: Any]? {
        let found = spans.filter { $0["name"] as? String == name }
        return found.count == 1 ? found[0] : nil
    }

    static func attribute(_ span: [String: Any]?, _ key: String) -> Any? {
        (span?["attributes"] as? [String: Any])?[key]
    }

    @Test("a client's traceparent: spans of frontd, limitd, cached, batchd and modeld (built-in and upstream) in one trace, rightly linked, with GenAI attributes; a malformed one replaced")
    func oneTraceAcrossTheDaemons() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let receiver = try await OTLPReceiver.start(file: directory.file("spans.jsonl"))
        defer { receiver.stop() }
        let upstream = try await ScriptedUpstream.start()
        defer { upstream.stop() }
        let stack = try StackRun(
            models: [("smollm2", "chat")],
            environmentFile: ["OTEL_EXPORTER_OTLP_ENDPOINT=\(receiver.endpoint)", "OTEL_BSP_SCHEDULE_DELAY=50"],
            realDaemons: true,
            extraRegistryEntries: [#"{"name": "remote", "kind": "chat", "engine": "openai", "url": "\#(upstream.baseURL)", "upstream_model": "scripted"}"#])
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "the stack did not become ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http"))
        let key = try stack.key("unlimited")

        // The built-in engine, a cache miss: every daemon takes part.
        let reply = Self.chat(port, key: key, model: "smollm2", content: "Name a colour.",
                              headers: ["traceparent: 00-\(Self.clientTrace)-\(Self.clientSpan)-01", "tracestate: congo=t61rcWkgMzE"])
        #expect(reply.status == 200, "\(reply.body)")
        let parent = try #require(Self.replyParent(reply), "reply traceparent: \(reply.headers["traceparent"] ?? "none")")
        #expect(parent.trace == Self.clientTrace)
        #expect(reply.headers["traceparent"]?.hasSuffix("-01") == true)
        let names = ["POST /v1/chat/completions", "limitd Reserve", "cached Get", "batchd Generate", "batchd queue", "batchd relay",
                     "modeld prefill", "modeld decode", "cached Put"]
        #expect(await eventually(.seconds(60)) {
            let got = Set(receiver.spans(trace: Self.clientTrace).compactMap { $0["name"] as? String })
            return names.allSatisfy(got.contains)
        }, "spans received: \(receiver.spans().map { "\($0["service"] ?? "?"): \($0["name"] ?? "?")" })")
        let spans = receiver.spans(trace: Self.clientTrace)
        let front = try #require(Self.span(spans, "POST /v1/chat/completions"))
        #expect(front["service"] as? String == "infer-frontd")
        #expect(front["parent_span_id"] as? String == Self.clientSpan)
        #expect(front["span_id"] as? String == parent.span, "the reply's traceparent names frontd's span")
        #expect(front["kind"] as? Int == 2)
        #expect(front["trace_state"] as? String == "congo=t61rcWkgMzE")
        #expect(Self.attribute(front, "http.request.method") as? String == "POST")
        #expect(Self.attribute(front, "http.route") as? String == "/v1/chat/completions")
        #expect(Self.attribute(front, "http.response.status_code") as? Int == 200)
        #expect(Self.attribute(front, "gen_ai.operation.name") as? String == "chat")
        #expect(Self.attribute(front, "gen_ai.request.model") as? String == "smollm2")
        #expect(Self.attribute(front, "gen_ai.response.model") as? String == "smollm2")
        #expect(Self.attribute(front, "gen_ai.request.max_tokens") as? Int == 8)
        #expect(Self.attribute(front, "gen_ai.request.temperature") as? Double == 0)
        let outputTokens = Self.attribute(front, "gen_ai.usage.output_tokens") as? Int ?? 0
        #expect(outputTokens > 0)
        #expect((Self.attribute(front, "gen_ai.usage.input_tokens") as? Int ?? 0) > 0)
        #expect((Self.attribute(front, "gen_ai.response.finish_reasons") as? [String])?.count == 1)
        #expect(Self.attribute(front, "infer.cache.result") as? String == "miss")
        let frontID = try #require(front["span_id"] as? String)
        for (name, service) in [("limitd Reserve", "infer-limitd"), ("cached Get", "infer-cached"), ("cached Put", "infer-cached"),
                                ("batchd Generate", "infer-batchd")] {
            let span = Self.span(spans, name)
            #expect(span?["service"] as? String == service, "\(name)")
            #expect(span?["parent_span_id"] as? String == frontID, "\(name) is a child of frontd's span")
            #expect(span?["kind"] as? Int == 2, "\(name) is a server span")
        }
        let batchID = try #require(Self.span(spans, "batchd Generate")?["span_id"] as? String)
        #expect(Self.span(spans, "batchd queue")?["parent_span_id"] as? String == batchID)
        let relay = try #require(Self.span(spans, "batchd relay"))
        #expect(relay["parent_span_id"] as? String == batchID)
        #expect(Self.attribute(relay, "infer.deployment") as? String == "smollm2")
        for name in ["modeld prefill", "modeld decode"] {
            let span = Self.span(spans, name)
            #expect(span?["service"] as? String == "infer-modeld")
            #expect(span?["parent_span_id"] as? String == relay["span_id"] as? String, "\(name) is a child of the relay")
        }
        #expect(Self.attribute(Self.span(spans, "modeld decode"), "gen_ai.usage.output_tokens") as? Int == outputTokens)
        #expect(spans.allSatisfy { ($0["end"] as? Int ?? 0) >= ($0["start"] as? Int ?? 1) })

        // frontd's access line for it: the request's trace, the key's name (never the key), what answered.
        let access = stack.logLines().filter { $0["daemon"] as? String == "frontd" && $0["msg"] as? String == "access"
            && $0["trace_id"] as? String == Self.clientTrace }
        #expect(access.count == 1, "access lines: \(access)")
        let line = access.first ?? [:]
        #expect(line["span_id"] as? String == frontID && line["request_id"] as? String != nil)
        #expect(line["method"] as? String == "POST" && line["route"] as? String == "/v1/chat/completions" && line["status"] as? Int == 200)
        #expect(line["model"] as? String == "smollm2" && line["deployment"] as? String == "smollm2" && line["cache"] as? String == "miss")
        #expect(line["key"] as? String == "unlimited" && line["completion_tokens"] as? Int == outputTokens)
        #expect((line["ttft_ms"] as? Double ?? -1) > 0 && (line["ms"] as? Double ?? -1) >= (line["ttft_ms"] as? Double ?? 0))
        #expect(line["cost_usd"] != nil && line["prompt_tokens"] as? Int ?? 0 > 0)
        #expect(!stack.standardError.contains(key), "the API key itself is never logged")

        // An upstream deployment: modeld's client span, and the traceparent it sends names that span.
        let remoteTrace = "0af7651916cd43dd8448eb211c80319c"
        let remote = Self.chat(port, key: key, model: "remote", content: "Hello there", headers: ["traceparent: 00-\(remoteTrace)-b7ad6b7169203331-01"])
        #expect(remote.status == 200, "\(remote.body)")
        #expect(await eventually(.seconds(60)) { receiver.spans(trace: remoteTrace).contains { $0["name"] as? String == "chat scripted" } })
        let call = try #require(Self.span(receiver.spans(trace: remoteTrace), "chat scripted"))
        #expect(call["kind"] as? Int == 3)
        #expect(call["service"] as? String == "infer-modeld")
        #expect(Self.attribute(call, "server.address") as? String == "127.0.0.1")
        #expect(Self.attribute(call, "gen_ai.request.model") as? String == "scripted")
        let remoteRelay = Self.span(receiver.spans(trace: remoteTrace), "batchd relay")
        #expect(call["parent_span_id"] as? String == remoteRelay?["span_id"] as? String)
        let statsData = try Data(contentsOf: URL(string: "http://127.0.0.1:\(upstream.port)/control/stats")!)
        let last = (try JSONSerialization.jsonObject(with: statsData) as? [String: Any])?["last_request"] as? [String: Any]
        let sent = (last?["headers"] as? [String: Any])?["traceparent"] as? String
        #expect(sent == "00-\(remoteTrace)-\(call["span_id"] as? String ?? "?")-01", "the upstream got \(sent ?? "no traceparent")")

        // A malformed traceparent is not trusted: a new trace, frontd's span its root.
        let bad = Self.chat(port, key: key, model: "smollm2", content: "Name a colour.", headers: ["traceparent: 00-\(Self.clientTrace)-zzzz-01"])
        #expect(bad.status == 200)
        let fresh = try #require(Self.replyParent(bad))
        #expect(fresh.trace != Self.clientTrace)
        // Each daemon exports on its own schedule: wait for frontd's span as well as limitd's (a cache hit,
        // admitted without a reservation).
        #expect(await eventually(.seconds(60)) {
            let got = Set(receiver.spans(trace: fresh.trace).compactMap { $0["name"] as? String })
            return got.contains("limitd AdmitCached") && got.contains("POST /v1/chat/completions")
        })
        let root = Self.span(receiver.spans(trace: fresh.trace), "POST /v1/chat/completions")
        #expect(root?["parent_span_id"] as? String == "")
        #expect(Self.attribute(root, "infer.cache.result") as? String == "hit")
    }

    @Test("an unreachable collector changes nothing for clients; the failed exports are counted")
    func collectorDown() async throws {
        let closedPort = try freeTCPPort()
        let stack = try StackRun(models: [("smollm2", "chat")],
                                 environmentFile: ["OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:\(closedPort)", "OTEL_BSP_SCHEDULE_DELAY=50"],
                                 realDaemons: true)
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "the stack did not become ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http"))
        let metricsPort = try #require(stack.port("metrics-http"))
        let key = try stack.key("unlimited")
        for index in 0..<5 {
            let reply = Self.chat(port, key: key, model: "smollm2", content: "Count to \(index % 2)",
                                  headers: ["traceparent: 00-\(Self.clientTrace)-\(Self.clientSpan)-01"])
            #expect(reply.status == 200, "\(reply.body)")
            #expect(Self.replyParent(reply)?.trace == Self.clientTrace)
        }
        #expect(await eventually(.seconds(60)) {
            let text = curl(["http://127.0.0.1:\(metricsPort)/metrics"]).body
            return text.split(separator: "\n").contains { $0.hasPrefix("infer_trace_spans_failed_total") && !$0.hasSuffix(" 0") }
        }, "the failed exports are counted")
    }
}
