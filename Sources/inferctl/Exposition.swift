/// A Prometheus text exposition read back into samples, for `inferctl metrics`' summary.
struct Exposition {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    let samples: [Sample]

    /// Parses the text format (0.0.4): comments skipped, a line that does not parse is skipped too.
    init(_ text: String) {
        samples = text.split(separator: "\n").compactMap { Self.sample(String($0)) }
    }

    private static func sample(_ line: String) -> Sample? {
        guard !line.hasPrefix("#"), !line.isEmpty else { return nil }
        var labels: [String: String] = [:]
        let name: Substring
        let rest: Substring
        if let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
            name = line[..<brace]
            rest = line[line.index(after: close)...]
            var cursor = line.index(after: brace)
            while cursor < close {
                guard let eq = line[cursor..<close].firstIndex(of: "="),
                      line.index(after: eq) < close, line[line.index(after: eq)] == "\"" else { return nil }
                let key = String(line[cursor..<eq]).trimmingCharacters(in: [",", " "])
                var value = ""
                var i = line.index(eq, offsetBy: 2)
                while i < close, line[i] != "\"" {
                    if line[i] == "\\", line.index(after: i) < close {
                        i = line.index(after: i)
                        value.append(line[i] == "n" ? "\n" : line[i])
                    } else {
                        value.append(line[i])
                    }
                    i = line.index(after: i)
                }
                labels[key] = value
                cursor = line.index(after: i)
            }
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = line[..<space]
            rest = line[space...]
        }
        guard let valueText = rest.split(separator: " ").first, let value = Double(valueText) else { return nil }
        return Sample(name: String(name), labels: labels, value: value)
    }

    /// The sum of the samples named `name` whose labels pass `filter`.
    func sum(_ name: String, where filter: ([String: String]) -> Bool = { _ in true }) -> Double {
        samples.filter { $0.name == name && filter($0.labels) }.reduce(0) { $0 + $1.value }
    }

    /// The sums by the value of `label`.
    func sum(_ name: String, by label: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for s in samples where s.name == name { out[s.labels[label] ?? "", default: 0] += s.value }
        return out
    }

    /// The `q` quantile of histogram `name` over every series (Prometheus's linear interpolation within a
    /// bucket); nil when it has no observation.
    func quantile(_ q: Double, histogram name: String) -> Double? {
        var buckets: [Double: Double] = [:]
        for s in samples where s.name == name + "_bucket" {
            guard let le = s.labels["le"], let bound = le == "+Inf" ? Double.infinity : Double(le) else { continue }
            buckets[bound, default: 0] += s.value
        }
        let sorted = buckets.sorted { $0.key < $1.key }
        guard let total = sorted.last?.value, total > 0 else { return nil }
        let rank = q * total
        var previous: (bound: Double, count: Double) = (0, 0)
        for (bound, count) in sorted {
            if count >= rank {
                if bound.isInfinite { return previous.bound }
                let inBucket = count - previous.count
                return inBucket > 0 ? previous.bound + (bound - previous.bound) * (rank - previous.count) / inBucket : bound
            }
            previous = (bound, count)
        }
        return previous.bound
    }
}
