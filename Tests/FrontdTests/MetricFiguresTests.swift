import IPC
import Testing

@testable import frontd
import Metrics

@Suite struct MetricFiguresTests {
    @Test("sums across daemons and labels; quantiles interpolate inside buckets like histogram_quantile")
    func figures() {
        let r = MetricsRegistry()
        let requests = r.counter("infer_http_requests_total", help: "")
        requests.increment([MetricLabel("route", "/v1/infer"), MetricLabel("status", "200")], by: 7)
        requests.increment([MetricLabel("route", "/v1/infer"), MetricLabel("status", "429")], by: 2)
        let h = r.histogram("infer_http_request_duration_seconds", help: "", buckets: [0.1, 1, 10])
        for v in [0.05, 0.5, 0.5, 5] { h.observe(v, [MetricLabel("route", "/v1/infer")]) }
        h.observe(0.01, [MetricLabel("route", "/health")])
        let other = MetricsRegistry()
        other.counter("infer_modeld_prompt_tokens_total", help: "").increment([MetricLabel("model", "a")], by: 10)
        let more = MetricsRegistry()
        more.counter("infer_modeld_prompt_tokens_total", help: "").increment([MetricLabel("model", "b")], by: 5)
        let f = MetricFigures(families: r.snapshot() + other.snapshot() + more.snapshot())

        #expect(f.sum("infer_http_requests_total") == 9)
        #expect(f.sum("infer_http_requests_total") { MetricFigures.label("status", $0) == "429" } == 2)
        #expect(f.sum("infer_modeld_prompt_tokens_total", by: "model") == ["a": 10, "b": 5])
        let infer: ([MetricLabel]) -> Bool = { MetricFigures.label("route", $0) == "/v1/infer" }
        // 4 observations: ranks 2 (p50) falls in (0.1, 1] holding 2: 0.1 + 0.9 * (2 - 1) / 2.
        #expect(abs((f.quantile(0.5, histogram: "infer_http_request_duration_seconds", where: infer) ?? 0) - 0.55) < 1e-9)
        // p99: rank 3.96 in (1, 10] holding 1: 1 + 9 * 0.96.
        #expect(abs((f.quantile(0.99, histogram: "infer_http_request_duration_seconds", where: infer) ?? 0) - 9.64) < 1e-9)
        #expect(f.quantile(0.5, histogram: "infer_http_request_duration_seconds") { _ in false } == nil)
        #expect(Frontend.rate(0, 0) == 0 && Frontend.rate(1, 3) == 0.25)
    }

    @Test("query strings decode + and %XX, and refuse bad escapes")
    func query() throws {
        let q = try QueryParameters("model=tiny&x=a+b%2Fc&flag")
        #expect(q["model"] == "tiny" && q["x"] == "a b/c" && q["flag"] == "" && q["none"] == nil)
        #expect(try QueryParameters(nil)["model"] == nil)
        #expect(throws: APIError.self) { try QueryParameters("model=%zz") }
        #expect(throws: APIError.self) { try QueryParameters("model=%FF") }
    }

    @Test("native JSON: milliseconds to the microsecond, batch items keep the result's fields")
    func json() {
        #expect(InferJSON.milliseconds(12.3456789) == "12.346")
        #expect(InferJSON.milliseconds(0.0004) == "0.000")
        #expect(InferJSON.milliseconds(-.infinity) == "0")
        let c = CachedCompletion(content: "a\"b", finishReason: "stop", promptTokens: 3, completionTokens: 2)
        let result = InferJSON.result(id: "i", model: "m", c, cost: nil, latencyMs: 1.5, cached: true)
        #expect(result == #"{"id":"i","model":"m","output":"a\"b","finish_reason":"stop","usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},"latency_ms":1.500,"cached":true}"#)
        #expect(InferJSON.item(index: 4, result: result).hasPrefix(#"{"index":4,"id":"i","#))
    }
}
