import Foundation
import Testing
import TestKit

@testable import Upstream

/// A client for `server` with short, test-sized timeouts unless given others.
func makeClient(
    _ server: ScriptedUpstream, apiKey: String? = nil, timeouts: UpstreamTimeouts? = nil, limit: Int = 8,
    model: String = "upstream-model"
) throws -> UpstreamClient {
    let endpoint = try UpstreamEndpoint(
        baseURL: server.baseURL, model: model, apiKey: try apiKey.map { try UpstreamAPIKey($0) },
        timeouts: timeouts ?? UpstreamTimeouts(connect: .seconds(5), firstByte: .seconds(20), total: .seconds(30)),
        maxConcurrentRequests: limit)
    return try UpstreamClient(endpoint: endpoint)
}

/// A chat request body carrying a script for the scripted upstream.
func chatBody(_ script: [String: Any]? = nil, stream: Bool = false) throws(UpstreamError) -> UpstreamRequestBody {
    var object: [String: Any] = ["model": "public-name", "messages": [["role": "user", "content": "hello"]],
                                 "max_tokens": 8]
    if let script { object["x_script"] = script }
    if stream { object["stream"] = true }
    return try UpstreamRequestBody(object)
}

/// Runs `body` expecting an ``UpstreamError`` and returns it (nil, with an issue recorded, otherwise).
func expectUpstreamError<T>(
    _ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation
) async -> UpstreamError? {
    do {
        _ = try await body()
        Issue.record("expected an UpstreamError, got success", sourceLocation: sourceLocation)
    } catch let error as UpstreamError {
        return error
    } catch {
        Issue.record("expected an UpstreamError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite("UpstreamClient against the scripted upstream: answers, errors, classification")
struct UpstreamClientTests {
    @Test("a chat completion comes back with its usage; the model is rewritten; the key is sent as Bearer")
    func chatWithUsage() async throws {
        let server = try await ScriptedUpstream.start(["--api-key", "sk-test-key-123"])
        let client = try makeClient(server, apiKey: "sk-test-key-123")
        let response = try await client.chatCompletion(try chatBody())
        #expect(response.status == 200)
        #expect(response.usage == UpstreamUsage(promptTokens: 5, completionTokens: 4, totalTokens: 9))
        let json = try response.json()
        #expect(json["model"] as? String == "upstream-model")
        #expect(((json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
                == "tok0 tok1 tok2 tok3 ")
        let sent = try await server.lastRequestBody()
        #expect(sent["model"] as? String == "upstream-model")
        #expect(sent["stream"] == nil)
    }

    @Test("completions, embeddings and the model list")
    func otherRoutes() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let completion = try await client.completion(try UpstreamRequestBody(["model": "x", "prompt": "hi"]))
        #expect(completion.usage?.completionTokens == 4)
        let embeddings = try await client.embeddings(try UpstreamRequestBody(["model": "x", "input": ["a b", "c"]]))
        #expect(embeddings.usage == UpstreamUsage(promptTokens: 3, completionTokens: 0, totalTokens: 3))
        #expect((try embeddings.json()["data"] as? [Any])?.count == 2)
        let models = try await client.models()
        #expect(((try models.json()["data"] as? [[String: Any]])?.first?["id"] as? String) == "scripted")
    }

    @Test("a wrong key: 401 becomes 502 for the client; no message holds the key, the host or the port")
    func wrongKey() async throws {
        let server = try await ScriptedUpstream.start(["--api-key", "the-right-key"])
        let client = try makeClient(server, apiKey: "sk-wrong-key-456")
        let error = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody()) })
        #expect(error.kind == .http)
        #expect(error.upstreamStatus == 401)
        #expect(error.clientStatus == 502)
        #expect(!error.isRetryable)
        for text in [error.clientMessage, error.logMessage, error.description, String(reflecting: error)] {
            #expect(!text.contains("sk-wrong-key-456"))
            #expect(!text.contains("127.0.0.1"))
            #expect(!text.contains("\(server.port)"))
        }
    }

    @Test("500 is retryable and answers 502; 503 answers 503")
    func serverErrors() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let error500 = try #require(await expectUpstreamError {
            try await client.chatCompletion(try chatBody(["behaviour": "error", "status": 500, "message": "engine died"]))
        })
        #expect(error500.kind == .http && error500.upstreamStatus == 500)
        #expect(error500.isRetryable)
        #expect(error500.clientStatus == 502)
        #expect(error500.upstreamMessage == "engine died")
        let error503 = try #require(await expectUpstreamError {
            try await client.chatCompletion(try chatBody(["behaviour": "error", "status": 503]))
        })
        #expect(error503.clientStatus == 503)
    }

    @Test("429 keeps Retry-After: 7 and is retryable, non-streaming and streaming alike")
    func rateLimited() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let script: [String: Any] = ["behaviour": "error", "status": 429, "retry_after": 7]
        let plain = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody(script)) })
        let streamed = try #require(await expectUpstreamError {
            try await client.streamChatCompletion(try chatBody(script, stream: true))
        })
        for error in [plain, streamed] {
            #expect(error.kind == .http)
            #expect(error.upstreamStatus == 429)
            #expect(error.retryAfterSeconds == 7)
            #expect(error.clientStatus == 429)
            #expect(error.isRetryable)
            #expect(!error.afterOutput)
        }
    }

    @Test("a 400's message reaches the client without the addresses and URLs it named")
    func badRequestMessage() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let message = "context too long for 127.0.0.1:\(server.port), see http://127.0.0.1:\(server.port)/docs"
        let error = try #require(await expectUpstreamError {
            try await client.chatCompletion(try chatBody(["behaviour": "error", "status": 400, "message": message]))
        })
        #expect(error.clientStatus == 400)
        #expect(error.clientMessage.contains("context too long"))
        #expect(!error.clientMessage.contains("127.0.0.1"))
        #expect(!error.clientMessage.contains("http://"))
    }

    @Test("nothing listening: connection refused, retryable, 503, no address in any message")
    func refused() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        await server.stopAndWait()
        let error = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody()) })
        #expect(error.kind == .connectRefused, "\(error)")
        #expect(error.isRetryable)
        #expect(error.clientStatus == 503)
        for text in [error.clientMessage, error.logMessage] {
            #expect(!text.contains("127.0.0.1") && !text.contains("\(server.port)"), "\(text)")
        }
    }

    @Test("a connection closed without an answer is a reset, retryable")
    func closedWithoutAnswer() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let error = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody(["behaviour": "close"])) })
        #expect(error.kind == .connectionReset, "\(error)")
        #expect(error.isRetryable)
    }

    @Test("a 200 whose body is not JSON fails when read as JSON")
    func garbage() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let response = try await client.chatCompletion(try chatBody(["behaviour": "garbage"]))
        #expect(response.usage == nil)
        #expect(throws: UpstreamError.self) { _ = try response.json() }
    }

    @Test("sequential requests reuse one kept-alive connection")
    func keepAlive() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        for _ in 0..<5 { _ = try await client.chatCompletion(try chatBody()) }
        let stats = try await server.stats()
        #expect(stats.requests == 5)
        // One connection for the client's five requests, one for this stats call (its own session).
        #expect(stats.connections <= 2, "connections \(stats.connections)")
    }
}
