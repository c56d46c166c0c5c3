import Foundation
import Glibc
import Spawn
import Testing
import TestKit

/// monitoring/: the rules pass promtool's checks and unit tests; a real Prometheus (Debian's) scrapes a
/// real stack's metricsd with the rules loaded, a daemon killed in a loop fires its alert, and every
/// query of the Grafana dashboard names metrics that exist and returns data.
@Suite("monitoring assets against a real Prometheus")
struct MonitoringTests {
    static let rules = packageRoot + "/monitoring/prometheus"
    static let dashboard = packageRoot + "/monitoring/grafana/infer-dashboard.json"

    /// Runs a program to its end; its exit status and what it printed.
    static func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let run = try runCapturing(path, arguments)
        return (run.status ?? -1, run.output)
    }

    /// Every PromQL query of the dashboard.
    static func dashboardQueries() throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dashboard))) as? [String: Any]
        let panels = object?["panels"] as? [[String: Any]] ?? []
        return panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
    }

    /// The metric names a query reads: `infer_...` (a histogram's `_bucket`, `_count`, `_sum` reduced to
    /// its family) and recording rules `infer:...`.
    static func names(in query: String) -> Set<String> {
        var names = Set<String>()
        let pattern = try? NSRegularExpression(pattern: "infer[_:][a-z0-9_:]+")
        let range = NSRange(query.startIndex..., in: query)
        for match in pattern?.matches(in: query, range: range) ?? [] {
            guard let r = Range(match.range, in: query) else { continue }
            names.insert(String(query[r]))
        }
        return names
    }

    @Test("promtool: the rule files are valid and every alert's unit test passes")
    func promtool() throws {
        let check = try Self.run("/usr/bin/promtool", ["check", "rules", Self.rules + "/recording-rules.yml", Self.rules + "/alert-rules.yml"])
        #expect(check.status == 0, "\(check.output)")
        let tests = try Self.run("/usr/bin/promtool", ["test", "rules", Self.rules + "/tests/alerts-test.yml"])
        #expect(tests.status == 0, "\(tests.output)")
        // Every alert in the rules has a test that fires it.
        let alerts = try String(contentsOfFile: Self.rules + "/alert-rules.yml", encoding: .utf8)
            .split(separator: "\n").compactMap { $0.split(separator: "alert: ").dropFirst().first.map(String.init) }
        let tested = try String(contentsOfFile: Self.rules + "/tests/alerts-test.yml", encoding: .utf8)
        #expect(alerts.count >= 10)
        for alert in alerts { #expect(tested.contains("alertname: \(alert)\n        exp_alerts:\n          - exp_labels"), "\(alert) has no firing test") }
    }

    @Test("a real Prometheus scrapes the stack: a restart loop fires its alert; every dashboard query returns data")
    func prometheus() async throws {
        let serving = try ServingStack(), stack = serving.run
        defer { _ = stack.stop() }
        let http = serving.http, metricsPort = serving.metrics

        // The dashboard reads only metrics the live exposition has (or recording rules that exist).
        let key = try stack.key("unlimited")
        for i in 0..<3 {
            let stream = i == 1 ? #","stream":true"# : ""
            _ = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d",
                      #"{"model":"smollm2","messages":[{"role":"user","content":"Count to \#(i + 3)."}],"max_tokens":6,"temperature":0\#(stream)}"#,
                      "http://127.0.0.1:\(http)/v1/chat/completions"], timeout: 120)
        }
        _ = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d",
                  #"{"model":"smollm2","messages":[{"role":"user","content":"Count to 3."}],"max_tokens":6,"temperature":0}"#,
                  "http://127.0.0.1:\(http)/v1/chat/completions"], timeout: 120)
        // A sampled client trace: its id becomes the exemplar of the latency buckets its request fell in.
        let traceID = "5a1e00c0ffee00000000000000000" + String(format: "%03x", Int.random(in: 0..<4096))
        _ = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json",
                  "-H", "traceparent: 00-\(traceID)-00f067aa0ba902b7-01", "-d",
                  #"{"model":"smollm2","messages":[{"role":"user","content":"Name a colour."}],"max_tokens":5,"temperature":0,"stream":true}"#,
                  "http://127.0.0.1:\(http)/v1/chat/completions"], timeout: 120)
        let openMetrics = curl(["-H", "Accept: application/openmetrics-text;version=1.0.0", "http://127.0.0.1:\(metricsPort)/metrics"]).body
        #expect(openMetrics.hasSuffix("# EOF\n"))
        #expect(openMetrics.contains("infer_frontd_time_to_first_token_seconds_bucket{model=\"smollm2\"") && openMetrics.contains("# {trace_id=\"\(traceID)\""),
                "no exemplar with the client's trace id in the OpenMetrics exposition")
        let exposition = curl(["http://127.0.0.1:\(metricsPort)/metrics"]).body
        let families = Set(exposition.split(separator: "\n").compactMap { line -> String? in
            line.hasPrefix("# TYPE ") ? line.split(separator: " ").dropFirst(2).first.map(String.init) : nil
        })
        let recorded = try String(contentsOfFile: Self.rules + "/recording-rules.yml", encoding: .utf8)
        let queries = try Self.dashboardQueries()
        #expect(queries.count >= 15)
        for query in queries {
            for name in Self.names(in: query) {
                if name.contains(":") {
                    #expect(recorded.contains("record: \(name)\n"), "\(name) (dashboard) is not a recording rule")
                } else {
                    let family = ["_bucket", "_count", "_sum"].reduce(name) { $0.hasSuffix($1) ? String($0.dropLast($1.count)) : $0 }
                    #expect(families.contains(family), "\(name) (dashboard: \(query)) is not in the exposition")
                }
            }
        }

        // Prometheus with the rules, scraping metricsd every second.
        let work = try TemporaryDirectory()
        let promPort = try freeTCPPort()
        let config = """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        rule_files: ["\(Self.rules)/recording-rules.yml", "\(Self.rules)/alert-rules.yml"]
        scrape_configs:
          - job_name: infer
            static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]
        """
        try config.write(toFile: work.path + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try PipedProgram(
            "/usr/bin/prometheus",
            ["--config.file=\(work.path)/prometheus.yml", "--storage.tsdb.path=\(work.path)/data",
             "--web.listen-address=127.0.0.1:\(promPort)", "--enable-feature=exemplar-storage"],
            output: .null)
        defer { _ = prometheus.child.terminate(grace: .seconds(10)) }
        let api = "http://127.0.0.1:\(promPort)/api/v1"
        func query(_ q: String) -> [[String: Any]] {
            let r = curl(["-G", "--data-urlencode", "query=\(q)", api + "/query"])
            let o = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any]
            return ((o?["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
        }
        #expect(stack.wait(.seconds(30)) { !query(#"infer_daemon_up{daemon="cached"}"#).isEmpty }, "Prometheus never scraped metricsd")
        // Prometheus scraped OpenMetrics and stored the exemplar: a slow bucket links to the client's trace.
        let exemplarFound = stack.wait(.seconds(30)) {
            let now = Int(Date().timeIntervalSince1970)
            let r = curl(["-G", "--data-urlencode", "query=infer_frontd_time_to_first_token_seconds_bucket",
                          "--data-urlencode", "start=\(now - 600)", "--data-urlencode", "end=\(now + 60)", api + "/query_exemplars"])
            return r.body.contains(traceID)
        }
        #expect(exemplarFound, "Prometheus has no exemplar with the client's trace id")

        // cached killed three times; inferctl up restarts it each time (as systemd would).
        for _ in 0..<3 {
            let before = stack.pid("cached")
            if let before { kill(before, SIGKILL) }
            #expect(stack.wait(.seconds(30)) { stack.pid("cached") != nil && stack.pid("cached") != before && stack.isReady })
            try await Task.sleep(for: .seconds(2))  // at least one scrape of each new start time
        }
        let fired = stack.wait(.seconds(30)) {
            let alerts = curl([api + "/alerts"]).body
            return alerts.contains(#""alertname":"InferDaemonRestartLoop""#) && alerts.contains(#""daemon":"cached""#)
                && alerts.contains(#""state":"firing""#)
        }
        #expect(fired, "InferDaemonRestartLoop did not fire for cached: \(curl([api + "/alerts"]).body.prefix(2000))")

        // More traffic, then every dashboard query returns data.
        for i in 0..<4 {
            _ = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d",
                      #"{"model":"smollm2","messages":[{"role":"user","content":"Say \#(i)."}],"max_tokens":4,"temperature":0}"#,
                      "http://127.0.0.1:\(http)/v1/chat/completions"], timeout: 120)
        }
        try await Task.sleep(for: .seconds(3))
        for q in queries {
            #expect(!query(q).isEmpty, "the dashboard query returns no data: \(q)")
        }
    }
}
