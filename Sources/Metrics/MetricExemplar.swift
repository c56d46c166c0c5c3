import Wire

/// One observation of a histogram kept as an example of its bucket, with the trace it belongs to, so that
/// a slow bucket on a dashboard links to a trace (OpenMetrics exemplars). Each series keeps the latest
/// exemplar of each bucket.
public struct MetricExemplar: Sendable, Equatable {
    /// The trace's id, 32 lowercase hex digits.
    public var traceID: String
    /// The span's id, 16 lowercase hex digits.
    public var spanID: String
    /// The observed value.
    public var value: Double
    /// When it was observed, in seconds since the epoch.
    public var timestamp: Double

    public init(traceID: String, spanID: String, value: Double, timestamp: Double) {
        self.traceID = traceID
        self.spanID = spanID
        self.value = value
        self.timestamp = timestamp
    }

    /// Whether `id` is `count` lowercase hex digits (what exemplar labels may carry: a peer's bytes are
    /// checked before they reach the exposition).
    static func isHex(_ id: String, count: Int) -> Bool {
        id.utf8.count == count && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// The trace of the observation being recorded: passed to ``MetricsRegistry/Histogram/observe(_:_:exemplar:)``.
public struct ExemplarTrace: Sendable, Equatable {
    public var traceID: String
    public var spanID: String
    public init(traceID: String, spanID: String) {
        self.traceID = traceID
        self.spanID = spanID
    }
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
        var entries: [(family: Int, sample: Int, bucket: Int, exemplar: MetricExemplar)] = []
        for (f, family) in families.enumerated() {
            for (s, sample) in family.samples.enumerated() {
                for (b, exemplar) in sample.exemplars.enumerated() {
                    if let exemplar { entries.append((f, s, b, exemplar)) }
                }
            }
        }
        w.writeArray(entries) { w, e in
            w.writeUInt32(UInt32(e.family))
            w.writeUInt32(UInt32(e.sample))
            w.writeUInt16(UInt16(e.bucket))
            w.writeString(e.exemplar.traceID)
            w.writeString(e.exemplar.spanID)
            w.writeFloat64(e.exemplar.value)
            w.writeFloat64(e.exemplar.timestamp)
        }
    }

    public init(from r: inout WireReader) throws {
        families = try MetricsSnapshot(from: &r).families
        let count = try r.readArray(maxCount: MetricFamily.maxCount) { r in
            let f = Int(try r.readUInt32()), s = Int(try r.readUInt32()), b = Int(try r.readUInt16())
            let traceID = try r.readString(maxLength: 32), spanID = try r.readString(maxLength: 16)
            let exemplar = MetricExemplar(traceID: traceID, spanID: spanID, value: try r.readFloat64(), timestamp: try r.readFloat64())
            return (f, s, b, exemplar)
        }
        for (f, s, b, exemplar) in count {
            guard families.indices.contains(f), families[f].kind == .histogram, families[f].samples.indices.contains(s),
                  b <= families[f].buckets.count else {
                throw WireError.invalidValue("exemplar index", UInt64(f))
            }
            guard MetricExemplar.isHex(exemplar.traceID, count: 32), MetricExemplar.isHex(exemplar.spanID, count: 16) else {
                throw WireError.invalidValue("exemplar trace or span id", UInt64(f))
            }
            if families[f].samples[s].exemplars.isEmpty {
                families[f].samples[s].exemplars = Array(repeating: nil, count: families[f].buckets.count + 1)
            }
            families[f].samples[s].exemplars[b] = exemplar
        }
    }
}
