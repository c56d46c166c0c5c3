import Basics
import Foundation

/// The figures of one bench run, as printed and as saved with `--out` (the JSON `bench compare` reads;
/// keys in snake_case). Times in milliseconds.
struct BenchReport: Codable, Equatable {
    /// A distribution of times: mean, percentiles (linear interpolation between the nearest ranks) and
    /// the maximum, in milliseconds, over `count` values.
    struct Distribution: Codable, Equatable {
        var count: Int
        var mean: Double
        var p50: Double
        var p90: Double
        var p95: Double
        var p99: Double
        var max: Double

        /// The distribution of `seconds`, or nil when there are none.
        init?(seconds values: [Double]) {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted().map { $0 * 1000 }
            count = sorted.count
            mean = sorted.reduce(0, +) / Double(sorted.count)
            p50 = Self.percentile(sorted, 50)
            p90 = Self.percentile(sorted, 90)
            p95 = Self.percentile(sorted, 95)
            p99 = Self.percentile(sorted, 99)
            max = sorted[sorted.count - 1]
        }

        /// The `p`th percentile of sorted values, interpolated between the two nearest ranks.
        static func percentile(_ sorted: [Double], _ p: Double) -> Double {
            let rank = p / 100 * Double(sorted.count - 1)
            let low = Int(rank.rounded(.down))
            let high = Swift.min(low + 1, sorted.count - 1)
            return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
        }
    }

    /// What the file is, so `compare` can refuse anything else.
    var format = "inferctl-bench/1"
    /// When the run started (UTC, ISO 8601).
    var startedAt: String
    /// The machine: host name, cores, kernel.
    var machine: String
    var url: String
    var model: String?
    var stream: Bool
    var concurrency: Int
    var maxTokens: Int
    var temperature: Double
    var prompts: Int
    var promptsSource: String
    /// Whether every request asked not to be answered from a cache.
    var cacheBypassed: Bool
    /// `--requests` and `--duration`, as given.
    var requestLimit: Int?
    var durationLimitSeconds: Double?
    /// From the first request sent to the last answer.
    var seconds: Double
    var requests: Int
    var succeeded: Int
    var failed: Int
    /// Cut off at the end of the run.
    var unfinished: Int
    /// Failures by kind: `HTTP 503`, `timeout`, `connection refused`.
    var errors: [String: Int]
    /// Successful requests per second.
    var requestsPerSecond: Double
    /// Of successful requests.
    var latencyMs: Distribution?
    /// Time to first token (streamed runs).
    var ttftMs: Distribution?
    /// Inter-token latency: every gap between two pieces of text of a streamed answer.
    var itlMs: Distribution?
    var promptTokens: Int
    var completionTokens: Int
    /// `usage` (the server's counts), `chunks` (pieces of text counted) or `none` (neither).
    var tokensSource: String
    /// Generated tokens of successful requests per second.
    var outputTokensPerSecond: Double

    /// The report of a run.
    init(plan: BenchPlan, url: String, samples: [BenchSample], seconds: Double, startedAt: Date) {
        let succeeded = samples.filter { $0.error == nil && !$0.unfinished }
        let failed = samples.filter { $0.error != nil && !$0.unfinished }
        self.startedAt = ISO8601DateFormatter().string(from: startedAt)
        machine = Self.machine()
        self.url = url
        model = plan.model
        stream = plan.stream
        concurrency = plan.concurrency
        maxTokens = plan.maxTokens
        temperature = plan.temperature
        prompts = plan.prompts.count
        promptsSource = plan.promptsSource
        cacheBypassed = !plan.headers.isEmpty
        requestLimit = plan.requestsGiven
        durationLimitSeconds = plan.durationGiven?.seconds
        self.seconds = seconds
        requests = samples.count
        self.succeeded = succeeded.count
        self.failed = failed.count
        unfinished = samples.count - succeeded.count - failed.count
        errors = Dictionary(failed.compactMap(\.error).map { ($0, 1) }, uniquingKeysWith: +)
        requestsPerSecond = seconds > 0 ? Double(succeeded.count) / seconds : 0
        latencyMs = Distribution(seconds: succeeded.map(\.latency))
        ttftMs = Distribution(seconds: succeeded.compactMap(\.firstToken))
        itlMs = Distribution(seconds: succeeded.flatMap(\.gaps))
        promptTokens = succeeded.reduce(0) { $0 + $1.promptTokens }
        completionTokens = succeeded.reduce(0) { $0 + $1.completionTokens }
        tokensSource = succeeded.isEmpty || completionTokens == 0 ? "none"
            : succeeded.allSatisfy(\.tokensFromUsage) ? "usage" : "chunks"
        outputTokensPerSecond = seconds > 0 ? Double(completionTokens) / seconds : 0
    }

    /// `host, N cores, Linux 6.1.0`.
    static func machine() -> String {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(text(name.nodename)), \(ProcessInfo.processInfo.activeProcessorCount) cores, \(text(name.sysname)) \(text(name.release))"
    }

    /// The report as indented JSON with sorted keys.
    func json() -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }

    /// A report saved with `--out`.
    /// - Throws: ``InferctlError``: the file cannot be read (71) or is not a bench report (78).
    static func load(_ path: String) throws(InferctlError) -> BenchReport {
        guard let data = FileManager.default.contents(atPath: path) else { throw .system("\(path): cannot be read") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let report = try? decoder.decode(BenchReport.self, from: data), report.format == "inferctl-bench/1" else {
            throw .configuration("\(path): not a report of inferctl bench --out")
        }
        return report
    }

    /// The report for people.
    func render(style: TerminalStyle) -> String {
        var lines: [String] = []
        let model = self.model.map { "model \($0), " } ?? ""
        lines.append(style.bold("inferctl bench") + " \(url): \(model)concurrency \(concurrency), "
            + "\(stream ? "streamed" : "not streamed"), max_tokens \(maxTokens), temperature \(temperature), "
            + "\(prompts) \(promptsSource == "built-in" ? "built-in prompts" : "prompts from \(promptsSource)")"
            + (cacheBypassed ? "" : ", cache allowed"))
        var outcome = "requests    \(succeeded) ok, \(failed) failed"
        if unfinished > 0 { outcome += ", \(unfinished) unfinished at the end" }
        lines.append(outcome + String(format: " in %.1f s: ", seconds) + style.bold(String(format: "%.2f requests/s", requestsPerSecond)))
        let sourceText = tokensSource == "usage" ? "from usage" : tokensSource == "chunks" ? "counted from chunks" : "not reported"
        lines.append("tokens      \(completionTokens) generated (\(sourceText)), "
            + style.bold(String(format: "%.1f tokens/s", outputTokensPerSecond)) + ", \(promptTokens) prompt")
        lines.append("errors      " + (errors.isEmpty ? "none"
            : style.red(errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))))
        var table = TextTable(["ms", "mean", "p50", "p90", "p95", "p99", "max", "count"], rightAligned: Set(1...7))
        for (name, distribution) in [("latency", latencyMs), ("TTFT", ttftMs), ("ITL", itlMs)] {
            guard let d = distribution else { continue }
            table.add([name] + [d.mean, d.p50, d.p90, d.p95, d.p99, d.max].map { String(format: "%.1f", $0) } + [String(d.count)])
        }
        let distributions = table.rows.isEmpty ? "" : "\n" + table.render(style: style)
        return lines.joined(separator: "\n") + "\n" + distributions
    }
}
