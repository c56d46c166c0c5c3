/// Renders metric families in the OpenMetrics text format (1.0.0), which Prometheus asks for with
/// `Accept: application/openmetrics-text`: the same series as ``PrometheusText``, plus each histogram
/// bucket's exemplar (`# {trace_id="…",span_id="…"} value timestamp`) and the closing `# EOF`.
/// Counters are named without `_total` in their `# TYPE` line and with it on their sample, as the
/// format requires; every counter family here already ends in `_total`.
public enum OpenMetricsText {
    /// The Content-Type of the rendered text.
    public static let contentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    /// Whether an `Accept` header value asks for OpenMetrics (Prometheus sends it first, with a q-value,
    /// when it scrapes with exemplars or native histograms on).
    public static func isAccepted(by accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { part in
            let fields = part.split(separator: ";").map { $0.trimmingSpaces() }
            guard fields.first == "application/openmetrics-text" else { return false }
            // q=0 means "not acceptable".
            return !fields.dropFirst().contains { $0.hasPrefix("q=") && (Double($0.dropFirst(2)) ?? 1) == 0 }
        }
    }

    /// Renders `families` (merged as ``PrometheusText/render(_:)`` merges them).
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for f in PrometheusText.merge(families) where PrometheusText.isValidName(f.name) {
            let family = f.kind == .counter && f.name.hasSuffix("_total") ? String(f.name.dropLast(6)) : f.name
            let type = f.kind == .counter && family == f.name ? "unknown" : f.kind.prometheusName
            out += "# TYPE \(family) \(type)\n"
            out += "# HELP \(family) \(escapeHelp(f.help))\n"
            PrometheusText.writeSamples(of: f, to: &out, exemplar: exemplar)
        }
        return out + "# EOF\n"
    }

    /// ` # {trace_id="…",span_id="…"} value timestamp`; ids that are not lowercase hex are left out
    /// (only ``MetricsRegistry`` and the checked wire decoder make exemplars, so this is a last guard).
    static func exemplar(_ e: MetricExemplar) -> String {
        guard e.trace.isValid else { return "" }
        return " # {trace_id=\"\(e.trace.traceID)\",span_id=\"\(e.trace.spanID)\"} \(PrometheusText.number(e.value)) \(e.timestamp)"
    }

    /// HELP text as OpenMetrics escapes it: backslash, newline and double quote.
    static func escapeHelp(_ s: String) -> String {
        PrometheusText.escapeHelp(s).replacingQuotes()
    }
}

private extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}

private extension String {
    func replacingQuotes() -> String {
        var out = ""
        for c in unicodeScalars {
            if c == "\"" { out += "\\\"" } else { out.unicodeScalars.append(c) }
        }
        return out
    }
}
