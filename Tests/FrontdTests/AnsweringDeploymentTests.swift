import Foundation
import Metrics
import Registry
import Services
import Testing
@testable import frontd

/// Who answered, as the client is told: X-Infer-Deployment, X-Infer-Fallback, X-Infer-Cost and `model`.
@Suite("the answering deployment's headers")
struct AnsweringDeploymentTests {
    private let registry = ModelRegistry(models: [
        ModelEntry(name: "chat", kind: .chat, deployments: [
            Deployment(name: "chat-cheap", model: "chat", engine: .openai, url: URL(string: "http://a/v1"),
                       priceInputPer1M: 0.5, priceOutputPer1M: 1.5),
        ], fallbacks: ["smollm2"]),
        ModelEntry(name: "smollm2", kind: .chat, engine: .builtin, path: "/m.gguf"),
    ])

    @Test("the deployment and its cost; no fallback header when the model asked for answered")
    func deploymentAndCost() {
        let answered = AnsweringDeployment()
        answered.record(GenerationProtocol.Route(deployment: "chat-cheap", model: "chat"), requested: "chat")
        let headers = answered.headers(registry: registry, promptTokens: 1_000_000, completionTokens: 2_000_000)
        #expect(headers["X-Infer-Deployment"] == "chat-cheap")
        #expect(headers["X-Infer-Fallback"] == nil)
        #expect(headers["X-Infer-Cost"] == "3.5000000000")
        #expect(answered.model(requested: "chat") == "chat")
    }

    @Test("a fallback is named in X-Infer-Fallback and in model; a free deployment costs 0")
    func fallback() {
        let answered = AnsweringDeployment()
        answered.record(GenerationProtocol.Route(deployment: "smollm2", model: "smollm2"), requested: "chat")
        let headers = answered.headers(registry: registry, promptTokens: 10, completionTokens: 10)
        #expect(headers["X-Infer-Fallback"] == "smollm2")
        #expect(headers["X-Infer-Cost"] == "0.0000000000")
        #expect(answered.model(requested: "chat") == "smollm2")
    }

    @Test("usage.cost: the deployment's price for the tokens, 0 for a cache hit, absent when unpriced")
    func usageCost() {
        let done = CachedCompletion(content: "x", finishReason: "stop", promptTokens: 1_000_000, completionTokens: 1_000_000)
        let answered = AnsweringDeployment()
        #expect(answered.cost(registry: registry, hit: false, done) == nil)
        #expect(answered.cost(registry: registry, hit: true, done) == 0)
        answered.record(GenerationProtocol.Route(deployment: "chat-cheap", model: "chat"), requested: "chat")
        #expect(answered.cost(registry: registry, hit: false, done) == 2.0)
        #expect(JSONText.usage(done, cost: 2.0).hasSuffix(#""total_tokens":2000000,"cost":2.0000000000}"#))
        #expect(!JSONText.usage(done).contains("cost"))
    }

    @Test("no route (a cache hit), no headers; small costs keep their digits")
    func noRoute() {
        #expect(AnsweringDeployment().headers(registry: registry, promptTokens: 5, completionTokens: 5).count == 0)
        #expect(AnsweringDeployment.format(0.000_000_15) == "0.0000001500")
        #expect(AnsweringDeployment.format(12.25) == "12.2500000000")
    }
}

/// `/health/ready`'s breakers, read from batchd's stats.
@Suite("readiness shows the breakers")
struct ReadinessBreakerTests {
    @Test("infer_batchd_breaker_state samples become model/deployment: state")
    func breakers() {
        let family = MetricFamily(name: "infer_batchd_breaker_state", help: "", kind: .gauge, samples: [
            MetricSample(labels: [MetricLabel("model", "chat"), MetricLabel("deployment", "chat-a")], value: 0),
            MetricSample(labels: [MetricLabel("model", "chat"), MetricLabel("deployment", "chat-b")], value: 1),
            MetricSample(labels: [MetricLabel("model", "chat"), MetricLabel("deployment", "chat-c")], value: 2),
        ])
        let payload = MetricsSnapshot(families: [family]).encoded()
        #expect(Frontend.breakers(payload) == ["chat/chat-a": "closed", "chat/chat-b": "open", "chat/chat-c": "half-open"])
        #expect(Frontend.breakers([1, 2, 3]).isEmpty)
    }
}
