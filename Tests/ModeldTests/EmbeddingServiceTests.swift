import Foundation
import IPC
import Testing
import TestKit

@testable import modeld
import Services

/// An embedding model stand-in: a vector computed from the text, and a pause per pass so that calls
/// arriving meanwhile pile up for the next one.
final class StandInEmbedder: Embedder {
    let passes = Recorder<Int>()
    let pause: Duration

    init(pause: Duration = .zero) {
        self.pause = pause
    }

    static func vector(_ text: String) -> [Float] {
        [Float(text.count), Float(text.utf8.first ?? 0), 0.5]
    }

    func embed(_ texts: [String]) throws -> [[Float]] {
        passes.append(texts.count)
        if pause > .zero { Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) * 1e-18 + Double(pause.components.seconds)) }
        return texts.map(Self.vector)
    }

    func tokenCount(_ text: String) -> Int { text.split(separator: " ").count + 2 }
}

@Suite("Embedding service") struct EmbeddingServiceTests {
    func embed(_ harness: ModeldHarness, _ inputs: [String], model: String = "minilm") async throws -> GenerationProtocol.EmbedReply {
        try await harness.client.embed(GenerationProtocol.Embed(requestID: "e", model: model, inputs: inputs), timeout: .seconds(10))
    }

    @Test func answersEachCallWithItsOwnVectorsAndTokens() async throws {
        let embedder = StandInEmbedder()
        let harness = try ModeldHarness(name: "minilm", model: .embedding(embedder))
        let reply = try await withTimeout(.seconds(10)) { try await embed(harness, ["hello world", "a b c"]) }
        #expect(reply.vectors == [StandInEmbedder.vector("hello world"), StandInEmbedder.vector("a b c")])
        #expect(reply.promptTokens == 4 + 5)
        #expect(harness.metrics.value("infer_modeld_prompt_tokens_total") == 9)
        #expect(harness.metrics.value("infer_modeld_requests_total", outcome: .ok) == 1)
        await harness.close()
    }

    @Test func mergesCallsThatArriveDuringAPass() async throws {
        let embedder = StandInEmbedder(pause: .milliseconds(300))
        let harness = try ModeldHarness(name: "minilm", model: .embedding(embedder))
        let first = Task { try await embed(harness, ["first"]) }
        #expect(await eventually { embedder.passes.all.count == 1 })
        let inputs = [["b1", "b2"], ["c1", "c2", "c3"], ["d1"]]
        let replies = try await withTimeout(.seconds(10)) {
            try await withThrowingTaskGroup(of: ([String], GenerationProtocol.EmbedReply).self) { group in
                for batch in inputs { group.addTask { (batch, try await embed(harness, batch)) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        _ = try await first.value
        for (batch, reply) in replies {
            #expect(reply.vectors == batch.map(StandInEmbedder.vector))
            #expect(reply.promptTokens == UInt32(batch.count * 3))
        }
        // The three calls that waited went through the model together.
        #expect(embedder.passes.all == [1, 6])
        await harness.close()
    }

    @Test func refusesGenerationAndEmptyInput() async throws {
        let harness = try ModeldHarness(name: "minilm", model: .embedding(StandInEmbedder()))
        let generateError = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(10)) { try await collect(harness.generate(prompt: "hi", model: "minilm")) }
        }
        #expect(remoteError(generateError)?.code == ServiceErrorCode.invalidRequest)
        let emptyError = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(10)) { try await embed(harness, []) }
        }
        #expect(remoteError(emptyError)?.code == ServiceErrorCode.invalidParameter)
        #expect(remoteError(emptyError)?.message.hasPrefix("input") == true)
        let otherError = await #expect(throws: IPCError.self) {
            _ = try await withTimeout(.seconds(10)) { try await embed(harness, ["x"], model: "bge") }
        }
        #expect(remoteError(otherError)?.code == ServiceErrorCode.unknownModel)
        await harness.close()
    }
}
