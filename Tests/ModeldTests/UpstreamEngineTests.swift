import Foundation
import Registry
import Services
import Settings
import Testing
@testable import modeld
@testable import Upstream

/// The parts of the upstream engine that need no server: what is sent, what is read back, how failures
/// are told to batchd, where the key comes from.
@Suite("modeld's upstream engine, offline")
struct UpstreamEngineTests {
    @Test("a chat Generate becomes a chat body; a raw prompt a completions body; defaults are left out")
    func bodies() throws {
        // The body as the upstream reads it: its JSON, parsed.
        func object(_ members: [(String, UpstreamJSONValue)]) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: try UpstreamRequestBody(members: members).json) as? [String: Any])
        }
        var parameters = GenerationProtocol.Parameters(maxTokens: 32, temperature: 0)
        let chat = try object(UpstreamEngine.body(GenerationProtocol.Generate(
            requestID: "r", model: "m", messages: [GenerationProtocol.Message(role: "user", content: "hi")],
            parameters: parameters)))
        #expect((chat["messages"] as? [[String: String]]) == [["role": "user", "content": "hi"]])
        #expect(chat["prompt"] == nil)
        #expect(chat["max_tokens"] as? Int == 32)
        #expect(chat["temperature"] as? Double == 0)
        #expect(chat["top_k"] == nil && chat["seed"] == nil && chat["stop"] == nil && chat["frequency_penalty"] == nil)
        parameters.topK = 40
        parameters.seed = 7
        parameters.stop = ["\n"]
        parameters.presencePenalty = 0.5
        let raw = try object(UpstreamEngine.body(GenerationProtocol.Generate(requestID: "r", model: "m", prompt: "Once", parameters: parameters)))
        #expect(raw["prompt"] as? String == "Once")
        #expect(raw["messages"] == nil)
        #expect(raw["top_k"] as? Int == 40)
        #expect((raw["seed"] as? NSNumber)?.int64Value == 7)
        #expect(raw["stop"] as? [String] == ["\n"])
        #expect(raw["presence_penalty"] as? Double == 0.5)
    }

    @Test("a streamed piece is read from a chat delta or a completion's text, with its finish reason")
    func pieces() {
        #expect(UpstreamEngine.piece(["choices": [["delta": ["content": "Pa"], "finish_reason": NSNull()]]]) == ("Pa", nil))
        #expect(UpstreamEngine.piece(["choices": [["text": "ris", "finish_reason": "stop"]]]) == ("ris", "stop"))
        #expect(UpstreamEngine.piece(["choices": []]) == ("", nil))
        #expect(UpstreamEngine.piece(["usage": ["prompt_tokens": 3]]) == ("", nil))
    }

    @Test("upstream failures become the service codes frontd maps: 400 stays, 429 keeps Retry-After, 5xx 502, slow 504")
    func serviceErrors() {
        let route = "POST /v1/chat/completions"
        #expect(UpstreamEngine.serviceError(UpstreamError(.http, route: route, upstreamStatus: 400)).0 == ServiceErrorCode.invalidRequest)
        let limited = UpstreamEngine.serviceError(UpstreamError(.http, route: route, upstreamStatus: 429, retryAfterSeconds: 7))
        #expect(limited.0 == ServiceErrorCode.upstreamRateLimited)
        #expect(RetryAfterMessage.parse(limited.1).seconds == 7)
        #expect(UpstreamEngine.serviceError(UpstreamError(.http, route: route, upstreamStatus: 500)).0 == ServiceErrorCode.upstreamFailed)
        #expect(UpstreamEngine.serviceError(UpstreamError(.http, route: route, upstreamStatus: 401)).0 == ServiceErrorCode.upstreamFailed)
        #expect(UpstreamEngine.serviceError(UpstreamError(.timeout, route: route, timeoutPhase: .firstByte)).0 == ServiceErrorCode.upstreamTimeout)
        #expect(UpstreamEngine.serviceError(UpstreamError(.connectRefused, route: route)).0 == ServiceErrorCode.backendUnavailable)
    }

    @Test("a context-length refusal is told from other 400s by the upstream's code or words, whichever server wrote it")
    func contextRefusals() {
        let route = "POST /v1/chat/completions"
        func code(_ status: Int, code: String? = nil, _ message: String? = nil) -> UInt16 {
            UpstreamEngine.serviceError(UpstreamError(.http, route: route, upstreamStatus: status, upstreamMessage: message,
                                                      upstreamCode: code)).0
        }
        let exceeded = ServiceErrorCode.contextLengthExceeded
        #expect(code(400, code: "context_length_exceeded", "too long") == exceeded)
        #expect(code(400, code: "exceed_context_size_error") == exceeded)
        #expect(code(400, "the request exceeds the available context size, try increasing it") == exceeded)
        #expect(code(400, "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens") == exceeded)
        #expect(code(422, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: 2000") == exceeded)
        #expect(code(400, code: "invalid_request_error", "temperature must be at most 2") == ServiceErrorCode.invalidRequest)
        // The same words in a 5xx are the server's failure, not the prompt's.
        #expect(code(500, "maximum context length") == ServiceErrorCode.upstreamFailed)
    }

    @Test("the key comes from the named variable or file, and errors name where, never the key")
    func credentials() throws {
        let byEnv = Deployment(name: "d", model: "m", engine: .openai, url: URL(string: "http://x/v1"),
                               apiKeyEnvironmentVariable: "UPSTREAM_KEY")
        #expect(try UpstreamCredentials.apiKey(for: byEnv, environment: ["UPSTREAM_KEY": "sk-123"]) == "sk-123")
        #expect(throws: ConfigError.self) { try UpstreamCredentials.apiKey(for: byEnv, environment: [:]) }
        do {
            _ = try UpstreamCredentials.apiKey(for: byEnv, environment: ["UPSTREAM_KEY": "sk 123"])
            Issue.record("a key with a space was accepted")
        } catch {
            #expect(!error.description.contains("sk 123"))
            #expect(error.description.contains("UPSTREAM_KEY"))
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("infer-key-\(getpid())").path
        try "sk-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let byFile = Deployment(name: "d", model: "m", engine: .openai, url: URL(string: "http://x/v1"), apiKeyFile: file)
        #expect(try UpstreamCredentials.apiKey(for: byFile, environment: [:]) == "sk-file")
        let none = Deployment(name: "d", model: "m", engine: .openai, url: URL(string: "http://x/v1"))
        #expect(try UpstreamCredentials.apiKey(for: none, environment: [:]) == nil)
    }
}
