import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing
import TestKit
@testable import Tracing
import Wire

/// An exporter that keeps what it is given, optionally stalling first (a collector that hangs).
final class KeepingExporter: SpanExporter {
    let spans = Recorder<SpanData>()
    let release = DispatchSemaphore(value: 0)
    let stalls: Bool

    init(stalls: Bool = false) { self.stalls = stalls }

    func export(_ batch: [SpanData]) -> Bool {
        if stalls { release.wait() }
        for span in batch { spans.append(span) }
        return true
    }
}

@Suite("spans, the batch processor and OTLP export")
struct SpanExportTests {
    @Test("a child span shares the trace, points at its parent and carries the sampled flag; an unsampled one records nothing")
    func parentLinks() async throws {
        let exporter = KeepingExporter()
        let processor = BatchSpanProcessor(exporter: exporter, settings: BatchSettings(scheduleDelay: .milliseconds(10)))
        let tracer = Tracer(serviceName: "test", processor: processor)
        let root = tracer.startSpan("root", kind: .server, parent: nil)
        let child = tracer.startSpan("child", parent: root.context)
        child.set("gen_ai.request.model", .string("smollm2"))
        child.end()
        root.end()
        root.end()  // only the first end counts
        let unsampled = TraceContext(traceID: TraceIDs.newTraceID(), spanID: TraceIDs.newSpanID(), flags: 0)
        let quiet = tracer.startSpan("quiet", parent: unsampled)
        #expect(!quiet.isRecording && quiet.context.traceID == unsampled.traceID && quiet.context.spanID != unsampled.spanID)
        quiet.end()
        #expect(await eventually { exporter.spans.count == 2 })
        let spans = exporter.spans.all
        let childData = try #require(spans.first { $0.name == "child" })
        #expect(childData.traceID == root.context.traceID)
        #expect(childData.parentSpanID == root.context.spanID)
        #expect(childData.attributes.first?.key == "gen_ai.request.model")
        #expect(spans.first { $0.name == "root" }?.parentSpanID == nil)
        tracer.shutdown(timeout: .seconds(1))
    }

    @Test("a full queue drops and counts spans and never blocks the caller, however stuck the exporter")
    func overflow() async throws {
        let exporter = KeepingExporter(stalls: true)
        let processor = BatchSpanProcessor(exporter: exporter, settings: BatchSettings(maxQueueSize: 4, scheduleDelay: .milliseconds(1),
                                                                                       maxExportBatchSize: 2))
        let tracer = Tracer(serviceName: "test", processor: processor)
        for index in 0..<50 { tracer.startSpan("span \(index)", parent: nil).end() }
        // The exporter holds one batch of 2; the queue holds 4; the rest were dropped.
        let counts = processor.exportCounts
        #expect(counts.dropped >= 50 - 6)
        exporter.release.signal()
        exporter.release.signal()
        exporter.release.signal()
        #expect(await eventually { processor.queuedCount == 0 })
        tracer.shutdown(timeout: .seconds(1))
        #expect(processor.exportCounts.exported + processor.exportCounts.dropped == 50)
    }

    @Test("an unreachable collector: export fails fast and is counted, the caller never waits")
    func unreachable() async throws {
        let port = try freeTCPPort()
        let url = try #require(URL(string: "http://127.0.0.1:\(port)/v1/traces"))
        let exporter = OTLPHTTPExporter(endpoint: url, headers: [], resource: [("service.name", .string("test"))], timeout: .seconds(2))
        let processor = BatchSpanProcessor(exporter: exporter, settings: BatchSettings(scheduleDelay: .milliseconds(10)))
        let tracer = Tracer(serviceName: "test", processor: processor)
        let started = ContinuousClock.now
        for index in 0..<100 { tracer.startSpan("span \(index)", parent: nil).end() }
        #expect(started.duration(to: .now) < .seconds(1))
        #expect(await eventually(.seconds(10)) { processor.exportCounts.failed == 100 })
        tracer.shutdown(timeout: .seconds(1))
    }

    @Test("endpoint and headers from the standard variables")
    func configuration() throws {
        let base = try #require(URL(string: "http://collector:4318/"))
        #expect(OTLPHTTPExporter.tracesEndpoint(traces: nil, base: base)?.absoluteString == "http://collector:4318/v1/traces")
        let traces = try #require(URL(string: "http://other:9/custom"))
        #expect(OTLPHTTPExporter.tracesEndpoint(traces: traces, base: base) == traces)
        #expect(OTLPHTTPExporter.tracesEndpoint(traces: nil, base: nil) == nil)
        let headers = try #require(OTLPHTTPExporter.parseHeaders("api-key=secret%20one, x-tenant = acme"))
        #expect(headers.map(\.name) == ["api-key", "x-tenant"])
        #expect(headers.map(\.value) == ["secret one", "acme"])
        #expect(OTLPHTTPExporter.parseHeaders("novalue") == nil)
        #expect(OTLPHTTPExporter.parseHeaders("=x") == nil)
    }

    @Test("the protobuf writer: varints, fixed fields, a nested message")
    func protobuf() {
        var writer = ProtobufWriter()
        writer.varint(1, 300)
        writer.fixed64(2, 1)
        writer.message(3) { $0.string(1, "ab") }
        #expect(writer.bytes == [0x08, 0xAC, 0x02, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1A, 0x04, 0x0A, 0x02, 0x61, 0x62])
    }
}
