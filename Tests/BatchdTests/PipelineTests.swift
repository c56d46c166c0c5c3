import Engine
import Foundation
import Glibc
import IPC
import Testing
import TestKit
import TestModels

@testable import batchd
@testable import modeld
import Services

/// SmolLM2, loaded once for every pipeline test.
enum SmolLM2 {
    static let shared: Result<ChatModel, any Error> = Result { try ChatModel(path: try ModelPaths.smollm2()) }
    static func get() throws -> ChatModel { try shared.get() }

    /// What the engine generates for a prompt alone (greedy), the reference for served outputs.
    static func solo(_ prompt: String, maxTokens: Int) throws -> String {
        let chat = try get()
        let decoder = BatchDecoder(model: chat.model, tokenizer: chat.tokenizer, maxBatch: 1)
        try decoder.add(id: 0, prompt: chat.promptTokens(messages: [], prompt: prompt), parameters: .greedy(maxTokens: maxTokens))
        var text = ""
        while !decoder.isEmpty {
            for event in try decoder.step() { text += event.text }
        }
        return text
    }
}

/// An embedding model stand-in (the BERT embedder is not in this build): a vector from the text.
struct TextEmbedder: Embedder {
    static func vector(_ text: String) -> [Float] { [Float(text.count), Float(text.utf8.last ?? 0), -1] }
    func embed(_ texts: [String]) throws -> [[Float]] { texts.map(Self.vector) }
    func tokenCount(_ text: String) -> Int { text.utf8.count }
}

/// A real modeld (SmolLM2, and a stand-in embedding model) behind a real batchd, each on its Unix socket
/// in one temporary directory, as `$INFER_RUNTIME_DIR` would hold them.
final class Pipeline: Sendable {
    let directory: TemporaryDirectory
    let modeldFDs: [Int32]
    let chat: ModelService
    let embedding: ModelService
    let batchd: BatchdHarness

    init(maxBatch: Int = 8, flush: Duration = .milliseconds(20)) throws {
        let directory = try TemporaryDirectory()
        self.directory = directory
        let chatFD = try UnixSocket.listen(path: directory.file("modeld-smollm2.sock"))
        let embeddingFD = try UnixSocket.listen(path: directory.file("modeld-minilm.sock"))
        modeldFDs = [chatFD, embeddingFD]
        chat = try ModelService(name: "smollm2", model: .chat(try SmolLM2.get()), options: ModelOptions(), listenFD: chatFD, logger: quietLogger)
        embedding = try ModelService(name: "minilm", model: .embedding(TextEmbedder()), options: ModelOptions(), listenFD: embeddingFD, logger: quietLogger)
        batchd = try BatchdHarness(
            backends: [
                "smollm2": ModeldBackend(path: directory.file("modeld-smollm2.sock")),
                "minilm": ModeldBackend(path: directory.file("modeld-minilm.sock")),
            ],
            maxBatch: maxBatch, flush: flush)
    }

    func close() async {
        await batchd.close()
        await chat.shutdown()
        await embedding.shutdown()
        for fd in modeldFDs { Glibc.close(fd) }
        directory.remove()
    }

    func generate(_ prompt: String, maxTokens: UInt32, model: String = "smollm2") -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        batchd.client.generate(
            GenerationProtocol.Generate(requestID: "p-\(prompt.prefix(8))", model: model, prompt: prompt,
                                        parameters: .init(maxTokens: maxTokens, temperature: 0)),
            timeout: .seconds(120))
    }

    func modeldValue(_ name: String) -> Double { chat.metrics.value(name) }
}

/// The whole path batchd → modeld over real sockets with SmolLM2.
@Suite("Pipeline: batchd → modeld (SmolLM2)", .serialized) struct PipelineTests {
    static let prompts = [
        "The capital of France is", "Once upon a time", "def fibonacci(n):", "The three primary colors are",
        "Water boils at", "My favourite fruit is", "In 1492, Columbus", "The quick brown fox",
    ]

    @Test func streamEqualsTheEnginesGreedyOutput() async throws {
        let pipeline = try Pipeline()
        let reference = try SmolLM2.solo("The capital of France is", maxTokens: 12)
        let result = try await withTimeout(.seconds(60)) {
            try await collect(pipeline.generate("The capital of France is", maxTokens: 12))
        }
        #expect(result.text == reference)
        #expect(result.chunks > 1, "streamed, not answered at once")
        #expect(result.done?.completionTokens == 12)
        #expect(pipeline.batchd.outcome(.ok, model: "smollm2") == 1)
        await pipeline.close()
    }

    @Test func concurrentRequestsGoAsBatchesAndEachEqualsItsSoloOutput() async throws {
        // maxBatch 2: the first two go at once (the model has room), the rest wait for it in batches.
        let pipeline = try Pipeline(maxBatch: 2, flush: .milliseconds(50))
        var references: [String: String] = [:]
        for prompt in Self.prompts { references[prompt] = try SmolLM2.solo(prompt, maxTokens: 10) }
        let results = try await withTimeout(.seconds(120)) {
            try await withThrowingTaskGroup(of: (String, String, UInt32).self) { group in
                for prompt in Self.prompts {
                    group.addTask {
                        let result = try await collect(pipeline.generate(prompt, maxTokens: 10))
                        return (prompt, result.text, result.done?.batchSize ?? 0)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(results.count == 8)
        for (prompt, text, _) in results {
            #expect(text == references[prompt], "\(prompt)")
        }
        // batchd handed them over in batches, and modeld ran them in one continuous batch.
        #expect(observations(in: pipeline.batchd.registry, "infer_batchd_batch_size", above: 1) >= 1)
        #expect(observations(in: pipeline.chat.metrics.registry, "infer_modeld_step_batch_size", above: 1) >= 1)
        #expect(results.contains { $0.2 > 1 }, "some sequence started in a step shared with others")
        await pipeline.close()
    }

    @Test func cancellingMidStreamStopsGenerationInModeld() async throws {
        let pipeline = try Pipeline()
        let chunks = try await withTimeout(.seconds(60)) {
            var seen = 0
            for try await event in pipeline.generate("1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", maxTokens: 2000) {
                if case .chunk = event { seen += 1 }
                if seen == 4 { break }
            }
            return seen
        }
        #expect(chunks == 4)
        #expect(await eventually { pipeline.modeldValue("infer_modeld_active_sequences") == 0 })
        let generated = pipeline.modeldValue("infer_modeld_generated_tokens_total")
        try await Task.sleep(for: .milliseconds(300))
        #expect(pipeline.modeldValue("infer_modeld_generated_tokens_total") == generated)
        #expect(generated < 200)
        #expect(await eventually { pipeline.batchd.outcome(.cancelled, model: "smollm2") == 1 })
        #expect(await eventually { pipeline.chat.metrics.value("infer_modeld_requests_total", outcome: .cancelled) == 1 })
        await pipeline.close()
    }

    @Test func refusalsReachTheCaller() async throws {
        let pipeline = try Pipeline()
        let chat = try SmolLM2.get()
        let long = String(repeating: "hello ", count: chat.contextLength + 10)
        let tooLong = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(60)) { try await collect(pipeline.generate(long, maxTokens: 4)) }
        }
        guard case let .remote(code, message)? = tooLong else { Issue.record("no remote error"); return }
        #expect(code == ServiceErrorCode.contextLengthExceeded)
        #expect(message.contains("the model's context is \(chat.contextLength)"))
        let unknown = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(10)) { try await collect(pipeline.generate("hi", maxTokens: 4, model: "gpt-9")) }
        }
        #expect(remoteError(unknown)?.code == ServiceErrorCode.unknownModel)
        let wrongKind = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(10)) { try await collect(pipeline.generate("hi", maxTokens: 4, model: "minilm")) }
        }
        #expect(remoteError(wrongKind)?.code == ServiceErrorCode.invalidRequest)
        await pipeline.close()
    }

    @Test func embeddingsPassThroughUnchanged() async throws {
        let pipeline = try Pipeline()
        let inputs = ["hello world", "a second sentence"]
        let reply = try await withTimeout(.seconds(10)) {
            try await pipeline.batchd.client.embed(
                GenerationProtocol.Embed(requestID: "e", model: "minilm", inputs: inputs), timeout: .seconds(10))
        }
        #expect(reply.vectors == (try TextEmbedder().embed(inputs)))
        #expect(reply.promptTokens == UInt32(inputs.reduce(0) { $0 + $1.utf8.count }))
        await pipeline.close()
    }

    @Test func aRequestWaitsForAModeldThatIsNotUpYet() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("modeld-smollm2.sock")
        let batchd = try BatchdHarness(backends: ["smollm2": ModeldBackend(path: path)])
        let request = Task {
            try await collect(batchd.client.generate(
                GenerationProtocol.Generate(requestID: "late", model: "smollm2", prompt: "Once upon a time",
                                            parameters: .init(maxTokens: 5, temperature: 0)),
                timeout: .seconds(60)))
        }
        // modeld comes up (a restart, without socket activation) while the request waits.
        try await Task.sleep(for: .milliseconds(300))
        let fd = try UnixSocket.listen(path: path)
        let modeld = try ModelService(name: "smollm2", model: .chat(try SmolLM2.get()), options: ModelOptions(), listenFD: fd, logger: quietLogger)
        let result = try await withTimeout(.seconds(60)) { try await request.value }
        #expect(result.text == (try SmolLM2.solo("Once upon a time", maxTokens: 5)))
        await batchd.close()
        await modeld.shutdown()
        Glibc.close(fd)
        directory.remove()
    }
}
