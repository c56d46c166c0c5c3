import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Exports spans as OTLP/HTTP: `POST` of an `ExportTraceServiceRequest` in binary protobuf
/// (`Content-Type: application/x-protobuf`) to the traces endpoint, with the configured headers. Runs on
/// the processor's thread and waits at most `timeout` per batch; any failure (unreachable, refused,
/// non-2xx, timed out) is reported, never thrown, and the batch is counted as failed.
public final class OTLPHTTPExporter: SpanExporter {
    public let endpoint: URL
    private let headers: [(name: String, value: String)]
    private let resource: [(key: String, value: AttributeValue)]
    private let timeout: Duration
    private let session: URLSession

    /// The instrumentation scope named in every export.
    static let scope = (name: "infer", version: "1")

    /// - Parameters:
    ///   - endpoint: The traces URL (`…/v1/traces`).
    ///   - headers: Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`).
    ///   - resource: The resource attributes (`service.name` first).
    ///   - timeout: Longest wait for one export.
    public init(endpoint: URL, headers: [(name: String, value: String)], resource: [(key: String, value: AttributeValue)],
                timeout: Duration) {
        self.endpoint = endpoint
        self.headers = headers
        self.resource = resource
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        session = URLSession(configuration: configuration)
    }

    public func export(_ spans: [SpanData]) -> Bool {
        var request = URLRequest(url: endpoint)
        request.httpMethod = "POST"
        request.setValue("application/x-protobuf", forHTTPHeaderField: "Content-Type")
        for header in headers { request.setValue(header.value, forHTTPHeaderField: header.name) }
        request.httpBody = Data(OTLPTraceEncoder.encode(spans, resource: resource, scope: Self.scope))
        let done = DispatchSemaphore(value: 0)
        let status = StatusBox()
        let task = session.dataTask(with: request) { _, response, error in
            if error == nil, let http = response as? HTTPURLResponse { status.set(http.statusCode) }
            done.signal()
        }
        task.resume()
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18 + 1
        if done.wait(timeout: .now() + seconds) == .timedOut {
            task.cancel()
            return false
        }
        return (200..<300).contains(status.get())
    }

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
    /// - Returns: The headers, or nil when an entry has no `=` or an empty name.
    public static func parseHeaders(_ text: String) -> [(name: String, value: String)]? {
        var headers: [(name: String, value: String)] = []
        for entry in text.split(separator: ",") {
            guard let equals = entry.firstIndex(of: "=") else { return nil }
            let name = entry[..<equals].trimmingCharacters(in: .whitespaces)
            let raw = entry[entry.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else { return nil }
            headers.append((name, raw.removingPercentEncoding ?? raw))
        }
        return headers
    }
}

/// The HTTP status a completion handler saw, read after the semaphore.
private final class StatusBox: @unchecked Sendable {
    private var code = 0
    private let lock = NSLock()
    func set(_ value: Int) { lock.withLock { code = value } }
    func get() -> Int { lock.withLock { code } }
}
