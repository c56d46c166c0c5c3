import Foundation

/// `inferctl bench compare A.json B.json`: two saved runs side by side, each figure with the ratio B/A.
struct BenchComparison {
    /// One line of the comparison: a figure of both runs.
    struct Figure {
        let name: String
        let first: Double?
        let second: Double?
        /// `%.2f` for rates, `%.1f` for milliseconds.
        let format: String

        /// B / A, when both are there and A is not zero.
        var ratio: Double? {
            guard let first, let second, first != 0 else { return nil }
            return second / first
        }
    }

    let first: BenchReport
    let second: BenchReport

    /// The figures compared, in order: throughput, then each distribution's percentiles.
    var figures: [Figure] {
        var figures = [
            Figure(name: "requests/s", first: first.requestsPerSecond, second: second.requestsPerSecond, format: "%.2f"),
            Figure(name: "tokens/s", first: first.outputTokensPerSecond, second: second.outputTokensPerSecond, format: "%.1f"),
            Figure(name: "succeeded", first: Double(first.succeeded), second: Double(second.succeeded), format: "%.0f"),
            Figure(name: "failed", first: Double(first.failed), second: Double(second.failed), format: "%.0f"),
        ]
        let distributions: [(String, KeyPath<BenchReport, BenchReport.Distribution?>)] = [
            ("latency", \.latencyMs), ("TTFT", \.ttftMs), ("ITL", \.itlMs),
        ]
        let percentiles: [(String, KeyPath<BenchReport.Distribution, Double>)] = [
            ("mean", \.mean), ("p50", \.p50), ("p90", \.p90), ("p95", \.p95), ("p99", \.p99),
        ]
        for (name, distribution) in distributions where first[keyPath: distribution] != nil || second[keyPath: distribution] != nil {
            for (label, value) in percentiles {
                figures.append(Figure(name: "\(name) \(label) ms", first: first[keyPath: distribution]?[keyPath: value],
                                      second: second[keyPath: distribution]?[keyPath: value], format: "%.1f"))
            }
        }
        return figures
    }

    /// The settings of a run in one line, to see that the two were run alike.
    static func settings(_ report: BenchReport) -> String {
        "\(report.url) \(report.model ?? "(default model)"), c\(report.concurrency), "
            + "\(report.stream ? "streamed" : "not streamed"), max_tokens \(report.maxTokens), \(report.prompts) prompts, "
            + "\(report.requests) requests in \(String(format: "%.1f", report.seconds)) s, \(report.startedAt)"
    }

    /// The comparison for people.
    func render(firstName: String, secondName: String, style: TerminalStyle) -> String {
        var out = "A  \(firstName): \(Self.settings(first))\nB  \(secondName): \(Self.settings(second))\n\n"
        var table = TextTable(["figure", "A", "B", "B/A"], rightAligned: [1, 2, 3])
        for figure in figures {
            table.add([figure.name, figure.first.map { String(format: figure.format, $0) } ?? "-",
                       figure.second.map { String(format: figure.format, $0) } ?? "-",
                       figure.ratio.map { String(format: "%.2fx", $0) } ?? "-"])
        }
        out += table.render(style: style)
        return out
    }

    /// `{"a": {"file", "settings"}, "b": {...}, "figures": [{"figure", "a", "b", "ratio"}]}`.
    func renderJSON(firstName: String, secondName: String) -> String {
        let rows: [[String: Any]] = figures.map { figure in
            ["figure": figure.name, "a": figure.first.map { $0 as Any } ?? NSNull(), "b": figure.second.map { $0 as Any } ?? NSNull(),
             "ratio": figure.ratio.map { $0 as Any } ?? NSNull()]
        }
        return prettyJSON([
            "a": ["file": firstName, "settings": Self.settings(first)],
            "b": ["file": secondName, "settings": Self.settings(second)],
            "figures": rows,
        ])
    }
}
