import Metrics

/// Sum of a histogram's observations above `threshold` (from its cumulative buckets), by labels.
func observations(in registry: MetricsRegistry, _ name: String, above threshold: Double) -> UInt64 {
    guard let family = registry.snapshot().first(where: { $0.name == name }) else { return 0 }
    var total: UInt64 = 0
    for sample in family.samples {
        let atOrBelow = Array(zip(family.buckets, sample.bucketCounts)).last(where: { $0.0 <= threshold })?.1 ?? 0
        total += sample.count - atOrBelow
    }
    return total
}

/// Observations of a histogram (all series).
func observationCount(in registry: MetricsRegistry, _ name: String) -> UInt64 {
    registry.snapshot().first(where: { $0.name == name })?.samples.reduce(0) { $0 + $1.count } ?? 0
}
