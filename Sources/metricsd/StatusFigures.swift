import Basics
import Metrics

/// The figures of the status page (`GET /status.json` on metricsd's port): every daemon (up, pid,
/// uptime, restarts), lifetime totals of the serving counters, the latency and first-token histograms as
/// cumulative buckets, queue depth and breakers. Totals and buckets are cumulative so that the page's
/// script computes rates and percentiles over the interval between two polls.
enum StatusFigures {
    /// The JSON object of one gathering.
    static func json(families: [MetricFamily], roster: [String: DaemonRoster.Entry], now: Double) -> [String: any Sendable] {
        func sum(_ name: String, _ filter: ([MetricLabel]) -> Bool = { _ in true }) -> Double {
            families.filter { $0.name == name }.flatMap(\.samples).filter { filter($0.labels) }.reduce(0) { $0 + $1.value }
        }
        func label(_ name: String, _ labels: [MetricLabel]) -> String? { labels.first { $0.name == name }?.value }
        func histogram(_ name: String) -> [String: any Sendable] {
            guard let family = families.first(where: { $0.name == name }) else { return ["bounds": [Double](), "counts": [UInt64](), "count": 0] }
            var counts = [UInt64](repeating: 0, count: family.buckets.count)
            var total: UInt64 = 0
            for sample in family.samples {
                for (i, c) in sample.bucketCounts.enumerated() where i < counts.count { counts[i] += c }
                total += sample.count
            }
            return ["bounds": family.buckets, "counts": counts, "count": total]
        }
        let daemons = roster.keys.sorted().map { name -> [String: any Sendable] in
            let e = roster[name] ?? DaemonRoster.Entry()
            var o: [String: any Sendable] = ["name": name, "up": e.up, "restarts": e.restarts]
            if let pid = e.pid { o["pid"] = pid }
            if let start = e.startTime { o["uptime_seconds"] = max(0, now - start) }
            return o
        }
        var breakers: [String: any Sendable] = [:]
        for sample in families.filter({ $0.name == "infer_batchd_breaker_state" }).flatMap(\.samples) {
            let key = (label("model", sample.labels) ?? "?") + "/" + (label("deployment", sample.labels) ?? "?")
            breakers[key] = ["closed", "open", "half-open"][min(2, max(0, Int(sample.value)))]
        }
        let hits = sum("infer_frontd_cache_lookups_total") { ["hit", "hit-semantic", "coalesced"].contains(label("result", $0) ?? "") }
        let misses = sum("infer_frontd_cache_lookups_total") { label("result", $0) == "miss" }
        return [
            "time": now,
            "daemons": daemons,
            "totals": [
                "requests": sum("infer_http_requests_total"),
                "errors": sum("infer_http_requests_total") { (label("status", $0).flatMap { Int($0) } ?? 0) >= 500 },
                "rate_limited": sum("infer_http_requests_total") { label("status", $0) == "429" },
                "prompt_tokens": sum("infer_modeld_prompt_tokens_total"),
                "generated_tokens": sum("infer_modeld_generated_tokens_total"),
                "cache_hits": hits,
                "cache_misses": misses,
                "spend_usd": sum("infer_frontd_cost_usd_total"),
            ] as [String: Double],
            "latency": histogram("infer_http_request_duration_seconds"),
            "ttft": histogram("infer_frontd_time_to_first_token_seconds"),
            "queue_depth": sum("infer_batchd_queue_depth"),
            "in_flight": sum("infer_batchd_inflight"),
            "breakers": breakers,
        ]
    }

    /// What the history keeps of one gathering: its time and cumulative figures.
    static func historyEntry(_ figures: [String: any Sendable]) -> [String: any Sendable] {
        figures.filter { ["time", "totals", "latency", "ttft"].contains($0.key) }
    }

    /// The JSON text of `json(...)`: compact, keys sorted. Written here rather than by Foundation's
    /// JSONSerialization, which would load Foundation into metricsd for this alone.
    static func encoded(_ object: [String: any Sendable]) -> [UInt8] {
        var out: [UInt8] = []
        write(object, to: &out)
        return out
    }

    /// Appends one value of the figures: a string, a number, a boolean, an array or an object of them;
    /// a number that is not finite is written as null (JSON has no NaN).
    private static func write(_ value: any Sendable, to out: inout [UInt8]) {
        switch value {
        case let text as String: JSONString.append(text, to: &out)
        case let flag as Bool: out += Array((flag ? "true" : "false").utf8)
        case let number as Int: out += Array(String(number).utf8)
        case let number as UInt64: out += Array(String(number).utf8)
        case let number as Double: out += Array((number.isFinite ? String(number) : "null").utf8)
        case let object as [String: any Sendable]:
            out.append(UInt8(ascii: "{"))
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.append(key, to: &out)
                out.append(UInt8(ascii: ":"))
                if let member = object[key] { write(member, to: &out) }
            }
            out.append(UInt8(ascii: "}"))
        case let array as [any Sendable]:
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        default: out += Array("null".utf8)
        }
    }
}
