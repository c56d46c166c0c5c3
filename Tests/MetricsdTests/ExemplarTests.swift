import Foundation
import Glibc
import IPC
import Metrics
import Services
import Testing
import TestKit
import Wire

/// Histogram exemplars: kept per bucket by the registry, carried by the exemplar stats type, rendered only
/// as OpenMetrics, and asked for in a way that old daemons (plain stats only) still answer.
@Suite struct ExemplarTests {
    static let trace = ExemplarTrace(traceID: "4bf92f3577b34da6a3ce929d0e0e4736", spanID: "00f067aa0ba902b7")

    static func registry() -> MetricsRegistry {
        let r = MetricsRegistry()
        let h = r.histogram("infer_frontd_time_to_first_token_seconds", help: "TTFT \"quoted\".", buckets: [0.1, 1])
        h.observe(0.05, [MetricLabel("model", "m")])
        h.observe(0.5, [MetricLabel("model", "m")], exemplar: trace)
        h.observe(7, [MetricLabel("model", "m")], exemplar: ExemplarTrace(traceID: String(repeating: "a", count: 32), spanID: String(repeating: "b", count: 16)))
        r.counter("infer_http_requests_total", help: "Requests.").increment([MetricLabel("route", "/v1/models")])
        r.gauge("infer_batchd_queue_depth", help: "Waiting.").set(2)
        return r
    }

    @Test("the registry keeps the latest exemplar of the bucket an observation falls in")
    func keptPerBucket() throws {
        let sample = try #require(Self.registry().snapshot().first?.samples.first)
        #expect(sample.exemplars.count == 3)
        #expect(sample.exemplars[0] == nil)
        #expect(sample.exemplars[1]?.trace == Self.trace && sample.exemplars[1]?.value == 0.5)
        #expect(sample.exemplars[2]?.value == 7)  // +Inf
        let now = Date().timeIntervalSince1970
        #expect(abs((sample.exemplars[1]?.timestamp ?? 0) - now) < 60)
    }

    @Test("OpenMetrics: exemplars on their bucket, counters typed without _total, HELP quotes escaped, # EOF last")
    func openMetricsText() {
        let text = OpenMetricsText.render(Self.registry().snapshot())
        #expect(text.contains(#"infer_frontd_time_to_first_token_seconds_bucket{model="m",le="1"} 2 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 0.5 "#))
        #expect(text.contains(#"infer_frontd_time_to_first_token_seconds_bucket{model="m",le="0.1"} 1"# + "\n"))
        #expect(text.contains(#"le="+Inf"} 3 # {trace_id="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa""#))
        #expect(text.contains("# TYPE infer_http_requests counter\n"))
        #expect(text.contains("infer_http_requests_total{route=\"/v1/models\"} 1\n"))
        #expect(text.contains(#"# HELP infer_frontd_time_to_first_token_seconds TTFT \"quoted\"."#))
        #expect(text.hasSuffix("# EOF\n") && text.components(separatedBy: "# EOF").count == 2)
        // The classic text never carries exemplars.
        #expect(!PrometheusText.render(Self.registry().snapshot()).contains("trace_id"))
    }

    @Test("Accept negotiation: what Prometheus sends picks OpenMetrics; plain text otherwise or with q=0",
          arguments: [
              ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true),
              ("text/plain;version=0.0.4;q=1,*/*;q=0.1", false),
              ("application/openmetrics-text; q=0", false),
              ("*/*", false),
          ])
    func accept(_ header: String, _ open: Bool) {
        #expect(OpenMetricsText.isAccepted(by: header) == open)
        #expect(!OpenMetricsText.isAccepted(by: nil))
    }

    @Test("the exemplar stats reply survives the wire; bad indices and ids are refused")
    func wire() throws {
        let families = Self.registry().snapshot()
        let back = try MetricsSnapshotWithExemplars(decoding: MetricsSnapshotWithExemplars(families: families).encoded())
        #expect(back.families == families)
        // The plain reply has no exemplars and is what an old metricsd reads.
        let plain = try MetricsSnapshot(decoding: MetricsSnapshot(families: families).encoded())
        #expect(plain.families.allSatisfy { $0.samples.allSatisfy { $0.exemplars.isEmpty } })

        var bad = families
        bad[0].samples[0].exemplars[1]?.trace.traceID = "not hex at all, not hex at all!!"
        #expect(throws: WireError.self) { _ = try MetricsSnapshotWithExemplars(decoding: MetricsSnapshotWithExemplars(families: bad).encoded()) }
        var w = WireWriter()
        MetricsSnapshot(families: families).encode(to: &w)
        w.writeUInt32(1)
        w.writeUInt32(2)  // family 2 is the gauge: no buckets
        w.writeUInt32(0)
        w.writeUInt16(0)
        w.writeString(Self.trace.traceID)
        w.writeString(Self.trace.spanID)
        w.writeFloat64(1)
        w.writeFloat64(1)
        #expect(throws: WireError.self) { _ = try MetricsSnapshotWithExemplars(decoding: w.bytes) }

        // The fuzzer's seed for this decoder is a valid reply (its first byte picks the decoder).
        let seed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: packageRoot + "/fuzz/corpus/messages/m43")))
        let decoded = try MetricsSnapshotWithExemplars(decoding: Array(seed.dropFirst()))
        #expect(decoded.families.first?.samples.first?.exemplars[1]?.trace.traceID == Self.trace.traceID)
    }

    @Test("StatsClient gets exemplars from a new daemon and the plain snapshot from an old one")
    func rollingRestart() async throws {
        var template = Array("/tmp/mexm-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let registry = Self.registry()
        let newPath = dir + "/new.sock", oldPath = dir + "/old.sock"
        let new = ServiceShell(name: "limitd", metrics: registry).server(listenFD: try UnixSocket.listen(path: newPath), protocolName: ServiceName.limitd)
        // A daemon from before exemplars: it answers the plain stats type only.
        let old = IPCServer(listenFD: try UnixSocket.listen(path: oldPath), protocolName: ServiceName.limitd, version: ServiceName.version) { call in
            if call.type == StatsProtocol.statsType {
                call.reply(MetricsSnapshot(families: registry.snapshot().map { f in
                    var f = f
                    f.samples = f.samples.map { var s = $0; s.exemplars = []; return s }
                    return f
                }))
            } else {
                call.fail(code: IPCErrorCode.unknownType, message: "limitd does not know message type \(call.type)")
            }
        }
        try new.start()
        try old.start()
        let fromNew = try await StatsClient(path: newPath, protocolName: ServiceName.limitd).snapshot(timeout: .seconds(5))
        let fromOld = try await StatsClient(path: oldPath, protocolName: ServiceName.limitd).snapshot(timeout: .seconds(5))
        #expect(fromNew.first?.samples.first?.exemplars[1]?.trace.spanID == Self.trace.spanID)
        #expect(fromOld.first?.samples.first?.exemplars.isEmpty == true)
        #expect(fromOld.first?.samples.first?.count == 3)
        await new.drain(timeout: .seconds(1))
        await old.drain(timeout: .seconds(1))
    }
}
