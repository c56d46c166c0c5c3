import Glibc
import Synchronization

/// A daemon's own counters, gauges and histograms: cumulative, in memory, reset only when the
/// daemon restarts (as Prometheus expects). Thread-safe; updating a series is one lock and one
/// dictionary update.
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[String: FamilyState]>([:])
    private let order = Mutex<[String]>([])

    public init() {}

    fileprivate struct FamilyState {
        let help: String
        let kind: MetricKind
        let buckets: [Double]
        var series: [[MetricLabel]: Series] = [:]

        mutating func update(_ key: [MetricLabel], _ body: (inout Series, [Double]) -> Void) {
            let buckets = self.buckets
            body(&series[key, default: Series(bucketCounts: [UInt64](repeating: 0, count: buckets.count))], buckets)
        }
    }

    fileprivate struct Series {
        var value: Double = 0
        var bucketCounts: [UInt64]
        var count: UInt64 = 0
        var exemplars: [MetricExemplar?] = []
    }

    private func register(_ name: String, _ help: String, _ kind: MetricKind, _ buckets: [Double]) {
        families.withLock { f in
            if f[name] == nil {
                f[name] = FamilyState(help: help, kind: kind, buckets: buckets)
                order.withLock { $0.append(name) }
            }
        }
    }

    /// A counter (monotonic) named `name`.
    /// - Parameters:
    ///   - name: The family's name.
    ///   - help: What it counts.
    ///   - series: Label sets whose series exist from the start, at 0 (`[[]]` for the one series without
    ///     labels): a scrape shows them before anything happened, and a rate() over them never starts from
    ///     a missing series.
    public func counter(_ name: String, help: String, series: [[MetricLabel]] = []) -> Counter {
        register(name, help, .counter, [])
        for labels in series { update(name, labels) { s, _ in s.value += 0 } }
        return Counter(registry: self, name: name)
    }

    /// A gauge (a value that goes up and down) named `name`.
    /// - Parameters:
    ///   - name: The family's name.
    ///   - help: What it measures.
    ///   - series: Label sets whose series exist from the start, at 0 (`[[]]` for the one series without
    ///     labels), so a scrape shows them before the first value is set.
    public func gauge(_ name: String, help: String, series: [[MetricLabel]] = []) -> Gauge {
        register(name, help, .gauge, [])
        for labels in series { update(name, labels) { s, _ in s.value += 0 } }
        return Gauge(registry: self, name: name)
    }

    /// A histogram with the given bucket upper bounds (ascending; +Inf is implied).
    public func histogram(_ name: String, help: String, buckets: [Double]) -> Histogram {
        register(name, help, .histogram, buckets.sorted())
        return Histogram(registry: self, name: name)
    }

    fileprivate func update(_ name: String, _ labels: [MetricLabel], _ body: (inout Series, [Double]) -> Void) {
        let key = labels.sorted()
        families.withLock { f in
            // Mutated in place through the optional chain: copying the family out and back would
            // copy its whole series dictionary on every update.
            f[name]?.update(key, body)
        }
    }

    /// Every family with its series, in registration order; series sorted by labels.
    public func snapshot() -> [MetricFamily] {
        let names = order.withLock { $0 }
        return families.withLock { f in
            names.compactMap { name in
                guard let fam = f[name] else { return nil }
                let samples = fam.series.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map {
                    MetricSample(labels: $0.key, value: $0.value.value, bucketCounts: $0.value.bucketCounts, count: $0.value.count,
                                 exemplars: $0.value.exemplars)
                }
                return MetricFamily(name: name, help: fam.help, kind: fam.kind, buckets: fam.buckets, samples: samples)
            }
        }
    }

    /// The current value of one counter or gauge series (0 when it has not been touched), for
    /// summaries and tests.
    public func value(_ name: String, _ labels: [MetricLabel] = []) -> Double {
        families.withLock { $0[name]?.series[labels.sorted()]?.value ?? 0 }
    }

    /// A handle on a counter.
    public struct Counter: Sendable {
        let registry: MetricsRegistry
        let name: String
        /// Adds `amount` (≥ 0) to the series with these labels.
        public func increment(_ labels: [MetricLabel] = [], by amount: Double = 1) {
            guard amount >= 0 else { return }
            registry.update(name, labels) { s, _ in s.value += amount }
        }
    }

    /// A handle on a gauge.
    public struct Gauge: Sendable {
        let registry: MetricsRegistry
        let name: String
        public func set(_ value: Double, _ labels: [MetricLabel] = []) { registry.update(name, labels) { s, _ in s.value = value } }
        public func add(_ delta: Double, _ labels: [MetricLabel] = []) { registry.update(name, labels) { s, _ in s.value += delta } }
    }

    /// A handle on a histogram.
    public struct Histogram: Sendable {
        let registry: MetricsRegistry
        let name: String
        /// Records one observation; with `exemplar`, it becomes the exemplar of the bucket it falls in.
        public func observe(_ value: Double, _ labels: [MetricLabel] = [], exemplar: ExemplarTrace? = nil) {
            let example = exemplar.map { MetricExemplar(trace: $0, value: value, timestamp: wallClockSeconds()) }
            registry.update(name, labels) { s, buckets in
                for (i, le) in buckets.enumerated() where value <= le { s.bucketCounts[i] += 1 }
                s.value += value
                s.count += 1
                if let example {
                    if s.exemplars.isEmpty { s.exemplars = Array(repeating: nil, count: buckets.count + 1) }
                    s.exemplars[buckets.firstIndex { value <= $0 } ?? buckets.count] = example
                }
            }
        }
    }
}

/// Seconds since the epoch, for exemplar timestamps.
func wallClockSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
