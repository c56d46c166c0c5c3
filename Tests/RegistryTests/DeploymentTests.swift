import Foundation
import Registry
import Testing

/// The registry's long form: a public model served by several deployments.
@Suite("Model registry: deployments, routing and fallback loops")
struct DeploymentTests {
    private let twoDeployments = """
        {"models": [
          {"name": "chat", "kind": "chat", "routing": "cost", "context_length": 2048, "fallbacks": ["smollm2"],
           "deployments": [
             {"name": "chat-local", "engine": "builtin", "path": "smollm2/m.gguf", "price_output_per_1m": 0.1},
             {"engine": "openai", "url": "https://llm.internal:8443/v1", "upstream_model": "SmolLM2",
              "api_key_file": "/etc/infer/upstream.key", "ca_file": "/etc/infer/ca.pem",
              "price_input_per_1m": 1, "price_output_per_1m": 2, "weight": 3, "rpm": 600, "tpm": 100000,
              "max_concurrency": 8, "context_length": 8192}
           ]},
          {"name": "smollm2", "kind": "chat", "engine": "builtin", "path": "/abs/s.gguf"}
        ]}
        """

    @Test("every deployment field is read, with defaults and the model's context length")
    func longForm() throws {
        let registry = try parse(twoDeployments)
        let chat = try #require(registry["chat"])
        #expect(chat.routing == .cost)
        #expect(chat.deployments.map(\.name) == ["chat-local", "chat-2"])
        let local = chat.deployments[0], remote = chat.deployments[1]
        #expect(local.path == "/models/smollm2/m.gguf")
        #expect(local.upstreamModel == "chat")
        #expect(local.weight == 1)
        #expect(local.contextLength == 2048)
        #expect(local.model == "chat")
        #expect(remote.engine == .openai)
        #expect(remote.url?.host == "llm.internal")
        #expect(remote.upstreamModel == "SmolLM2")
        #expect(remote.apiKeyFile == "/etc/infer/upstream.key")
        #expect(remote.caFile == "/etc/infer/ca.pem")
        #expect(remote.weight == 3)
        #expect(remote.requestsPerMinute == 600)
        #expect(remote.tokensPerMinute == 100_000)
        #expect(remote.maxConcurrency == 8)
        #expect(remote.contextLength == 8192)
        #expect(abs(remote.cost(inputTokens: 1_000_000, outputTokens: 1_000_000) - 3) < 1e-12)
        #expect(registry.deployments.map(\.name) == ["chat-local", "chat-2", "smollm2"])
        #expect(registry.deployment(named: "chat-2")?.model.name == "chat")
        #expect(registry.deployment(named: "smollm2")?.deployment.engine == .builtin)
        #expect(registry.deployment(named: "chat") == nil)
        // The short form is one deployment named after its model, routed by cost.
        #expect(registry["smollm2"]?.deployments.map(\.name) == ["smollm2"])
        #expect(registry["smollm2"]?.routing == .cost)
    }

    @Test("every routing strategy is accepted by name; others are refused naming the field")
    func routing() throws {
        for strategy in RoutingStrategy.allCases {
            let registry = try parse(#"{"models": [{"name": "m", "kind": "chat", "routing": "\#(strategy.rawValue)", "engine": "builtin", "path": "/m"}]}"#)
            #expect(registry["m"]?.routing == strategy)
        }
        let error = failure(#"{"models": [{"name": "m", "kind": "chat", "routing": "fastest", "engine": "builtin", "path": "/m"}]}"#)
        #expect(error?.field == "routing")
    }

    @Test("a bad deployment is refused naming the entry and the deployment's field", arguments: [
        (#"{"engine": "openai", "url": "ftp://x/v1"}"#, "deployments[0].url"),
        (#"{"engine": "builtin", "path": "/m", "url": "http://x/v1"}"#, "deployments[0].url"),
        (#"{"engine": "openai", "url": "http://x/v1", "weight": 0}"#, "deployments[0].weight"),
        (#"{"engine": "openai", "url": "http://x/v1", "rpm": 1.5}"#, "deployments[0].rpm"),
        (#"{"engine": "openai", "url": "http://x/v1", "ca_file": "/ca.pem"}"#, "deployments[0].ca_file"),
        (#"{"engine": "openai", "url": "https://x/v1", "api_key_env": "K", "api_key_file": "/k"}"#, "deployments[0].api_key_file"),
        (#"{"engine": "openai", "url": "https://x/v1", "api_key_file": "relative/k"}"#, "deployments[0].api_key_file"),
        (#"{"engine": "openai", "url": "https://x/v1", "colour": "red"}"#, "deployments[0].colour"),
        (#"{"name": "Bad Name", "engine": "builtin", "path": "/m"}"#, "deployments[0].name"),
        (#""not an object""#, "deployments[0]"),
    ])
    func badDeployment(_ deployment: String, _ field: String) {
        let error = failure(#"{"models": [{"name": "m", "kind": "chat", "deployments": [\#(deployment)]}]}"#)
        #expect(error?.field == field)
        #expect(error?.entryName == "m")
        #expect(error?.description.contains("models.json") == true)
    }

    @Test("deployment fields beside deployments, an empty list, and clashing names are refused")
    func structure() {
        #expect(failure(#"{"models": [{"name": "m", "kind": "chat", "engine": "builtin", "deployments": [{"engine": "builtin", "path": "/m"}]}]}"#)?.field == "engine")
        #expect(failure(#"{"models": [{"name": "m", "kind": "chat", "deployments": []}]}"#)?.field == "deployments")
        #expect(failure(#"{"models": [{"name": "m", "kind": "chat", "deployments": [{"name": "a", "engine": "builtin", "path": "/m"}, {"name": "a", "engine": "builtin", "path": "/m"}]}]}"#)?.field == "deployments[1].name")
        // A deployment may not take the name of another model's (one-deployment) instance.
        let clash = failure(#"{"models": [{"name": "s", "kind": "chat", "engine": "builtin", "path": "/s"}, {"name": "m", "kind": "chat", "deployments": [{"name": "s", "engine": "builtin", "path": "/m"}]}]}"#)
        #expect(clash?.field == "deployments[0].name")
        #expect(clash?.description.contains("already used by model \"s\"") == true)
    }

    @Test("a loop in the fallbacks is a configuration error that names it")
    func fallbackLoop() {
        let error = failure("""
            {"models": [
              {"name": "a", "kind": "chat", "engine": "builtin", "path": "/a", "fallbacks": ["b"]},
              {"name": "b", "kind": "chat", "engine": "builtin", "path": "/b", "fallbacks": ["c"]},
              {"name": "c", "kind": "chat", "engine": "builtin", "path": "/c", "fallbacks": ["a"]}
            ]}
            """)
        #expect(error?.field == "fallbacks")
        #expect(error?.entryName == "a")
        #expect(error?.description.contains("a → b → c → a") == true)
        // A chain without a loop is fine.
        #expect((try? parse("""
            {"models": [
              {"name": "a", "kind": "chat", "engine": "builtin", "path": "/a", "fallbacks": ["b", "c"]},
              {"name": "b", "kind": "chat", "engine": "builtin", "path": "/b", "fallbacks": ["c"]},
              {"name": "c", "kind": "chat", "engine": "builtin", "path": "/c"}
            ]}
            """)) != nil)
    }
}
