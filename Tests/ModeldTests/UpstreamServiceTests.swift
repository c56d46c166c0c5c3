import Foundation
import Glibc
import IPC
import Registry
import Services
import Testing
import TestKit
@testable import modeld
@testable import Upstream

/// modeld serving an upstream deployment, over its real socket, in front of tests-python's scripted
/// upstream (a real HTTP server that misbehaves on command).
@Suite("modeld in front of an upstream", .serialized, .timeLimit(.minutes(2)))
struct UpstreamServiceTests {
    /// A modeld instance for deployment `chat-up` of model `chat`, in front of `upstream`.
    private func harness(_ upstream: ScriptedUpstream, kind: ModelKind = .chat) throws -> (ModelService, GenerationClient, Int32, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let socket = directory.file("modeld-chat-up.sock")
        let fd = try UnixSocket.listen(path: socket)
        let deployment = Deployment(name: "chat-up", model: "chat", engine: .openai, url: URL(string: upstream.baseURL),
                                    upstreamModel: "scripted", maxConcurrency: 4)
        let metrics = ModelMetrics(registry: .init(), model: "chat-up")
        let engine = try UpstreamEngine(deployment: deployment, apiKey: nil, timeouts: UpstreamTimeouts(),
                                        metrics: metrics, logger: quietLogger)
        let service = try ModelService(name: "chat-up", servedModel: "chat", model: .upstream(engine, kind),
                                       options: ModelOptions(), listenFD: fd, logger: quietLogger, metrics: metrics)
        return (service, GenerationClient(path: socket, protocolName: ServiceName.modeld), fd, directory)
    }

    private func generate(_ client: GenerationClient, model: String = "chat", stream: Bool = true) async throws
        -> (text: String, chunks: Int, done: GenerationProtocol.Done?) {
        let request = GenerationProtocol.Generate(
            requestID: "t1", model: model, messages: [.init(role: "user", content: "hi")],
            parameters: .init(maxTokens: 16, temperature: 0))
        var text = "", chunks = 0
        var done: GenerationProtocol.Done?
        for try await event in client.generate(request, timeout: .seconds(20)) {
            switch event {
            case .chunk(let chunk): text += chunk.text; chunks += 1
            case .done(let d): done = d
            case .route: break
            }
        }
        return (text, chunks, done)
    }

    @Test("a Generate is relayed piece by piece with the upstream's usage; the public model or the deployment may be named")
    func relaysStream() async throws {
        let upstream = try await ScriptedUpstream.start()
        let (service, client, fd, directory) = try harness(upstream)
        defer { client.client.close(); Glibc.close(fd); _ = directory }
        let answer = try await generate(client)
        #expect(answer.chunks == 4)
        #expect(!answer.text.isEmpty)
        let done = try #require(answer.done)
        #expect(done.completionTokens > 0)
        #expect(done.promptTokens > 0)
        #expect(done.finishReason == "stop")
        let body = try await upstream.lastRequestBody()
        #expect(body["model"] as? String == "scripted")
        #expect(body["stream"] as? Bool == true)
        #expect((body["messages"] as? [[String: Any]])?.first?["content"] as? String == "hi")
        _ = try await generate(client, model: "chat-up")
        // modeld counts a request once its END is written: the client may read DONE a moment before.
        #expect(await eventually { service.metrics.value("infer_modeld_requests_total", outcome: .ok) == 2 })
        await service.shutdown()
        await upstream.stopAndWait()
    }

    @Test("upstream failures come back as service codes: 500 → upstreamFailed, 429 → upstreamRateLimited with Retry-After, 400 → invalidRequest")
    func failures() async throws {
        let upstream = try await ScriptedUpstream.start()
        let (service, client, fd, directory) = try harness(upstream)
        defer { client.client.close(); Glibc.close(fd); _ = directory }
        for (script, code) in [
            (["behaviour": "error", "status": 500] as [String: any Sendable], ServiceErrorCode.upstreamFailed),
            (["behaviour": "error", "status": 429, "retry_after": 7], ServiceErrorCode.upstreamRateLimited),
            (["behaviour": "error", "status": 400, "message": "bad things"], ServiceErrorCode.invalidRequest),
        ] {
            try await upstream.enqueue([script])
            do {
                _ = try await generate(client)
                Issue.record("\(script) was answered")
            } catch IPCError.remote(let got, let message) {
                #expect(got == code, "\(script): \(message)")
                if code == ServiceErrorCode.upstreamRateLimited { #expect(RetryAfterMessage.parse(message).seconds == 7) }
                #expect(!message.contains("127.0.0.1"))
            }
        }
        await service.shutdown()
        await upstream.stopAndWait()
    }

    /// What llama-cpp-python (OpenAI's shape), llama.cpp's server and vLLM answer a prompt too long for
    /// their context: each must become `contextLengthExceeded`, so batchd tries the fallbacks.
    static let contextRefusals: [[String: any Sendable]] = [
        ["behaviour": "error", "status": 400, "code": "context_length_exceeded", "type": "invalid_request_error",
         "message": "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens"],
        ["behaviour": "error", "status": 400, "type": "exceed_context_size_error",
         "message": "the request exceeds the available context size, try increasing it"],
        ["behaviour": "error", "status": 400, "type": "BadRequestError",
         "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4990 in the messages, 10 in the completion)."],
    ]

    @Test("an upstream's context-length refusal (OpenAI code, llama.cpp's, vLLM's words) becomes contextLengthExceeded",
          arguments: 0..<3)
    func contextRefusal(_ index: Int) async throws {
        let upstream = try await ScriptedUpstream.start()
        let (service, client, fd, directory) = try harness(upstream)
        defer { client.client.close(); Glibc.close(fd); _ = directory }
        try await upstream.enqueue([Self.contextRefusals[index]])
        do {
            _ = try await generate(client)
            Issue.record("the refusal was answered")
        } catch IPCError.remote(let code, let message) {
            #expect(code == ServiceErrorCode.contextLengthExceeded, "\(message)")
            #expect(!message.contains("127.0.0.1"))
        }
        // Any other 400 is still the client's own fault.
        try await upstream.enqueue([["behaviour": "error", "status": 400, "message": "temperature is out of range"]])
        await #expect { try await generate(client) } throws: { error in
            if case IPCError.remote(let code, _) = error { return code == ServiceErrorCode.invalidRequest }
            return false
        }
        await service.shutdown()
        await upstream.stopAndWait()
    }

    @Test("a health probe asks the upstream's model list, no tokens: ready, not ready with the reason, a 429's Retry-After, a hang before the caller's deadline")
    func health() async throws {
        let upstream = try await ScriptedUpstream.start()
        let (service, client, fd, directory) = try harness(upstream)
        defer { client.client.close(); Glibc.close(fd); _ = directory }
        #expect(try await client.health(timeout: .seconds(5)) == GenerationProtocol.HealthReply(ready: true))
        try await upstream.setModels(["behaviour": "error", "status": 500])
        let failed = try await client.health(timeout: .seconds(5))
        #expect(!failed.ready && failed.reason.contains("500") && failed.retryAfterSeconds == 0, "\(failed)")
        try await upstream.setModels(["behaviour": "error", "status": 429, "retry_after": 9])
        #expect(try await client.health(timeout: .seconds(5)).retryAfterSeconds == 9)
        // A hanging upstream: modeld answers "not ready" just before the caller would give up.
        try await upstream.setModels(["behaviour": "hang"])
        let hung = try await client.health(timeout: .seconds(2))
        #expect(!hung.ready && hung.reason.contains("in time"), "\(hung)")
        let stats = try await upstream.stats()
        #expect(stats.probes == 4)
        #expect(stats.requests == stats.probes, "a probe sends nothing but GET /v1/models")
        await service.shutdown()
        await upstream.stopAndWait()
    }

    @Test("a caller that cancels closes the upstream request")
    func cancellation() async throws {
        let upstream = try await ScriptedUpstream.start()
        let (service, client, fd, directory) = try harness(upstream)
        defer { client.client.close(); Glibc.close(fd); _ = directory }
        try await upstream.enqueue([["behaviour": "stall", "chunks": 1]])
        let task = Task { try await generate(client) }
        _ = try await upstream.waitForStats { $0.active == 1 }
        task.cancel()
        let stats = try await upstream.waitForStats { $0.disconnects >= 1 }
        #expect(stats.disconnects >= 1)
        await service.shutdown()
        await upstream.stopAndWait()
    }

    @Test("an Embed goes to /embeddings and comes back one vector per input, in order")
    func embeddings() async throws {
        let upstream = try await ScriptedUpstream.start()
        let (service, client, fd, directory) = try harness(upstream, kind: .embedding)
        defer { client.client.close(); Glibc.close(fd); _ = directory }
        let reply = try await client.embed(GenerationProtocol.Embed(requestID: "e1", model: "chat", inputs: ["a", "b c"]),
                                           timeout: .seconds(10))
        #expect(reply.vectors.count == 2)
        #expect(reply.vectors.allSatisfy { $0.count == 8 })
        await service.shutdown()
        await upstream.stopAndWait()
    }
}
