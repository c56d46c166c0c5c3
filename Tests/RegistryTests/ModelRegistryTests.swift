import APIKeys
import Crypto
import Foundation
import Registry
import Settings
import Testing
import TestKit

/// Parses a registry document held in a string, with relative paths resolved against `/models`.
func parse(_ json: String, base: String = "/models") throws(ModelRegistryError) -> ModelRegistry {
    try ModelRegistry.parse(Data(json.utf8), source: "models.json", baseDirectory: base)
}

/// The error a document fails with; the test fails when it parses.
func failure(_ json: String) -> ModelRegistryError? {
    do {
        _ = try parse(json)
        Issue.record("expected the registry to be rejected")
        return nil
    } catch {
        return error
    }
}

/// A document with one entry made of `fields` (raw JSON members).
private func single(_ fields: String) -> String {
    "{\"models\": [{\(fields)}]}"
}

private let chat = #""name": "smollm2", "kind": "chat", "engine": "builtin", "path": "smollm2/m.gguf""#

@Suite("Model registry")
struct ModelRegistryTests {
    @Test("The shipped config/models.json has smollm2 and minilm, resolved against INFER_MODELS_DIR")
    func shippedRegistry() throws {
        let file = packageRoot + "/config/models.json"
        let registry = try ModelRegistry.load(path: file, environment: ["INFER_MODELS_DIR": "/var/lib/infer/models"])
        #expect(registry.names == ["smollm2", "minilm"])
        let smollm2 = try #require(registry["smollm2"])
        #expect(smollm2.kind == .chat)
        #expect(smollm2.engine == .builtin)
        #expect(smollm2.path == "/var/lib/infer/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let minilm = try #require(registry["minilm"])
        #expect(minilm.kind == .embedding)
        #expect(minilm.path == "/var/lib/infer/models/minilm")
        #expect(minilm.priceInputPer1M == 0)

        // Without INFER_MODELS_DIR, the registry file's own directory.
        let local = try ModelRegistry.load(path: file, environment: [:])
        #expect(local["minilm"]?.path == packageRoot + "/config/minilm")
    }

    @Test("Every field is read; defaults apply to the optional ones")
    func fullEntries() throws {
        let registry = try parse("""
            {"models": [
              {"name": "smollm2", "kind": "chat", "engine": "builtin", "path": "/abs/m.gguf",
               "fallbacks": ["gpt4o-mini"], "max_concurrency": 4},
              {"name": "gpt4o-mini", "kind": "chat", "engine": "openai", "url": "https://api.openai.com/v1",
               "upstream_model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY",
               "price_input_per_1m": 0.15, "price_output_per_1m": 0.6, "description": "upstream"},
              {"name": "mini_lm-2", "kind": "embedding", "engine": "builtin", "path": "minilm"}
            ]}
            """)
        let local = try #require(registry["smollm2"])
        #expect(local.path == "/abs/m.gguf")
        #expect(local.fallbacks == ["gpt4o-mini"])
        #expect(local.deployments[0].maxConcurrency == 4)
        #expect(local.priceOutputPer1M == 0)
        #expect(local.url == nil)
        let upstream = try #require(registry["gpt4o-mini"])
        #expect(upstream.engine == .openai)
        #expect(upstream.url?.absoluteString == "https://api.openai.com/v1")
        #expect(upstream.deployments[0].upstreamModel == "gpt-4o-mini")
        #expect(upstream.deployments[0].apiKeyEnvironmentVariable == "OPENAI_API_KEY")
        #expect(upstream.priceInputPer1M == 0.15)
        #expect(upstream.path == nil)
        #expect(upstream.deployments[0].maxConcurrency == nil)
        #expect(upstream.summary == "upstream")
        #expect(abs(upstream.cost(inputTokens: 1_000_000, outputTokens: 500_000) - 0.45) < 1e-12)
        #expect(registry["mini_lm-2"]?.path == "/models/minilm")
        #expect(registry.models(of: .embedding).map(\.name) == ["mini_lm-2"])
        #expect(registry["absent"] == nil)
    }

    @Test("The fallback chain is breadth first and visits each model once")
    func fallbackChain() throws {
        let registry = try parse("""
            {"models": [
              {"name": "a", "kind": "chat", "engine": "builtin", "path": "a", "fallbacks": ["b", "c"]},
              {"name": "b", "kind": "chat", "engine": "builtin", "path": "b", "fallbacks": ["e", "d"]},
              {"name": "c", "kind": "chat", "engine": "builtin", "path": "c", "fallbacks": ["d"]},
              {"name": "d", "kind": "chat", "engine": "builtin", "path": "d"},
              {"name": "e", "kind": "chat", "engine": "builtin", "path": "e", "fallbacks": ["d"]}
            ]}
            """)
        #expect(registry.fallbackChain(for: "a").map(\.name) == ["a", "b", "c", "e", "d"])
        #expect(registry.fallbackChain(for: "b").map(\.name) == ["b", "e", "d"])
        #expect(registry.fallbackChain(for: "zz").isEmpty)
    }

    @Test("Errors name the entry and the field", arguments: [
        // (fields of the one entry, field named, words the message must hold)
        (#""kind": "chat", "engine": "builtin", "path": "p""#, "name", "missing"),
        (#""name": "Big", "kind": "chat", "engine": "builtin", "path": "p""#, "name", "not a valid model name"),
        (#""name": "\#(String(repeating: "a", count: 65))", "kind": "chat", "engine": "builtin", "path": "p""#,
         "name", "1 to 64"),
        (#""name": "m", "kind": "text", "engine": "builtin", "path": "p""#, "kind", #"expected "chat" or "embedding""#),
        (#""name": "m", "engine": "builtin", "path": "p""#, "kind", "missing"),
        (#""name": "m", "kind": "chat", "engine": "vllm", "path": "p""#, "engine", #""builtin" or "openai""#),
        (#""name": "m", "kind": "chat", "engine": "builtin""#, "path", "missing"),
        (#""name": "m", "kind": "chat", "engine": "builtin", "path": """#, "path", "non-empty string"),
        (#""name": "m", "kind": "chat", "engine": "builtin", "path": "p", "url": "http://x""#, "url", "openai"),
        (#""name": "m", "kind": "chat", "engine": "openai""#, "url", "missing"),
        (#""name": "m", "kind": "chat", "engine": "openai", "url": "ftp://x""#, "url", "http or https"),
        (#""name": "m", "kind": "chat", "engine": "openai", "url": "http://x", "path": "p""#, "path", "builtin"),
        (#""name": "m", "kind": "chat", "engine": "openai", "url": "http://x", "api_key_env": "sk-123""#,
         "api_key_env", "environment variable"),
        (chat + #", "price_input_per_1m": -1"#, "price_input_per_1m", "0 or more"),
        (chat + #", "price_output_per_1m": "free""#, "price_output_per_1m", "a string"),
        (chat + #", "price_output_per_1m": true"#, "price_output_per_1m", "a boolean"),
        (chat + #", "max_concurrency": 0"#, "max_concurrency", "between 1 and"),
        (chat + #", "max_concurrency": 2.5"#, "max_concurrency", "integer"),
        (chat + #", "fallbacks": "other""#, "fallbacks", "array"),
        (chat + #", "fallbacks": [3]"#, "fallbacks", "model names"),
        (chat + #", "fallbacks": ["nowhere"]"#, "fallbacks", #"no model is named "nowhere""#),
        (chat + #", "fallbacks": ["smollm2"]"#, "fallbacks", "itself"),
        (chat + #", "price_input_per_1M": 1"#, "price_input_per_1M", "unknown field"),
    ])
    func entryErrors(fields: String, field: String, words: String) throws {
        let error = try #require(failure(single(fields)))
        #expect(error.field == field)
        #expect(error.entryIndex == 1)
        #expect(error.description.contains("field \"\(field)\""))
        #expect(error.description.contains(words), "\(error.description)")
        #expect(error.description.hasPrefix("models.json: "))
        if field != "name" {
            #expect(error.entryName == "m" || error.entryName == "smollm2")
            #expect(error.description.contains("model \"\(error.entryName ?? "")\" (entry 1)"))
        }
    }

    @Test("Errors in later entries name them by name and position")
    func laterEntries() throws {
        let duplicate = try #require(failure("""
            {"models": [{\(chat)}, {"name": "e", "kind": "embedding", "engine": "builtin", "path": "e"},
                        {"name": "smollm2", "kind": "chat", "engine": "builtin", "path": "q"}]}
            """))
        #expect(duplicate.description
            == #"models.json: model "smollm2" (entry 3), field "name": the name "smollm2" is used by an earlier entry"#)

        let wrongKind = try #require(failure("""
            {"models": [{\(chat), "fallbacks": ["e"]},
                        {"name": "e", "kind": "embedding", "engine": "builtin", "path": "e"}]}
            """))
        #expect(wrongKind.entryName == "smollm2")
        #expect(wrongKind.field == "fallbacks")
        #expect(wrongKind.description.contains(#""e" serves embedding, this model serves chat"#))

        let twice = try #require(failure("""
            {"models": [{"name": "e", "kind": "embedding", "engine": "builtin", "path": "e"},
                        {"name": "f", "kind": "embedding", "engine": "builtin", "path": "f", "fallbacks": ["e", "e"]}]}
            """))
        #expect(twice.entryIndex == 2)
        #expect(twice.description.contains("listed twice"))

        let notObject = try #require(failure(#"{"models": [{\#(chat)}, 42]}"#))
        #expect(notObject.description == "models.json: entry 2: expected an object, got a number (42)")
    }

    @Test("Errors in the document as a whole", arguments: [
        (#"[]"#, "expected an object"),
        (#"{}"#, #"field "models": missing"#),
        (#"{"models": {}}"#, #"field "models": expected an array"#),
        (#"{"models": []}"#, "names no model"),
        (#"{"models": [], "extra": 1}"#, #"field "extra": unknown field"#),
        (#"{"models": [ "#, "not valid JSON"),
        (#""#, "not valid JSON"),
    ])
    func documentErrors(json: String, words: String) throws {
        let error = try #require(failure(json))
        #expect(error.description.contains(words), "\(error.description)")
        #expect(error.entryIndex == nil)
    }

    @Test("A missing file is reported with its path; a daemon gets a ConfigError naming INFER_MODEL_REGISTRY")
    func missingFile() throws {
        #expect(throws: ModelRegistryError.self) {
            try ModelRegistry.load(path: "/nonexistent/models.json", environment: [:])
        }
        do {
            _ = try ModelRegistry.load(path: "/nonexistent/models.json", environment: [:])
        } catch {
            #expect(error.description.contains("/nonexistent/models.json"))
            #expect(error.configError.variables == ["INFER_MODEL_REGISTRY"])
        }
        do {
            _ = try ModelRegistry.load(environment: ["INFER_MODEL_REGISTRY": "relative.json"])
            Issue.record("a relative INFER_MODEL_REGISTRY must be rejected")
        } catch {
            #expect(error.description.contains("INFER_MODEL_REGISTRY=relative.json: expected an absolute path"))
        }
    }

    @Test("Model names: a-z, 0-9, _ and -, 1 to 64 characters")
    func names() {
        #expect(ModelRegistry.isValidModelName("smollm2"))
        #expect(ModelRegistry.isValidModelName("gpt-4o_mini"))
        #expect(ModelRegistry.isValidModelName(String(repeating: "x", count: 64)))
        #expect(!ModelRegistry.isValidModelName(String(repeating: "x", count: 65)))
        #expect(!ModelRegistry.isValidModelName(""))
        #expect(!ModelRegistry.isValidModelName("GPT"))
        #expect(!ModelRegistry.isValidModelName("a.b"))
        #expect(!ModelRegistry.isValidModelName("a/b"))
        #expect(!ModelRegistry.isValidModelName("naïve"))
    }
}
