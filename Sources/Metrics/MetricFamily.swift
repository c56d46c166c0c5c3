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
public struct MetricSample: Sendable, Equatable {
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
public struct MetricLabel: Sendable, Hashable, Comparable {
    public let name: String
    public let value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    public static func < (a: MetricLabel, b: MetricLabel) -> Bool { (a.name, a.value) < (b.name, b.value) }
}

/// All series of one metric name, as a daemon reports them to metricsd.
public struct MetricFamily: Sendable, Equatable, WireCodable {
    public var name: String
    public var help: String
    public var kind: MetricKind
    /// Histogram only: upper bounds of the buckets, ascending (without +Inf).
    public var buckets: [Double]
    public var samples: [MetricSample]

    public init(name: String, help: String, kind: MetricKind, buckets: [Double] = [], samples: [MetricSample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.buckets = buckets
        self.samples = samples
    }

    /// Most families, samples per family, buckets and labels accepted from a peer.
    static let maxCount = 65_536

    public func encode(to w: inout WireWriter) {
        w.writeString(name)
        w.writeString(help)
        w.writeUInt8(kind.rawValue)
        w.writeArray(buckets) { $0.writeFloat64($1) }
        w.writeArray(samples) { w, s in
            w.writeArray(s.labels) { w, l in
                w.writeString(l.name)
                w.writeString(l.value)
            }
            w.writeFloat64(s.value)
            w.writeArray(s.bucketCounts) { $0.writeUInt64($1) }
            w.writeUInt64(s.count)
        }
    }

    public init(from r: inout WireReader) throws {
        name = try r.readString(maxLength: 256)
        help = try r.readString(maxLength: 4096)
        let k = try r.readUInt8()
        guard let kind = MetricKind(rawValue: k) else { throw WireError.invalidValue("metric kind", UInt64(k)) }
        self.kind = kind
        buckets = try r.readArray(maxCount: 256) { try $0.readFloat64() }
        samples = try r.readArray(maxCount: Self.maxCount) { r in
            let labels = try r.readArray(maxCount: 32) { r in MetricLabel(try r.readString(maxLength: 256), try r.readString(maxLength: 4096)) }
            let value = try r.readFloat64()
            let counts = try r.readArray(maxCount: 256) { try $0.readUInt64() }
            return MetricSample(labels: labels, value: value, bucketCounts: counts, count: try r.readUInt64())
        }
        guard kind != .histogram || samples.allSatisfy({ $0.bucketCounts.count == buckets.count }) else {
            throw WireError.invalidValue("bucket count of histogram \(name)", UInt64(samples.count))
        }
    }
}

/// The reply to a stats request: every family a daemon owns.
public struct MetricsSnapshot: WireMessage, Equatable {
    public static let type: UInt16 = StatsProtocol.statsType
    public var families: [MetricFamily]
    public init(families: [MetricFamily]) { self.families = families }
    public func encode(to w: inout WireWriter) { w.writeArray(families) { $0.write($1) } }
    public init(from r: inout WireReader) throws {
        families = try r.readArray(maxCount: 4096) { try $0.read(MetricFamily.self) }
    }
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
