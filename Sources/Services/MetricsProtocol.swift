import IPC
import Metrics
import Wire
/// metricsd's messages: what frontd asks for to serve `/metrics` and the `/v1/metrics/*` summaries.
public enum MetricsProtocol {
    /// Gathers every daemon's metrics now, as a Prometheus scrape would. Reply: `CollectReply`.
    public struct Collect: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 1
        /// Whether to render the Prometheus text (what `GET /metrics` on metricsd serves).
        public var text: Bool
        /// Whether to send the merged families themselves (for figures computed from them).
        public var families: Bool

        public init() { self.init(text: false, families: false) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&text, .bool)
            try v.field(&families, .bool)
        }

        public init(text: Bool, families: Bool) {
            self.text = text
            self.families = families
        }
    }

    /// One scrape's result: every daemon's families (with `infer_daemon_up`) and/or their text.
    public struct CollectReply: WireFields, Equatable {
        /// The Prometheus text, when asked for and metricsd serves metrics (`ENABLE_METRICS`); nil otherwise.
        public var text: String?
        /// The families in scrape order (empty unless asked for). Families of the same name from
        /// several daemons are listed separately; `PrometheusText.render` merges them.
        public var families: [MetricFamily]

        public init() { self.init(text: nil, families: []) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&text, .optional(.string()))
            try v.field(&families, .array(.nested(MetricFamily.self), maxCount: 4096))
        }

        public init(text: String?, families: [MetricFamily]) {
            self.text = text
            self.families = families
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
