import Foundation

/// `inferctl metrics`: a readable summary of metricsd's exposition — daemons, requests, latency and
/// first-token percentiles, tokens, cache, breakers, queues, spend. `--json` prints the same figures.
enum MetricsCommand {
    static func run(_ options: ClientOptions, environment: [String: String]) -> Int32 {
        let address = options.metricsURL ?? environment["INFER_METRICS_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://127.0.0.1:9464/metrics"
        let reply: HTTPFetch.Reply
        switch HTTPFetch.command(address) {
        case .success(let answer): reply = answer
        case .failure(let exit): return exit.code
        }
        guard reply.status == 200 else {
            print("\(address) answered HTTP \(reply.status)")
            return InferctlExit.failure
        }
        let figures = summary(Exposition(String(decoding: reply.body, as: UTF8.self)))
        if options.json {
            let data = (try? JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys, .prettyPrinted])) ?? Data()
            FileHandle.standardOutput.write(data)
            print()
        } else {
            print(render(figures), terminator: "")
        }
        return InferctlExit.success
    }

    /// The figures of an exposition, as JSON-ready values.
    static func summary(_ e: Exposition) -> [String: Any] {
        let requests = e.sum("infer_http_requests_total")
        let errors = e.sum("infer_http_requests_total") { (Int($0["status"] ?? "") ?? 0) >= 500 }
        let refused = e.sum("infer_http_requests_total") { $0["status"] == "429" }
        let lookups = e.sum("infer_frontd_cache_lookups_total", by: "result")
        let hits = ["hit", "hit-semantic", "coalesced"].reduce(0) { $0 + (lookups[$1] ?? 0) }
        let misses = lookups["miss"] ?? 0
        func ms(_ q: Double, _ name: String) -> Any { e.quantile(q, histogram: name).map { ($0 * 1000 * 10).rounded() / 10 } ?? NSNull() }
        let states = ["closed", "open", "half-open"]
        let breakers = e.samples.filter { $0.name == "infer_batchd_breaker_state" }.reduce(into: [String: String]()) {
            $0[($1.labels["model"] ?? "?") + "/" + ($1.labels["deployment"] ?? "?")] = states[min(2, max(0, Int($1.value)))]
        }
        return [
            "daemons": e.sum("infer_daemon_up", by: "daemon").mapValues { $0 >= 1 },
            "requests": ["total": requests, "errors_5xx": errors, "rate_limited": refused],
            "latency_ms": ["p50": ms(0.5, "infer_http_request_duration_seconds"), "p95": ms(0.95, "infer_http_request_duration_seconds"),
                           "p99": ms(0.99, "infer_http_request_duration_seconds")],
            "time_to_first_token_ms": ["p50": ms(0.5, "infer_frontd_time_to_first_token_seconds"),
                                       "p95": ms(0.95, "infer_frontd_time_to_first_token_seconds")],
            "tokens": ["prompt": e.sum("infer_modeld_prompt_tokens_total"), "generated": e.sum("infer_modeld_generated_tokens_total")],
            "cache": ["hits": hits, "misses": misses, "bypass": lookups["bypass"] ?? 0,
                      "hit_ratio": hits + misses > 0 ? hits / (hits + misses) : NSNull()],
            "queue": ["waiting": e.sum("infer_batchd_queue_depth"), "running": e.sum("infer_batchd_inflight")],
            "breakers": breakers,
            "spend_usd": e.sum("infer_frontd_cost_usd_total", by: "model"),
        ]
    }

    /// The summary as lines a person reads.
    static func render(_ f: [String: Any]) -> String {
        func number(_ v: Any?) -> String {
            guard let d = v as? Double else { return "–" }
            return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(format: "%.4g", d)
        }
        let daemons = f["daemons"] as? [String: Bool] ?? [:]
        let r = f["requests"] as? [String: Double] ?? [:]
        let lat = f["latency_ms"] as? [String: Any] ?? [:], ttft = f["time_to_first_token_ms"] as? [String: Any] ?? [:]
        let tokens = f["tokens"] as? [String: Double] ?? [:], cache = f["cache"] as? [String: Any] ?? [:]
        let queue = f["queue"] as? [String: Double] ?? [:]
        var out = "daemons:   " + daemons.keys.sorted().map { "\($0) \(daemons[$0] == true ? "up" : "DOWN")" }.joined(separator: ", ") + "\n"
        out += "requests:  \(number(r["total"])) answered, \(number(r["errors_5xx"])) 5xx, \(number(r["rate_limited"])) refused (429)\n"
        out += "latency:   p50 \(number(lat["p50"])) ms, p95 \(number(lat["p95"])) ms, p99 \(number(lat["p99"])) ms\n"
        out += "first token: p50 \(number(ttft["p50"])) ms, p95 \(number(ttft["p95"])) ms\n"
        out += "tokens:    \(number(tokens["prompt"])) prompt, \(number(tokens["generated"])) generated\n"
        let ratio = (cache["hit_ratio"] as? Double).map { String(format: "%.1f %%", $0 * 100) } ?? "–"
        out += "cache:     \(number(cache["hits"])) hits, \(number(cache["misses"])) misses, \(number(cache["bypass"])) bypassed; hit ratio \(ratio)\n"
        out += "queue:     \(number(queue["waiting"])) waiting, \(number(queue["running"])) running\n"
        let breakers = f["breakers"] as? [String: String] ?? [:]
        if !breakers.isEmpty {
            out += "breakers:  " + breakers.keys.sorted().map { "\($0) \(breakers[$0] ?? "?")" }.joined(separator: ", ") + "\n"
        }
        let spend = f["spend_usd"] as? [String: Double] ?? [:]
        if !spend.isEmpty {
            out += "spend:     " + spend.keys.sorted().map { "\($0) $\(String(format: "%.6f", spend[$0] ?? 0))" }.joined(separator: ", ") + "\n"
        }
        return out
    }
}
