/// Renders metric families in the Prometheus text exposition format (version 0.0.4).
public enum PrometheusText {
    /// The Content-Type of the rendered text.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Renders `families`; families with the same name (from several daemons) are merged into one
    /// block, keeping the first HELP/TYPE and dropping later samples with a label set already seen.
    public static func render(_ families: [MetricFamily]) -> String {
        let merged = merge(families)
        var out = ""
        out.reserveCapacity(merged.count * 256)
        for f in merged where isValidName(f.name) {
            out += "# HELP \(f.name) \(escapeHelp(f.help))\n"
            out += "# TYPE \(f.name) \(f.kind.prometheusName)\n"
            writeSamples(of: f, to: &out, exemplar: nil)
        }
        return out
    }

    /// Appends the sample lines of `f`; `exemplar` renders a bucket's exemplar (OpenMetrics only) as
    /// the text that follows the bucket's count.
    static func writeSamples(of f: MetricFamily, to out: inout String, exemplar: ((MetricExemplar) -> String)?) {
        for s in f.samples {
            switch f.kind {
            case .counter, .gauge:
                out += "\(f.name)\(labels(s.labels)) \(number(s.value))\n"
            case .histogram:
                let bounds = f.buckets.map(number) + ["+Inf"]
                for (i, (le, c)) in zip(bounds, s.bucketCounts + [s.count]).enumerated() {
                    out += "\(f.name)_bucket\(labels(s.labels + [MetricLabel("le", le)])) \(c)"
                    if let exemplar, i < s.exemplars.count, let e = s.exemplars[i] { out += exemplar(e) }
                    out += "\n"
                }
                out += "\(f.name)_sum\(labels(s.labels)) \(number(s.value))\n"
                out += "\(f.name)_count\(labels(s.labels)) \(s.count)\n"
            }
        }
    }

    /// Families with the same name (from several daemons) merged into one: the first HELP/TYPE kept,
    /// later samples with a label set already seen (or a different kind or buckets) dropped.
    static func merge(_ families: [MetricFamily]) -> [MetricFamily] {
        var merged: [MetricFamily] = []
        var index: [String: Int] = [:]
        for f in families {
            if let i = index[f.name] {
                guard merged[i].kind == f.kind, merged[i].buckets == f.buckets else { continue }
                let seen = Set(merged[i].samples.map(\.labels))
                merged[i].samples += f.samples.filter { !seen.contains($0.labels) }
            } else {
                index[f.name] = merged.count
                merged.append(f)
            }
        }
        return merged
    }

    /// Metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !name.isEmpty else { return false }
        func ok(_ c: UInt8, first: Bool) -> Bool {
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 || c == 58 || (!first && c >= 48 && c <= 57)
        }
        return ok(first, first: true) && name.utf8.dropFirst().allSatisfy { ok($0, first: false) }
    }

    static func labels(_ l: [MetricLabel]) -> String {
        guard !l.isEmpty else { return "" }
        return "{" + l.map { "\($0.name)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
    }

    /// A label value as the text format writes it: backslash, double quote and line feed escaped.
    static func escapeLabel(_ s: String) -> String { escape(s, quotes: true) }

    /// HELP text as the text format writes it: backslash and line feed escaped (a quote stays as it is).
    static func escapeHelp(_ s: String) -> String { escape(s, quotes: false) }

    private static func escape(_ s: String, quotes: Bool) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Numbers as Prometheus reads them: integers without a fraction, NaN/±Inf spelled out.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
