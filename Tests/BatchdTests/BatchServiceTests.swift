import Foundation
import Glibc
import IPC
import Testing
import TestKit

@testable import batchd
import Metrics
import Services
import Registry
import Wire

/// A model backend whose behaviour each test scripts, attempt by attempt.
final class StandInBackend: ModelBackend {
    typealias Script = @Sendable (_ attempt: Int, _ out: AsyncThrowingStream<[UInt8], any Error>.Continuation) async -> Void

    let script: Script
    let embedScript: @Sendable (_ payload: [UInt8]) async throws -> [UInt8]
    /// Generations started (each retry is one more).
    let attempts = Counter()
    /// Streams the consumer dropped or cancelled before they finished: a CANCEL modeld would get.
    let cancelledStreams = Counter()

    init(
        embed: @escaping @Sendable ([UInt8]) async throws -> [UInt8] = { _ in throw IPCError.unavailable("no embeddings") },
        script: @escaping Script
    ) {
        self.script = script
        embedScript = embed
    }

    func generate(_ payload: [UInt8], timeout: Duration) -> AsyncThrowingStream<[UInt8], any Error> {
        let attempt = attempts.increment()
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: [UInt8].self, throwing: (any Error).self)
        let task = Task { await script(attempt, continuation) }
        continuation.onTermination = { [cancelledStreams] termination in
            if case .cancelled = termination { cancelledStreams.increment() }
            task.cancel()
        }
        return stream
    }

    func embed(_ payload: [UInt8], timeout: Duration) async throws -> [UInt8] {
        try await embedScript(payload)
    }

    /// Answers health probes as a modeld older than them does, so probes move no stand-in's breaker.
    func health(timeout: Duration) async throws -> GenerationProtocol.HealthReply {
        throw IPCError.remote(code: IPCErrorCode.unknownType, message: "modeld does not know message type 3")
    }

    func close() {}
}

/// batchd on a real socket in a temporary directory, with stand-in backends.
struct BatchdHarness {
    let directory: TemporaryDirectory
    let listenFD: Int32
    let service: BatchService
    let client: GenerationClient
    var registry: MetricsRegistry { service.handler.metrics.registry }

    init(backends: [String: any ModelBackend], maxBatch: Int = 8, flush: Duration = .milliseconds(5),
         queueMax: Int = 256, maxInFlight: Int? = nil, retryMax: Int = 2) throws {
        directory = try TemporaryDirectory()
        listenFD = try UnixSocket.listen(path: directory.file("batchd.sock"))
        service = try BatchService(
            listenFD: listenFD, backends: backends,
            configuration: .init(maxBatch: maxBatch, flushTimeout: flush, queueMax: queueMax, maxInFlight: maxInFlight),
            policy: RelayPolicy(retryMax: retryMax, defaultTimeout: .seconds(30), retryBackoff: .milliseconds(5)),
            logger: quietLogger)
        client = GenerationClient(path: directory.file("batchd.sock"), protocolName: ServiceName.batchd)
    }

    func close() async {
        client.client.close()
        await service.shutdown()
        Glibc.close(listenFD)
        directory.remove()
    }

    func generate(_ prompt: String = "hi", model: String = "m", priority: UInt8 = 0, timeout: Duration = .seconds(10))
        -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        client.generate(
            GenerationProtocol.Generate(requestID: "req-\(prompt)", model: model, prompt: prompt,
                                        parameters: .init(maxTokens: 8, temperature: 0), priority: priority),
            timeout: timeout)
    }

    func outcome(_ outcome: BatchMetrics.Outcome, model: String = "m") -> Double {
        service.handler.metrics.value("infer_batchd_requests_total", model: model, outcome: outcome)
    }
}

/// batchd's relay over a real socket, with a stand-in for modeld: streaming, retries, cancellation,
/// refusals.
@Suite("BatchService") struct BatchServiceTests {
    static let hello: StandInBackend.Script = { _, out in
        out.yield(Frames.chunk("Hel", 1))
        out.yield(Frames.chunk("lo", 2))
        out.yield(Frames.done(completion: 2))
        out.finish()
    }

    @Test func relaysChunksAndDoneInOrder() async throws {
        let backend = StandInBackend(script: Self.hello)
        let harness = try BatchdHarness(backends: ["m": backend])
        let result = try await withTimeout(.seconds(10)) { try await collect(harness.generate()) }
        #expect(result.text == "Hello")
        #expect(result.chunks == 2)
        #expect(result.done?.completionTokens == 2)
        #expect(harness.outcome(.ok) == 1)
        #expect(await eventually { harness.service.handler.scheduler.load(of: "m") == (0, 0) })
        await harness.close()
    }

    @Test func sendsRequestsAtOnceWhileTheModelHasRoom() async throws {
        let backend = StandInBackend(script: Self.hello)
        let harness = try BatchdHarness(backends: ["m": backend], maxBatch: 4, flush: .seconds(20))
        let started = ContinuousClock.now
        try await withTimeout(.seconds(10)) {
            try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<3 { group.addTask { try await collect(harness.generate("p\(i)")).text } }
                for try await text in group { #expect(text == "Hello") }
            }
        }
        // Fewer than maxBatch run, so none waits for the 20 s flush timeout (the scheduler's tests cover
        // how batches form once the model is busy).
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(observations(in: harness.registry, "infer_batchd_batch_size", above: 4) == 0)
        #expect(observationCount(in: harness.registry, "infer_batchd_batch_size") >= 1)
        await harness.close()
    }

    @Test func retriesALostConnectionBeforeAnyOutput() async throws {
        let backend = StandInBackend { attempt, out in
            if attempt == 1 { return out.finish(throwing: IPCError.connectionLost) }
            await Self.hello(attempt, out)
        }
        let harness = try BatchdHarness(backends: ["m": backend])
        let result = try await withTimeout(.seconds(10)) { try await collect(harness.generate()) }
        #expect(result.text == "Hello")
        #expect(backend.attempts.current == 2)
        #expect(harness.registry.value("infer_batchd_retries_total", [MetricLabel("model", "m")]) == 1)
        await harness.close()
    }

    @Test func retriesAnUnreachableModelWithinTheDeadline() async throws {
        let backend = StandInBackend { attempt, out in
            if attempt < 4 { return out.finish(throwing: IPCError.unavailable("connect: No such file or directory")) }
            await Self.hello(attempt, out)
        }
        // Never sent, so retried beyond BATCH_RETRY_MAX while time is left.
        let harness = try BatchdHarness(backends: ["m": backend], retryMax: 1)
        let result = try await withTimeout(.seconds(10)) { try await collect(harness.generate()) }
        #expect(result.text == "Hello")
        #expect(backend.attempts.current == 4)
        await harness.close()
    }

    @Test func failsInsteadOfRepeatingOutput() async throws {
        let backend = StandInBackend { _, out in
            out.yield(Frames.chunk("partial", 1))
            try? await Task.sleep(for: .milliseconds(20))
            out.finish(throwing: IPCError.connectionLost)
        }
        let harness = try BatchdHarness(backends: ["m": backend])
        let (text, code) = try await withTimeout(.seconds(10)) {
            var text = ""
            do {
                for try await event in harness.generate() {
                    if case .chunk(let chunk) = event { text += chunk.text }
                }
                return (text, UInt16?.none)
            } catch {
                return (text, remoteError(error)?.code)
            }
        }
        #expect(text == "partial")
        #expect(code == ServiceErrorCode.generationInterrupted)
        #expect(backend.attempts.current == 1)
        #expect(harness.outcome(.failed) == 1)
        await harness.close()
    }

    @Test func givesUpAfterTheRetryLimit() async throws {
        let backend = StandInBackend { _, out in out.finish(throwing: IPCError.connectionLost) }
        let harness = try BatchdHarness(backends: ["m": backend], retryMax: 2)
        let error = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(10)) { try await collect(harness.generate()) }
        }
        #expect(remoteError(error)?.code == ServiceErrorCode.backendUnavailable)
        #expect(backend.attempts.current == 3)
        await harness.close()
    }

    @Test func passesTheModelsRefusalsThrough() async throws {
        let backend = StandInBackend { _, out in
            out.finish(throwing: IPCError.remote(code: ServiceErrorCode.invalidParameter, message: "temperature must be between 0 and 2"))
        }
        let harness = try BatchdHarness(backends: ["m": backend])
        let error = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(10)) { try await collect(harness.generate()) }
        }
        #expect(error == .remote(code: ServiceErrorCode.invalidParameter, message: "temperature must be between 0 and 2"))
        #expect(backend.attempts.current == 1)
        await harness.close()
    }

    @Test func cancellingTheCallerCancelsTheModelStream() async throws {
        let backend = StandInBackend { _, out in
            var n: UInt32 = 0
            while !Task.isCancelled {
                n += 1
                out.yield(Frames.chunk("tok\(n) ", n))
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        let harness = try BatchdHarness(backends: ["m": backend])
        let seen = try await withTimeout(.seconds(10)) {
            var seen = 0
            for try await _ in harness.generate() {
                seen += 1
                if seen == 3 { break }
            }
            return seen
        }
        #expect(seen == 3)
        #expect(await eventually { backend.cancelledStreams.current == 1 })
        #expect(await eventually { harness.outcome(.cancelled) == 1 })
        #expect(await eventually { harness.service.handler.scheduler.load(of: "m") == (0, 0) })
        await harness.close()
    }

    @Test func refusesAtOnceWhenTheQueueIsFull() async throws {
        let backend = StandInBackend { _, _ in try? await Task.sleep(for: .seconds(30)) }
        let harness = try BatchdHarness(backends: ["m": backend], maxBatch: 1, flush: .zero, queueMax: 1, maxInFlight: 1)
        let running = Task { try await collect(harness.generate("a")) }
        #expect(await eventually { harness.service.handler.scheduler.load(of: "m") == (0, 1) })
        let queued = Task { try await collect(harness.generate("b")) }
        #expect(await eventually { harness.service.handler.scheduler.load(of: "m") == (1, 1) })
        let error = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(5)) { try await collect(harness.generate("c")) }
        }
        #expect(remoteError(error)?.code == ServiceErrorCode.queueFull)
        #expect(harness.outcome(.queueFull) == 1)
        running.cancel()
        queued.cancel()
        // The queued one leaves the queue; the running one's stream is cancelled.
        #expect(await eventually { harness.service.handler.scheduler.load(of: "m") == (0, 0) })
        #expect(await eventually { harness.outcome(.cancelled) == 2 })
        await harness.close()
    }

    @Test func refusesAnUnknownModel() async throws {
        let harness = try BatchdHarness(backends: ["m": StandInBackend(script: Self.hello)])
        let error = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(5)) { try await collect(harness.generate(model: "gpt-9")) }
        }
        #expect(remoteError(error)?.code == ServiceErrorCode.unknownModel)
        #expect(harness.outcome(.failed, model: BatchMetrics.unknownModelLabel) == 1)
        #expect(harness.outcome(.failed, model: "gpt-9") == 0)
        await harness.close()
    }

    @Test func forwardsEmbeddings() async throws {
        let reply = GenerationProtocol.EmbedReply(vectors: [[1, 0], [0, 1]], promptTokens: 7)
        let backend = StandInBackend(embed: { payload in
            let request = try GenerationProtocol.Embed(decoding: payload)
            #expect(request.inputs == ["a", "b"])
            return reply.encoded()
        }, script: Self.hello)
        let harness = try BatchdHarness(backends: ["e": backend])
        let answer = try await withTimeout(.seconds(5)) {
            try await harness.client.embed(GenerationProtocol.Embed(requestID: "r", model: "e", inputs: ["a", "b"]), timeout: .seconds(5))
        }
        #expect(answer.vectors == reply.vectors && answer.promptTokens == reply.promptTokens)
        #expect(answer.route == GenerationProtocol.Route(deployment: "e", model: "e"))
        #expect(harness.outcome(.ok, model: "e") == 1)
        await harness.close()
    }
}

/// Which models batchd routes when BATCH_MODELS is empty: every model of the registry (each deployment,
/// built-in or upstream, is a modeld instance).
@Suite("batchd routing") struct BatchRoutingTests {
    @Test func listedModelsWin() {
        let registry = ModelRegistry(models: [ModelEntry(name: "pocket", kind: .chat, engine: .builtin, path: "/m/p.gguf")])
        #expect(BatchService.routedModels(listed: ["a", "b"], registry: registry) == ["a", "b"])
    }

    @Test func everyRegistryModel() throws {
        let registry = ModelRegistry(models: [
            ModelEntry(name: "pocket", kind: .chat, engine: .builtin, path: "/m/p.gguf"),
            ModelEntry(name: "remote", kind: .chat, engine: .openai, url: URL(string: "http://127.0.0.1:9/v1")),
            ModelEntry(name: "pocket-embed", kind: .embedding, engine: .builtin, path: "/m/e"),
        ])
        #expect(BatchService.routedModels(listed: [], registry: registry) == ["pocket", "remote", "pocket-embed"])
    }

    @Test func defaultsWithoutARegistry() {
        #expect(BatchService.routedModels(listed: [], registry: nil) == ["smollm2", "minilm"])
    }
}
