import Wire
/// What a metric measures, in Prometheus' terms.
public enum MetricKind: UInt8, Sendable {
    case counter = 1
    case gauge = 2
    case histogram = 3

    /// The name used in `# TYPE` lines.
    public var prometheusName: String {
        switch self {
        case .counter: "counter"
        case .gauge: "gauge"
        case .histogram: "histogram"
        }
    }
}

/// One labelled series of a family: a value, or for histograms cumulative bucket counts, sum and count.
public struct MetricSample: WireFields, Equatable {
    /// Label pairs, sorted by name.
    public var labels: [MetricLabel]
    /// Counter or gauge value; for histograms the sum of observations.
    public var value: Double
    /// Histogram only: cumulative count per bucket of the family's `buckets` (the +Inf bucket is `count`).
    public var bucketCounts: [UInt64]
    /// Histogram only: the number of observations.
    public var count: UInt64
    /// Histogram only: the latest exemplar of each bucket, the last for +Inf; empty when none was kept.
    /// Carried only by ``MetricsSnapshotWithExemplars`` and rendered only as OpenMetrics.
    public var exemplars: [MetricExemplar?]

    public init() { self.init(labels: [], value: 0) }
    /// Every field but ``exemplars``, which only ``MetricsSnapshotWithExemplars`` carries, after the families.
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&labels, .array(.nested(MetricLabel.self), maxCount: 32))
        try v.field(&value, .float64)
        try v.field(&bucketCounts, .array(.uint64, maxCount: 256))
        try v.field(&count, .uint64)
    }

    public init(labels: [MetricLabel], value: Double, bucketCounts: [UInt64] = [], count: UInt64 = 0,
                exemplars: [MetricExemplar?] = []) {
        self.labels = labels
        self.value = value
        self.bucketCounts = bucketCounts
        self.count = count
        self.exemplars = exemplars
    }
}

/// A label name and value.
public struct MetricLabel: WireFields, Hashable, Comparable {
    public private(set) var name: String
    public private(set) var value: String

    public init() { self.init("", "") }
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&name, .string(maxLength: 256))
        try v.field(&value, .string(maxLength: 4096))
    }

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    public static func < (a: MetricLabel, b: MetricLabel) -> Bool { (a.name, a.value) < (b.name, b.value) }
}

/// All series of one metric name, as a daemon reports them to metricsd.
public struct MetricFamily: WireFields, Equatable {
    public var name: String
    public var help: String
    public var kind: MetricKind
    /// Histogram only: upper bounds of the buckets, ascending (without +Inf).
    public var buckets: [Double]
    public var samples: [MetricSample]

    /// Most families, samples per family, buckets and labels accepted from a peer.
    static let maxCount = 65_536

    public init() { self.init(name: "", help: "", kind: .counter, samples: []) }
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&name, .string(maxLength: 256))
        try v.field(&help, .string(maxLength: 4096))
        try v.field(&kind, .rawValue(MetricKind.self, name: "metric kind"))
        try v.field(&buckets, .array(.float64, maxCount: 256))
        try v.field(&samples, .array(.nested(MetricSample.self), maxCount: Self.maxCount))
    }

    public init(name: String, help: String, kind: MetricKind, buckets: [Double] = [], samples: [MetricSample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.buckets = buckets
        self.samples = samples
    }

    /// Decodes the fields, then checks that every histogram sample has a count for each bucket.
    /// - Throws: ``WireError`` on truncated or invalid input.
    public init(from r: inout WireReader) throws {
        self.init()
        try visitFields(&r)
        guard kind != .histogram || samples.allSatisfy({ $0.bucketCounts.count == buckets.count }) else {
            throw WireError.invalidValue("bucket count of histogram \(name)", UInt64(samples.count))
        }
    }
}

/// The reply to a stats request: every family a daemon owns.
public struct MetricsSnapshot: WireMessage, WireFields, Equatable {
    public static let type: UInt16 = StatsProtocol.statsType
    public var families: [MetricFamily]

    public init() { self.init(families: []) }
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&families, .array(.nested(MetricFamily.self), maxCount: 4096))
    }

    public init(families: [MetricFamily]) { self.families = families }
}

/// The stats request every daemon answers on its own socket, whatever its protocol.
public enum StatsProtocol {
    /// Message type of a stats request (empty payload) and its `MetricsSnapshot` reply; reserved
    /// in every service's type space.
    public static let statsType: UInt16 = 0xFF01
    /// The same request answered with ``MetricsSnapshotWithExemplars``; a daemon older than exemplars
    /// answers it ERROR unknown type, and the asker falls back to ``statsType``.
    public static let statsWithExemplarsType: UInt16 = 0xFF02
}
