import IPC
import Metrics
import Wire
/// metricsd's messages: what frontd asks for to serve `/metrics` and the `/v1/metrics/*` summaries.
public enum MetricsProtocol {
    /// Gathers every daemon's metrics now, as a Prometheus scrape would. Reply: `CollectReply`.
    public struct Collect: WireMessage, Equatable {
        public static let type: UInt16 = 1
        /// Whether to render the Prometheus text (what `GET /metrics` on metricsd serves).
        public var text: Bool
        /// Whether to send the merged families themselves (for figures computed from them).
        public var families: Bool

        public init(text: Bool, families: Bool) {
            self.text = text
            self.families = families
        }
        public init(from r: inout WireReader) throws {
            text = try r.readBool()
            families = try r.readBool()
        }
        public func encode(to w: inout WireWriter) {
            w.writeBool(text)
            w.writeBool(families)
        }
    }

    /// One scrape's result: every daemon's families (with `infer_daemon_up`) and/or their text.
    public struct CollectReply: WireCodable, Equatable {
        /// The Prometheus text, when asked for and metricsd serves metrics (`ENABLE_METRICS`); nil otherwise.
        public var text: String?
        /// The families in scrape order (empty unless asked for). Families of the same name from
        /// several daemons are listed separately; `PrometheusText.render` merges them.
        public var families: [MetricFamily]

        public init(text: String?, families: [MetricFamily]) {
            self.text = text
            self.families = families
        }
        public init(from r: inout WireReader) throws {
            text = try r.readOptional { try $0.readString() }
            families = try r.readArray(maxCount: 4096) { try $0.read(MetricFamily.self) }
        }
        public func encode(to w: inout WireWriter) {
            w.writeOptional(text) { $0.writeString($1) }
            w.writeArray(families) { $0.write($1) }
        }
    }
}

/// The client stub for metricsd.
public struct MetricsClient: Sendable {
    public let client: IPCClient
    public init(path: String) {
        client = IPCClient(path: path, protocolName: ServiceName.metricsd, version: ServiceName.version)
    }

    /// Asks metricsd to gather every daemon's metrics now.
    /// - Parameter timeout: Must exceed metricsd's own per-daemon scrape timeout (METRICS_SCRAPE_TIMEOUT_MS).
    public func collect(_ request: MetricsProtocol.Collect, timeout: Duration) async throws -> MetricsProtocol.CollectReply {
        try await client.call(request, returning: MetricsProtocol.CollectReply.self, timeout: timeout)
    }
}
