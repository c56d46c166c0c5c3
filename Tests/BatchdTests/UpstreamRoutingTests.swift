import Basics
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

        /// - Parameters:
        ///   - breakerOpen: CIRCUIT_BREAKER_TIMEOUT_SEC.
        ///   - probeInterval: CIRCUIT_BREAKER_PROBE_INTERVAL_SEC (nil: closed deployments are not probed).
        ///   - caps: `rpm` and `tpm` of `chat-cheap`, `chat-dear` and `spare`, by name.
        ///   - contextLength: `context_length` of the deployments, by name.
        ///   - retryBackoff: The first pause before a retry.
        init(breakerOpen: Duration = .seconds(1), probeInterval: Duration? = nil, caps: [String: (rpm: Int?, tpm: Int?)] = [:],
             contextLength: [String: Int] = [:], retryBackoff: Duration = .milliseconds(5)) async throws {
            cheap = try await ScriptedUpstream.start()
            dear = try await ScriptedUpstream.start()
            backup = try await ScriptedUpstream.start()
            directory = try TemporaryDirectory()
            func deployment(_ name: String, _ model: String, _ upstream: ScriptedUpstream, prices: (Double, Double)) -> Deployment {
                Deployment(name: name, model: model, engine: .openai, url: URL(string: upstream.baseURL),
                           priceInputPer1M: prices.0, priceOutputPer1M: prices.1, requestsPerMinute: caps[name]?.rpm,
                           tokensPerMinute: caps[name]?.tpm, contextLength: contextLength[name])
            }
            let deployments = [
                deployment("chat-cheap", "chat", cheap, prices: (0.1, 0.2)),
                deployment("chat-dear", "chat", dear, prices: (5, 10)),
                deployment("spare", "spare", backup, prices: (0, 0)),
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
                policy: RelayPolicy(retryMax: 2, defaultTimeout: .seconds(20), retryBackoff: retryBackoff),
                probes: ProbePolicy(idleInterval: probeInterval, timeout: .seconds(2)), logger: quietLogger, registry: metrics)
            client = GenerationClient(path: batchSocket, protocolName: ServiceName.batchd)
        }

        /// One chat request: who answered, the text, and the error if it failed.
        func ask(_ prompt: String = "hi", timeout: Duration = .seconds(20)) async -> (route: GenerationProtocol.Route?, text: String, error: (any Error)?) {
            var route: GenerationProtocol.Route?
            var text = ""
            do {
                let request = GenerationProtocol.Generate(requestID: "r", model: "chat", messages: [.init(role: "user", content: prompt)],
                                                          parameters: .init(maxTokens: 16, temperature: 0))
                for try await event in client.generate(request, timeout: timeout) {
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

        func probes(_ deployment: String, _ result: BatchMetrics.ProbeResult) -> Double {
            metrics.value("infer_batchd_probes_total", [MetricLabel("model", "chat"), MetricLabel("deployment", deployment),
                                                        MetricLabel("result", result.rawValue)])
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
        #expect(try await stack.dear.stats().chats == 0)
        // The cheap upstream breaks: each request fails over to the dear one before any output, so the
        // client sees no error; after two failures in a row the breaker opens and cheap is not asked.
        try await stack.cheap.setDefault(["behaviour": "error", "status": 500])
        for _ in 0..<4 {
            let answer = await stack.ask()
            #expect(answer.error == nil)
            #expect(answer.route?.deployment == "chat-dear")
        }
        #expect(try await stack.cheap.stats().chats == 5)
        #expect(stack.breaker("chat-cheap") == 1)
        // Healthy again: after the open period a probe (batchd's health probe, or the next request) finds
        // cheap well and closes the breaker.
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
        #expect(try await stack.cheap.stats().chats == 1)
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
        #expect(try await stack.dear.stats().chats == 0)
        #expect(try await stack.backup.stats().chats == 0)
        await stack.close()
    }

    // MARK: Health probes

    @Test("a breaker opened by failures closes through health probes alone, with no client request, once the upstream recovers")
    func probesClose() async throws {
        let stack = try await Stack(breakerOpen: .seconds(1))
        // cheap is down: its chats and its model list fail.
        try await stack.cheap.setDefault(["behaviour": "error", "status": 500])
        try await stack.cheap.setModels(["behaviour": "error", "status": 500])
        for _ in 0..<2 { #expect(await stack.ask().route?.deployment == "chat-dear") }
        #expect(stack.breaker("chat-cheap") == 1)
        // After the open period a probe goes, fails, and opens the breaker again; no chat reached cheap.
        #expect(await eventually(.seconds(10)) { stack.probes("chat-cheap", .failed) >= 1 })
        #expect(stack.breaker("chat-cheap") == 1)
        // cheap recovers: the next probe closes the breaker, and still no client request went there.
        try await stack.cheap.setDefault(["behaviour": "ok"])
        try await stack.cheap.setModels(["behaviour": "ok"])
        #expect(await eventually(.seconds(10)) { stack.breaker("chat-cheap") == 0 })
        #expect(stack.probes("chat-cheap", .ok) >= 1)
        #expect(try await stack.cheap.stats().chats == 2)
        #expect(await stack.ask().route?.deployment == "chat-cheap")
        await stack.close()
    }

    @Test("an idle deployment whose model list fails opens through probes alone, then closes the same way")
    func probesOpen() async throws {
        let stack = try await Stack(breakerOpen: .seconds(1), probeInterval: .milliseconds(100))
        #expect(stack.breaker("chat-cheap") == 0)
        try await stack.cheap.setModels(["behaviour": "error", "status": 503])
        // Two failed probes in a row (the threshold) open it; no client request was needed or sent.
        #expect(await eventually(.seconds(10)) { stack.breaker("chat-cheap") == 1 })
        #expect(stack.probes("chat-cheap", .failed) >= 2)
        #expect(try await stack.cheap.stats().chats == 0)
        #expect(await stack.ask().route?.deployment == "chat-dear")
        try await stack.cheap.setModels(["behaviour": "ok"])
        #expect(await eventually(.seconds(10)) { stack.breaker("chat-cheap") == 0 })
        #expect(await stack.ask().route?.deployment == "chat-cheap")
        // dear stayed healthy throughout: probed while idle, never opened.
        #expect(stack.probes("chat-dear", .ok) >= 1)
        #expect(stack.breaker("chat-dear") == 0)
        await stack.close()
    }

    // MARK: Per-minute caps

    /// Waits, if need be, until the current one-minute window of the caps has at least `margin` left, so
    /// a test's requests all fall in one window.
    private func awayFromWindowEnd(_ margin: Duration = .seconds(10)) async throws {
        let left = MinuteUsage.window - MonotonicClock.nowSigned() % MinuteUsage.window
        if left < margin.nanoseconds { try await Task.sleep(for: .nanoseconds(left + 50_000_000)) }
    }

    @Test("rpm: a deployment at its cap for the minute is passed over; all capped, fallbacks; then 429 with Retry-After")
    func requestCaps() async throws {
        let stack = try await Stack(caps: ["chat-cheap": (1, nil), "chat-dear": (1, nil), "spare": (1, nil)])
        try await awayFromWindowEnd()
        #expect(await stack.ask().route?.deployment == "chat-cheap")
        #expect(await stack.ask().route?.deployment == "chat-dear")
        #expect(await stack.ask().route == GenerationProtocol.Route(deployment: "spare", model: "spare"))
        let capped = await stack.ask()
        guard case IPCError.remote(let code, let message)? = capped.error else {
            Issue.record("a fourth request was answered by \(String(describing: capped.route))")
            return await stack.close()
        }
        #expect(code == ServiceErrorCode.upstreamRateLimited, "\(message)")
        let seconds = try #require(RetryAfterMessage.parse(message).seconds)
        #expect((1...60).contains(seconds))
        // Caps are not failures: no breaker moved.
        #expect(stack.breaker("chat-cheap") == 0 && stack.breaker("chat-dear") == 0)
        #expect(try await stack.cheap.stats().chats == 1)
        await stack.close()
    }

    @Test("tpm counts the tokens used, settled after each request: 9 a request (5 + 4) against 40 caps cheap after 5")
    func tokenCaps() async throws {
        let stack = try await Stack(caps: ["chat-cheap": (nil, 40)])
        try await awayFromWindowEnd()
        var routes: [String] = []
        for _ in 0..<6 { routes.append(await stack.ask().route?.deployment ?? "none") }
        // Reserving max_tokens (16) for good would cap it after 3; the settled 9 each cap it after 5.
        #expect(routes == Array(repeating: "chat-cheap", count: 5) + ["chat-dear"])
        await stack.close()
    }

    @Test("tpm counts the estimate of requests in flight: three running (16 each) fill a cap of 40")
    func tokenCapsInFlight() async throws {
        let stack = try await Stack(caps: ["chat-cheap": (nil, 40)])
        try await awayFromWindowEnd()
        try await stack.cheap.setDefault(["behaviour": "ok", "gate": true])
        let running = (0..<3).map { _ in Task { await stack.ask() } }
        _ = try await stack.cheap.waitForStats { $0.active == 3 }
        #expect(await stack.ask().route?.deployment == "chat-dear")
        try await stack.cheap.openGate()
        for task in running { #expect(await task.value.route?.deployment == "chat-cheap") }
        await stack.close()
    }

    // MARK: Context length

    @Test("a prompt surely too long for a deployment's context_length skips it; one that may fit is sent")
    func contextPrecheck() async throws {
        let stack = try await Stack(contextLength: ["chat-cheap": 10, "chat-dear": 10])
        // 2 000 bytes are at least 8 tokens (256 bytes a token at most): it may fit, so cheap takes it.
        #expect(await stack.ask(String(repeating: "a", count: 2000)).route?.deployment == "chat-cheap")
        // 3 000 bytes are at least 12 tokens: no deployment of chat can hold it; the fallback answers.
        let long = await stack.ask(String(repeating: "a", count: 3000))
        #expect(long.route == GenerationProtocol.Route(deployment: "spare", model: "spare"))
        #expect(try await stack.cheap.stats().chats == 1)
        #expect(try await stack.dear.stats().chats == 0)
        await stack.close()
    }

    @Test("an upstream's context-length refusal sends the request to the fallbacks, not to the model's other deployment")
    func contextRefusal() async throws {
        let stack = try await Stack()
        try await stack.cheap.enqueue([["behaviour": "error", "status": 400, "type": "exceed_context_size_error",
                                        "message": "the request exceeds the available context size, try increasing it"]])
        let answer = await stack.ask()
        #expect(answer.error == nil)
        #expect(answer.route == GenerationProtocol.Route(deployment: "spare", model: "spare"))
        #expect(try await stack.dear.stats().chats == 0)
        // Not a sign of ill health: the breaker did not count it.
        try await stack.cheap.setDefault(["behaviour": "error", "status": 500])
        _ = await stack.ask()
        #expect(stack.breaker("chat-cheap") == 0, "one failure after the refusal must not reach the threshold of 2")
        await stack.close()
    }

    // MARK: Retries

    @Test("a retry whose backoff would outlast the deadline is not made: the caller gets the failure at once")
    func retryInsideDeadline() async throws {
        // The first pause is 2.5 to 5 s; the request has 2 s.
        let stack = try await Stack(retryBackoff: .seconds(5))
        try await stack.cheap.enqueue([["behaviour": "error", "status": 500]])
        let answer = await stack.ask(timeout: .seconds(2))
        guard case IPCError.remote(let code, _)? = answer.error else {
            Issue.record("answered by \(String(describing: answer.route)) after a retry that could not fit")
            return await stack.close()
        }
        // cheap's own failure, not the deadline's: no retry was attempted that could not end in time.
        #expect(code == ServiceErrorCode.upstreamFailed)
        #expect(try await stack.dear.stats().chats == 0)
        await stack.close()
    }
}
