import Engine
import IPC
import Testing
import TestKit

@testable import modeld
import Services

/// modeld serving SmolLM2 over a real socket: what it streams equals the engine's own output, what it
/// refuses it refuses with the contract's codes, and cancellation and drain stop the work.
@Suite("Model service (SmolLM2)", .serialized) struct ModelServiceTests {
    static let question = [GenerationProtocol.Message(role: "user", content: "What is the capital of France?")]
    /// Greedy SmolLM2 counts on and on: a prompt that keeps generating until cancelled.
    static let counting = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"

    @Test func streamsWhatTheEngineGeneratesAlone() async throws {
        let chat = try SmolLM2.get()
        let harness = try ModeldHarness(model: .chat(chat))
        let tokens = chat.promptTokens(messages: Self.question, prompt: "")
        // The template's default system prompt goes in when the chat has none.
        if let system = chat.template.defaultSystemPrompt {
            #expect(chat.promptText(messages: Self.question, prompt: "").contains(system))
        }
        let reference = try SmolLM2.solo(tokens, maxTokens: 16)
        let result = try await withTimeout(.seconds(60)) {
            try await collect(harness.generate(messages: Self.question, parameters: .init(maxTokens: 16, temperature: 0)))
        }
        #expect(result.text == reference.text)
        #expect(result.text.contains("Paris"))
        let done = try #require(result.done)
        #expect(done.promptTokens == UInt32(tokens.count))
        #expect(done.completionTokens == UInt32(reference.completion))
        #expect(done.finishReason == reference.finish)
        #expect(done.batchSize == 1)
        #expect(harness.metrics.value("infer_modeld_prompt_tokens_total") == Double(tokens.count))
        #expect(harness.metrics.value("infer_modeld_generated_tokens_total") == Double(reference.completion))
        #expect(harness.metrics.value("infer_modeld_requests_total", outcome: .ok) == 1)
        await harness.close()
    }

    @Test func rawPromptEndsAtMaxTokens() async throws {
        let chat = try SmolLM2.get()
        let harness = try ModeldHarness(model: .chat(chat))
        let reference = try SmolLM2.solo(chat.promptTokens(messages: [], prompt: "Once upon a time"), maxTokens: 6)
        let result = try await withTimeout(.seconds(60)) {
            try await collect(harness.generate(prompt: "Once upon a time", parameters: .init(maxTokens: 6, temperature: 0)))
        }
        #expect(result.text == reference.text)
        #expect(result.done?.finishReason == "length")
        #expect(result.done?.completionTokens == 6)
        await harness.close()
    }

    @Test func refusesWithTheContractsCodes() async throws {
        let chat = try SmolLM2.get()
        let harness = try ModeldHarness(model: .chat(chat))
        func failure(_ stream: AsyncThrowingStream<GenerationProtocol.Event, any Error>) async -> (code: UInt16, message: String)? {
            do {
                _ = try await collect(stream)
                return nil
            } catch {
                return remoteError(error)
            }
        }
        let hot = await failure(harness.generate(prompt: "hi", parameters: .init(maxTokens: 4, temperature: 5)))
        #expect(hot?.code == ServiceErrorCode.invalidParameter)
        #expect(hot?.message.hasPrefix("temperature") == true)
        let none = await failure(harness.generate(prompt: "hi", parameters: .init(maxTokens: 0)))
        #expect(none?.code == ServiceErrorCode.invalidParameter)
        #expect(none?.message.hasPrefix("max_tokens") == true)
        let empty = await failure(harness.generate(prompt: ""))
        #expect(empty?.code == ServiceErrorCode.invalidRequest)
        let long = String(repeating: "hello ", count: chat.contextLength + 10)
        let tooLong = await failure(harness.generate(prompt: long))
        #expect(tooLong?.code == ServiceErrorCode.contextLengthExceeded)
        #expect(tooLong?.message.hasSuffix("tokens; the model's context is \(chat.contextLength)") == true)
        let other = await failure(harness.generate(prompt: "hi", model: "llama-70b"))
        #expect(other?.code == ServiceErrorCode.unknownModel)
        let embedError = await #expect(throws: IPCError.self) {
            _ = try await harness.client.embed(GenerationProtocol.Embed(requestID: "e", model: "smollm2", inputs: ["x"]), timeout: .seconds(5))
        }
        #expect(remoteError(embedError)?.code == ServiceErrorCode.invalidRequest)
        #expect(harness.metrics.value("infer_modeld_requests_total", outcome: .invalid) == 6)
        await harness.close()
    }

    @Test func cancellingStopsTheSequence() async throws {
        let chat = try SmolLM2.get()
        let harness = try ModeldHarness(model: .chat(chat))
        let chunks = try await withTimeout(.seconds(60)) {
            var seen = 0
            for try await event in harness.generate(prompt: Self.counting, parameters: .init(maxTokens: 2000, temperature: 0)) {
                if case .chunk = event { seen += 1 }
                if seen == 3 { break }
            }
            return seen
        }
        #expect(chunks == 3)
        #expect(await eventually { harness.metrics.value("infer_modeld_active_sequences") == 0 })
        let generated = harness.metrics.value("infer_modeld_generated_tokens_total")
        try await Task.sleep(for: .milliseconds(300))
        #expect(harness.metrics.value("infer_modeld_generated_tokens_total") == generated)
        #expect(generated < 100)
        #expect(harness.metrics.value("infer_modeld_requests_total", outcome: .cancelled) == 1)
        await harness.close()
    }

    @Test func answersStats() async throws {
        let harness = try ModeldHarness(model: .chat(try SmolLM2.get()))
        let families = try await StatsClient(path: harness.client.client.path, protocolName: ServiceName.modeld)
            .snapshot(timeout: .seconds(5))
        let names = Set(families.map(\.name))
        for name in ["infer_modeld_generated_tokens_total", "infer_modeld_prompt_tokens_total", "infer_modeld_requests_total",
                     "infer_modeld_step_batch_size", "infer_modeld_active_sequences", "infer_modeld_step_seconds"] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(await harness.service.isHealthy())
        // batchd's health probe: the built-in engine is ready while its loop beats.
        #expect(try await harness.client.health(timeout: .seconds(5)) == GenerationProtocol.HealthReply(ready: true))
        await harness.close()
    }

    @Test func drainFinishesShortWorkAndInterruptsTheRest() async throws {
        let chat = try SmolLM2.get()
        let harness = try ModeldHarness(model: .chat(chat))
        let long = Task {
            try await collect(harness.generate(prompt: Self.counting, parameters: .init(maxTokens: 5000, temperature: 0)))
        }
        let short = Task {
            try await collect(harness.generate(prompt: "Once upon a time", parameters: .init(maxTokens: 12, temperature: 0)))
        }
        #expect(await eventually { harness.service.server.inFlightCalls == 2 })
        // Room for 12 tokens even on a loaded machine (both cores busy with other work), none for 5000.
        await harness.service.drain(until: .now + .seconds(6))
        let shortResult = try await short.value
        #expect(shortResult.done?.completionTokens == 12)
        // Cut off: the client sees the connection-level loss it may retry (nothing duplicated: it had output).
        await #expect(throws: IPCError.connectionLost) { _ = try await long.value }
        #expect(harness.metrics.value("infer_modeld_active_sequences") == 0)
        await harness.close()
    }
}
