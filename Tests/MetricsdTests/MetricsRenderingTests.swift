import Foundation
import IPC
import Metrics
@testable import metricsd
import Testing
import TestKit

@Suite struct MetricsRenderingTests {
    /// A registry with every kind of metric, labels that need escaping, and merged families.
    static func sampleText() -> String {
        let r = MetricsRegistry()
        r.counter("infer_http_requests_total", help: "Requests by route and status.")
            .increment([MetricLabel("route", "/v1/chat/completions"), MetricLabel("status", "200")], by: 3)
        r.counter("infer_http_requests_total", help: "ignored").increment([MetricLabel("route", "we\"ird\\\n"), MetricLabel("status", "429")])
        r.gauge("infer_batchd_queue_depth", help: "Requests waiting.").set(4, [MetricLabel("model", "smollm2")])
        let h = r.histogram("infer_http_request_duration_seconds", help: "Latency.", buckets: [0.01, 0.1, 1])
        for v in [0.005, 0.05, 0.5, 5] { h.observe(v, [MetricLabel("route", "/v1/chat/completions")]) }
        var other = MetricsRegistry().snapshot()
        let r2 = MetricsRegistry()
        r2.counter("infer_http_requests_total", help: "dup from another daemon").increment([MetricLabel("route", "/health"), MetricLabel("status", "200")])
        other += r2.snapshot()
        return PrometheusText.render(r.snapshot() + other)
    }

    @Test func rendersHistogramsCumulativelyAndEscapesLabels() {
        let text = Self.sampleText()
        #expect(text.contains("# TYPE infer_http_request_duration_seconds histogram"))
        #expect(text.contains("infer_http_request_duration_seconds_bucket{route=\"/v1/chat/completions\",le=\"0.1\"} 2"))
        #expect(text.contains("infer_http_request_duration_seconds_bucket{route=\"/v1/chat/completions\",le=\"+Inf\"} 4"))
        #expect(text.contains("infer_http_request_duration_seconds_count{route=\"/v1/chat/completions\"} 4"))
        #expect(text.contains("route=\"we\\\"ird\\\\\\n\""))
        #expect(text.contains("infer_http_requests_total{route=\"/health\",status=\"200\"} 1"))
        #expect(text.components(separatedBy: "# TYPE infer_http_requests_total").count == 2)
    }

    @Test func survivesTheWireAndPromtoolAcceptsIt() throws {
        let r = MetricsRegistry()
        r.histogram("infer_x_seconds", help: "x", buckets: [1, 2]).observe(1.5)
        let back = try MetricsSnapshot(decoding: MetricsSnapshot(families: r.snapshot()).encoded())
        #expect(back.families == r.snapshot())

        let check = try promtoolCheck(Self.sampleText())
        #expect(check.accepted, "promtool: \(check.output)")
    }

    @Test func scrapeReportsDownDaemonsAsZero() async {
        let dir = NSTemporaryDirectory() + "metricsd-\(UUID().uuidString.prefix(8))"
        let targets = ScrapeTargets(runtimeDirectory: dir, models: ["smollm2"])
        let families = await targets.scrape(timeout: .milliseconds(50))
        let up = families.first { $0.name == "infer_daemon_up" }
        #expect(up?.samples.count == 6)
        #expect(up?.samples.filter { $0.value == 0 }.count == 5)
        #expect(up?.samples.first { $0.labels == [MetricLabel("daemon", "metricsd")] }?.value == 1)
    }
}
