import Wire

/// One observation of a histogram kept as an example of its bucket, with the trace it belongs to, so that
/// a slow bucket on a dashboard links to a trace (OpenMetrics exemplars). Each series keeps the latest
/// exemplar of each bucket.
public struct MetricExemplar: WireFields, Equatable {
    /// The trace and span it was observed in.
    public var trace: ExemplarTrace
    /// The observed value.
    public var value: Double
    /// When it was observed, in seconds since the epoch.
    public var timestamp: Double

    public init() { self.init(trace: ExemplarTrace(), value: 0, timestamp: 0) }
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&trace, .nested(ExemplarTrace.self))
        try v.field(&value, .float64)
        try v.field(&timestamp, .float64)
    }

    public init(trace: ExemplarTrace, value: Double, timestamp: Double) {
        self.trace = trace
        self.value = value
        self.timestamp = timestamp
    }
}

/// The trace of an observation: given to ``MetricsRegistry/Histogram/observe(_:_:exemplar:)`` and kept in
/// its ``MetricExemplar``.
public struct ExemplarTrace: WireFields, Equatable {
    /// The trace's id, 32 lowercase hex digits.
    public var traceID: String
    /// The span's id, 16 lowercase hex digits.
    public var spanID: String

    public init() { self.init(traceID: "", spanID: "") }
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&traceID, .string(maxLength: 32))
        try v.field(&spanID, .string(maxLength: 16))
    }

    public init(traceID: String, spanID: String) {
        self.traceID = traceID
        self.spanID = spanID
    }

    /// Whether both ids are lowercase hex of their length (what exemplar labels may carry: a peer's bytes
    /// are checked before they reach the exposition).
    var isValid: Bool { Self.isHex(traceID, count: 32) && Self.isHex(spanID, count: 16) }

    private static func isHex(_ id: String, count: Int) -> Bool {
        id.utf8.count == count && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// One exemplar of a ``MetricsSnapshotWithExemplars``, addressed by family, sample and bucket index.
struct ExemplarEntry: WireFields {
    var family: UInt32
    var sample: UInt32
    var bucket: UInt16
    var exemplar: MetricExemplar

    init(family: UInt32, sample: UInt32, bucket: UInt16, exemplar: MetricExemplar) {
        self.family = family
        self.sample = sample
        self.bucket = bucket
        self.exemplar = exemplar
    }
    init() { self.init(family: 0, sample: 0, bucket: 0, exemplar: MetricExemplar()) }
    mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&family, .uint32)
        try v.field(&sample, .uint32)
        try v.field(&bucket, .uint16)
        try v.field(&exemplar, .nested(MetricExemplar.self))
    }

    /// The entries after the families.
    static let list = WireArray(element: WireNested<ExemplarEntry>(), maxCount: MetricFamily.maxCount, minElementSize: 1)
}

/// The stats reply with exemplars (``StatsProtocol/statsWithExemplarsType``): the families as in
/// ``MetricsSnapshot``, then each exemplar addressed by family, sample and bucket index (the bucket after
/// the last bound is +Inf). A separate message type, so that an old metricsd asking with the plain stats
/// type gets the reply it knows, and a new metricsd asking an old daemon falls back to the plain one.
public struct MetricsSnapshotWithExemplars: WireMessage, Equatable {
    public static let type: UInt16 = StatsProtocol.statsWithExemplarsType
    public var families: [MetricFamily]

    public init(families: [MetricFamily]) { self.families = families }

    public func encode(to w: inout WireWriter) {
        MetricsSnapshot(families: families).encode(to: &w)
        var entries: [ExemplarEntry] = []
        for (f, family) in families.enumerated() {
            for (s, sample) in family.samples.enumerated() {
                for (b, exemplar) in sample.exemplars.enumerated() {
                    if let exemplar { entries.append(ExemplarEntry(family: UInt32(f), sample: UInt32(s), bucket: UInt16(b), exemplar: exemplar)) }
                }
            }
        }
        ExemplarEntry.list.write(entries, to: &w)
    }

    public init(from r: inout WireReader) throws {
        families = try MetricsSnapshot(from: &r).families
        for entry in try ExemplarEntry.list.read(from: &r) {
            let (f, s, b, exemplar) = (Int(entry.family), Int(entry.sample), Int(entry.bucket), entry.exemplar)
            guard families.indices.contains(f), families[f].kind == .histogram, families[f].samples.indices.contains(s),
                  b <= families[f].buckets.count else {
                throw WireError.invalidValue("exemplar index", UInt64(f))
            }
            guard exemplar.trace.isValid else {
                throw WireError.invalidValue("exemplar trace or span id", UInt64(f))
            }
            if families[f].samples[s].exemplars.isEmpty {
                families[f].samples[s].exemplars = Array(repeating: nil, count: families[f].buckets.count + 1)
            }
            families[f].samples[s].exemplars[b] = exemplar
        }
    }
}
