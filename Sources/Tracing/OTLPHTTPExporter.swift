import Basics
import FoundationEssentials

/// Exports spans as OTLP/HTTP: `POST` of an `ExportTraceServiceRequest` in binary protobuf
/// (`Content-Type: application/x-protobuf`) to the traces endpoint, with the configured headers, over
/// a plain `http://` connection of its own (``CollectorPost``; an `https://` collector is reached through
/// a local OpenTelemetry Collector, docs/RUNTIME.md). Runs on the processor's thread and waits at most
/// `timeout` per batch; any failure (unreachable, refused, non-2xx, timed out) is reported, never thrown,
/// and the batch is counted as failed.
public final class OTLPHTTPExporter: SpanExporter {
    public let endpoint: URL
    private let post: CollectorPost?
    private let resource: [(key: String, value: AttributeValue)]
    private let timeout: Duration

    /// The instrumentation scope named in every export.
    static let scope = (name: "infer", version: "1")

    /// - Parameters:
    ///   - endpoint: The traces URL (`http://…/v1/traces`); any other scheme fails every export.
    ///   - headers: Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`, as ``parseHeaders(_:)`` returns them).
    ///   - resource: The resource attributes (`service.name` first).
    ///   - timeout: Longest wait for one export.
    public init(endpoint: URL, headers: [(name: String, value: String)], resource: [(key: String, value: AttributeValue)],
                timeout: Duration) {
        self.endpoint = endpoint
        self.resource = resource
        self.timeout = timeout
        post = CollectorPost.Target(endpoint).map { CollectorPost(target: $0, headers: headers) }
    }

    public func export(_ spans: [SpanData]) -> Bool {
        guard let post else { return false }
        let body = OTLPTraceEncoder.encode(spans, resource: resource, scope: Self.scope)
        guard let status = post.send(body: body, contentType: "application/x-protobuf", deadline: .now + timeout) else { return false }
        return (200..<300).contains(status)
    }

    /// The schemes an endpoint may have: plain `http` only.
    public static let schemes = ["http"]

    /// The traces endpoint from the standard variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended to its path.
    public static func tracesEndpoint(traces: URL?, base: URL?) -> URL? {
        if let traces { return traces }
        guard let base else { return nil }
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return URL(string: text + "/v1/traces")
    }

    /// `OTEL_EXPORTER_OTLP_HEADERS`: `name=value` pairs separated by commas, values percent-decoded.
    /// - Returns: The headers, or nil when an entry has no `=` or an empty name, or a value holds a
    ///   control character once decoded (a line break would end the header).
    public static func parseHeaders(_ text: String) -> [(name: String, value: String)]? {
        var headers: [(name: String, value: String)] = []
        for entry in text.split(separator: ",") {
            guard let equals = entry.firstIndex(of: "=") else { return nil }
            let name = entry[..<equals].trimmingWhitespace()
            let raw = entry[entry.index(after: equals)...].trimmingWhitespace()
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else { return nil }
            let value = (try? PercentDecoding.string(raw).get()) ?? raw
            guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else { return nil }
            headers.append((name, value))
        }
        return headers
    }
}
