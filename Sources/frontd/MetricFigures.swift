import IPC
import Metrics

/// Figures read out of the metric families metricsd gathered (every daemon's, not yet merged): sums of
/// counters and gauges, and quantiles of histograms, as PromQL would compute them from one scrape.
struct MetricFigures {
    let families: [MetricFamily]

    /// The samples of every family named `name` whose labels pass `filter`.
    func samples(_ name: String, where filter: ([MetricLabel]) -> Bool = { _ in true }) -> [MetricSample] {
        families.filter { $0.name == name }.flatMap { $0.samples.filter { filter($0.labels) } }
    }

    /// The sum of a counter's or gauge's samples.
    func sum(_ name: String, where filter: ([MetricLabel]) -> Bool = { _ in true }) -> Double {
        samples(name, where: filter).reduce(0) { $0 + $1.value }
    }

    /// The sum of a counter's or gauge's samples, by the value of one label.
    func sum(_ name: String, by label: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for s in samples(name) {
            guard let v = Self.label(label, s.labels) else { continue }
            out[v, default: 0] += s.value
        }
        return out
    }

    /// The value of label `name`, if the sample has it.
    static func label(_ name: String, _ labels: [MetricLabel]) -> String? {
        labels.first { $0.name == name }?.value
    }

    /// The `q` quantile (0...1) of a histogram over the samples that pass `filter`, interpolated linearly
    /// inside the bucket where it falls, as Prometheus' `histogram_quantile` does; the highest finite
    /// bound when it falls in the +Inf bucket; nil with no observations.
    func quantile(_ q: Double, histogram name: String, where filter: ([MetricLabel]) -> Bool = { _ in true }) -> Double? {
        guard let family = families.first(where: { $0.name == name && $0.kind == .histogram }) else { return nil }
        let bounds = family.buckets
        var counts = [UInt64](repeating: 0, count: bounds.count)
        var total: UInt64 = 0
        for s in samples(name, where: filter) where s.bucketCounts.count == bounds.count {
            for i in counts.indices { counts[i] += s.bucketCounts[i] }
            total += s.count
        }
        guard total > 0 else { return nil }
        let rank = q * Double(total)
        var previousCount: UInt64 = 0
        var lower = 0.0
        for (i, upper) in bounds.enumerated() {
            if Double(counts[i]) >= rank {
                let inBucket = Double(counts[i] - previousCount)
                guard inBucket > 0 else { return upper }
                return lower + (upper - lower) * (rank - Double(previousCount)) / inBucket
            }
            previousCount = counts[i]
            lower = upper
        }
        return bounds.last
    }
}
