import Foundation
import Glibc
import IPC
import Metrics
import Registry
import Services
import Testing
import TestKit
@testable import batchd
@testable import modeld
@testable import Upstream

/// batchd routing one model across two upstream deployments (two modeld instances in front of two
/// scripted upstreams, real sockets and real HTTP), with a fallback model behind them.
@Suite("routing across upstream deployments", .serialized, .timeLimit(.minutes(3)))
struct UpstreamRoutingTests {
    /// The stack under test: scripted upstreams `cheap` and `dear` serve model `chat` through deployments
    /// `chat-cheap` (0.1/0.2 USD per 1M) and `chat-dear` (5/10); model `spare` (upstream `backup`) is
    /// chat's fallback.
    final class Stack: @unchecked Sendable {
        let cheap: ScriptedUpstream, dear: ScriptedUpstream, backup: ScriptedUpstream
        let directory: TemporaryDirectory
        var services: [ModelService] = []
        var fds: [Int32] = []
        var batchd: BatchService!
        var client: GenerationClient!
        let metrics = MetricsRegistry()

        init(breakerOpen: Duration = .seconds(1)) async throws {
            cheap = try await ScriptedUpstream.start()
            dear = try await ScriptedUpstream.start()
            backup = try await ScriptedUpstream.start()
            directory = try TemporaryDirectory()
            let deployments = [
                Deployment(name: "chat-cheap", model: "chat", engine: .openai, url: URL(string: cheap.baseURL),
                           priceInputPer1M: 0.1, priceOutputPer1M: 0.2),
                Deployment(name: "chat-dear", model: "chat", engine: .openai, url: URL(string: dear.baseURL),
                           priceInputPer1M: 5, priceOutputPer1M: 10),
                Deployment(name: "spare", model: "spare", engine: .openai, url: URL(string: backup.baseURL)),
            ]
            for deployment in deployments {
                let socket = directory.path + "/modeld-\(deployment.name).sock"
                let fd = try UnixSocket.listen(path: socket)
                let modeldMetrics = ModelMetrics(registry: .init(), model: deployment.name)
                let engine = try UpstreamEngine(deployment: deployment, apiKey: nil, timeouts: UpstreamTimeouts(),
                                                metrics: modeldMetrics, logger: quietLogger)
                services.append(try ModelService(name: deployment.name, servedModel: deployment.model,
                                                 model: .upstream(engine, .chat), options: ModelOptions(), listenFD: fd,
                                                 logger: quietLogger, metrics: modeldMetrics))
                fds.append(fd)
            }
            let registry = ModelRegistry(models: [
                ModelEntry(name: "chat", kind: .chat, deployments: Array(deployments.prefix(2)), routing: .cost, fallbacks: ["spare"]),
                ModelEntry(name: "spare", kind: .chat, deployments: [deployments[2]]),
            ])
            let router = BatchService.router(
                models: ["chat", "spare"], registry: registry, capacity: 8,
                breaker: CircuitBreaker(failureThreshold: 2, openDuration: breakerOpen.nanoseconds),
                socket: { [path = directory.path] in path + "/modeld-\($0).sock" })
            let batchSocket = directory.path + "/batchd.sock"
            let batchFD = try UnixSocket.listen(path: batchSocket)
            fds.append(batchFD)
            batchd = try BatchService(
                listenFD: batchFD, router: router, configuration: .init(maxBatch: 8, flushTimeout: .milliseconds(1), queueMax: 64),
                policy: RelayPolicy(retryMax: 2, defaultTimeout: .seconds(20), retryBackoff: .milliseconds(5)),
                logger: quietLogger, registry: metrics)
            client = GenerationClient(path: batchSocket, protocolName: ServiceName.batchd)
        }

        /// One chat request: who answered, the text, and the error if it failed.
        func ask(_ prompt: String = "hi") async -> (route: GenerationProtocol.Route?, text: String, error: (any Error)?) {
            var route: GenerationProtocol.Route?
            var text = ""
            do {
                let request = GenerationProtocol.Generate(requestID: "r", model: "chat", messages: [.init(role: "user", content: prompt)],
                                                          parameters: .init(maxTokens: 16, temperature: 0))
                for try await event in client.generate(request, timeout: .seconds(20)) {
                    switch event {
                    case .route(let r): route = r
                    case .chunk(let c): text += c.text
                    case .done: break
                    }
                }
                return (route, text, nil)
            } catch {
                return (route, text, error)
            }
        }

        func breaker(_ deployment: String) -> Double {
            metrics.value("infer_batchd_breaker_state", [MetricLabel("model", "chat"), MetricLabel("deployment", deployment)])
        }

        func close() async {
            client.client.close()
            await batchd.shutdown()
            for service in services { await service.shutdown() }
            for fd in fds { Glibc.close(fd) }
            for upstream in [cheap, dear, backup] { await upstream.stopAndWait() }
            directory.remove()
        }
    }

    @Test("cost: the cheaper deployment while healthy; the other while its breaker is open; back after a good probe")
    func costRoutingWithBreaker() async throws {
        let stack = try await Stack(breakerOpen: .seconds(1))
        for _ in 0..<3 {
            let answer = await stack.ask()
            #expect(answer.error == nil)
            #expect(answer.route?.deployment == "chat-cheap")
        }
        #expect(try await stack.dear.stats().requests == 0)
        // The cheap upstream breaks: each request fails over to the dear one before any output, so the
        // client sees no error; after two failures in a row the breaker opens and cheap is not asked.
        try await stack.cheap.setDefault(["behaviour": "error", "status": 500])
        for _ in 0..<4 {
            let answer = await stack.ask()
            #expect(answer.error == nil)
            #expect(answer.route?.deployment == "chat-dear")
        }
        #expect(try await stack.cheap.stats().requests == 5)
        #expect(stack.breaker("chat-cheap") == 1)
        // Healthy again: after the open period one probe goes to cheap, succeeds, and closes the breaker.
        try await stack.cheap.setDefault(["behaviour": "ok"])
        try await Task.sleep(for: .milliseconds(1100))
        let probe = await stack.ask()
        #expect(probe.route?.deployment == "chat-cheap")
        #expect(stack.breaker("chat-cheap") == 0)
        #expect(await stack.ask().route?.deployment == "chat-cheap")
        await stack.close()
    }

    @Test("a 429 with Retry-After opens the breaker at once for that long; the request goes elsewhere")
    func retryAfter() async throws {
        let stack = try await Stack(breakerOpen: .seconds(1))
        try await stack.cheap.enqueue([["behaviour": "error", "status": 429, "retry_after": 30]])
        let answer = await stack.ask()
        #expect(answer.error == nil)
        #expect(answer.route?.deployment == "chat-dear")
        #expect(stack.breaker("chat-cheap") == 1)
        try await Task.sleep(for: .milliseconds(1100))
        // Still open: Retry-After (30 s) outlasts the breaker's own second.
        #expect(await stack.ask().route?.deployment == "chat-dear")
        #expect(try await stack.cheap.stats().requests == 1)
        await stack.close()
    }

    @Test("when every deployment fails, the fallback model answers, and says so")
    func fallback() async throws {
        let stack = try await Stack()
        try await stack.cheap.setDefault(["behaviour": "error", "status": 502])
        try await stack.dear.setDefault(["behaviour": "error", "status": 503])
        let answer = await stack.ask()
        #expect(answer.error == nil)
        #expect(answer.route == GenerationProtocol.Route(deployment: "spare", model: "spare"))
        #expect(!answer.text.isEmpty)
        await stack.close()
    }

    @Test("a stream that already sent text is never retried: the client gets the text, then the failure")
    func noRetryAfterOutput() async throws {
        let stack = try await Stack()
        try await stack.cheap.enqueue([["behaviour": "cut", "chunks": 2]])
        let answer = await stack.ask()
        #expect(answer.route?.deployment == "chat-cheap")
        #expect(!answer.text.isEmpty)
        #expect(answer.error != nil)
        #expect(try await stack.dear.stats().requests == 0)
        #expect(try await stack.backup.stats().requests == 0)
        await stack.close()
    }
}
