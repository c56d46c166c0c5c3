import HTTP
import IPC
import Metrics
import Services

extension Frontend {
    /// The routes whose latency `/v1/metrics/summary` reports: the ones that run a model.
    static let generationRoutes: Set<String> = ["/v1/infer", "/v1/infer/stream", "/v1/batch", "/v1/chat/completions", "/v1/completions", "/v1/embeddings"]

    /// `GET /metrics`: metricsd's Prometheus text (every daemon's metrics, gathered now); 503 when
    /// metricsd is down, 404 when it does not serve metrics (`ENABLE_METRICS=false`).
    func prometheusMetrics(_ c: RequestContext) async throws -> Int {
        let reply = try await collect(text: true)
        guard let text = reply.text else {
            throw APIError.notFound("metrics are disabled (ENABLE_METRICS=false on metricsd)", code: "metrics_disabled")
        }
        try c.response.respond(status: .ok, headers: c.headers(contentType: PrometheusText.contentType), body: text)
        return 200
    }

    /// `GET /v1/metrics/summary`: requests, errors, 429s, tokens, latency quantiles of the generation
    /// routes, response-cache hits and which daemons answered, from one gathering by metricsd.
    func metricsSummary(_ c: RequestContext) async throws -> Int {
        let figures = MetricFigures(families: try await collect(text: false).families)
        func status(_ labels: [MetricLabel]) -> Int { Int(MetricFigures.label("status", labels) ?? "") ?? 0 }
        func generation(_ labels: [MetricLabel]) -> Bool { Self.generationRoutes.contains(MetricFigures.label("route", labels) ?? "") }
        func latency(_ q: Double) -> Double {
            // Milliseconds, to the microsecond: interpolation leaves float noise in the last digits.
            ((figures.quantile(q, histogram: "infer_http_request_duration_seconds", where: generation) ?? 0) * 1_000_000).rounded() / 1000
        }
        let hits = figures.sum("infer_frontd_cache_lookups_total") { MetricFigures.label("result", $0) == "hit" }
        let misses = figures.sum("infer_frontd_cache_lookups_total") { MetricFigures.label("result", $0) == "miss" }
        let daemons = figures.sum("infer_daemon_up", by: "daemon").mapValues { $0 >= 1 }
        try c.send(.ok, json: [
            "requests_total": Self.count(figures.sum("infer_http_requests_total")),
            "errors_total": Self.count(figures.sum("infer_http_requests_total") { status($0) >= 400 }),
            "rate_limited_total": Self.count(figures.sum("infer_http_requests_total") { status($0) == 429 }),
            "tokens": ["prompt": Self.count(figures.sum("infer_modeld_prompt_tokens_total")),
                       "completion": Self.count(figures.sum("infer_modeld_generated_tokens_total"))],
            "latency_ms": ["p50": .double(latency(0.5)), "p95": .double(latency(0.95)), "p99": .double(latency(0.99))],
            "cache": ["hits": Self.count(hits), "misses": Self.count(misses), "hit_rate": .double(Self.rate(hits, misses))],
            "daemons": .object(JSONObject(daemons.map { (key: $0.key, value: .bool($0.value)) })),
        ])
        return 200
    }

    /// `GET /v1/metrics/cache`: the response cache as frontd used it (hits and misses of its lookups)
    /// and as cached holds it (entries, bytes, evictions).
    func metricsCache(_ c: RequestContext) async throws -> Int {
        let figures = MetricFigures(families: try await collect(text: false).families)
        let hits = figures.sum("infer_frontd_cache_lookups_total") { MetricFigures.label("result", $0) == "hit" }
        let misses = figures.sum("infer_frontd_cache_lookups_total") { MetricFigures.label("result", $0) == "miss" }
        try c.send(.ok, json: [
            "hits": Self.count(hits), "misses": Self.count(misses), "hit_rate": .double(Self.rate(hits, misses)),
            "entries": Self.count(figures.sum("infer_cached_entries")), "bytes": Self.count(figures.sum("infer_cached_bytes")),
            "evictions": Self.count(figures.sum("infer_cached_evictions_total")),
        ])
        return 200
    }

    /// `GET /v1/metrics/cost`: each registry model's prompt and completion tokens (as its modeld
    /// instances count them, since each started) at each deployment's prices, in USD, with the
    /// deployments that make it up. modeld labels its series with its instance (deployment) name.
    /// `keys` lists what each key was charged: every key for an admin key (or with authentication off),
    /// the caller's own otherwise.
    func metricsCost(_ c: RequestContext) async throws -> Int {
        let figures = MetricFigures(families: try await collect(text: false).families)
        let prompt = figures.sum("infer_modeld_prompt_tokens_total", by: "model")
        let completion = figures.sum("infer_modeld_generated_tokens_total", by: "model")
        let entries = registry?.models ?? []
        var total = 0.0
        let models: [JSONValue] = entries.sorted { $0.name < $1.name }.map { entry in
            var modelPrompt = 0, modelCompletion = 0, modelCost = 0.0
            let deployments: [JSONValue] = entry.deployments.map { deployment in
                let p = Int(prompt[deployment.name] ?? 0), n = Int(completion[deployment.name] ?? 0)
                let cost = deployment.cost(inputTokens: p, outputTokens: n)
                modelPrompt += p
                modelCompletion += n
                modelCost += cost
                return ["deployment": .string(deployment.name), "prompt_tokens": .int(p), "completion_tokens": .int(n),
                        "price_input_per_1m": .double(deployment.priceInputPer1M),
                        "price_output_per_1m": .double(deployment.priceOutputPer1M), "cost": .double(cost)]
            }
            total += modelCost
            return ["model": .string(entry.name), "prompt_tokens": .int(modelPrompt), "completion_tokens": .int(modelCompletion),
                    "price_input_per_1m": .double(entry.priceInputPer1M), "price_output_per_1m": .double(entry.priceOutputPer1M),
                    "cost": .double(modelCost), "deployments": .array(deployments)]
        }
        // What each key was charged since frontd started (frontd's counter; a restart of frontd resets it).
        // A tenant's spend is its own: a key without the admin scope sees only its own rows.
        let onlyKey = c.principal.flatMap { $0.scopes.contains(.admin) ? nil : $0.name }
        var byKey: [String: [String: Double]] = [:]
        for family in figures.families where family.name == "infer_frontd_cost_usd_total" {
            for sample in family.samples {
                let key = sample.labels.first { $0.name == "key" }?.value ?? "anonymous"
                if let onlyKey, key != onlyKey { continue }
                let model = sample.labels.first { $0.name == "model" }?.value ?? ""
                byKey[key, default: [:]][model, default: 0] += sample.value
            }
        }
        let keys: [JSONValue] = byKey.keys.sorted().flatMap { key in
            byKey[key, default: [:]].keys.sorted().map { model -> JSONValue in
                ["key": .string(key), "model": .string(model), "cost": .double(byKey[key]?[model] ?? 0)]
            }
        }
        try c.send(.ok, json: ["currency": "USD", "total": .double(total), "models": .array(models), "keys": .array(keys)])
        return 200
    }

    /// One gathering by metricsd; 503 when it cannot be reached.
    private func collect(text: Bool) async throws -> MetricsProtocol.CollectReply {
        do {
            return try await collector.collect(MetricsProtocol.Collect(text: text, families: !text), timeout: metricsdTimeout)
        } catch {
            logger.warn("metricsd unreachable: \(error)")
            throw APIError.unavailable("metrics are unavailable: metricsd did not answer")
        }
    }

    /// A counter's value as a whole number: its digits (the sum of counters is whole, but a double).
    static func count(_ value: Double) -> JSONValue {
        .double(value.rounded(.towardZero))
    }

    /// hits / (hits + misses), 0 before any lookup.
    static func rate(_ hits: Double, _ misses: Double) -> Double {
        hits + misses > 0 ? hits / (hits + misses) : 0
    }
}
