import Foundation
import Testing
import TestModels
@testable import Engine

/// The SmolLM2 model, tokenizer and template, loaded once for all tests.
enum SmolLM {
    struct Loaded: Sendable {
        let model: LlamaModel
        let tokenizer: BPETokenizer
        let template: ChatTemplate
    }
    static let shared: Result<Loaded, Error> = Result {
        let g = try GGUFFile(path: try ModelPaths.smollm2())
        return Loaded(model: try LlamaModel(gguf: g), tokenizer: try BPETokenizer(gguf: g), template: try ChatTemplate(gguf: g))
    }
    static func get() throws -> Loaded { try shared.get() }

    /// Runs sequences to the end through one decoder; returns each id's tokens, text and finish.
    static func run(_ decoder: BatchDecoder, joins: [Int: [(Int, [Int32], GenerationParameters)]] = [:]) throws
        -> [Int: (tokens: [Int32], text: String, finish: FinishReason?)] {
        var out: [Int: (tokens: [Int32], text: String, finish: FinishReason?)] = [:]
        var step = 0
        while !decoder.isEmpty || joins.keys.contains(where: { $0 >= step }) {
            for (id, prompt, p) in joins[step] ?? [] { try decoder.add(id: id, prompt: prompt, parameters: p) }
            for e in try decoder.step() {
                var r = out[e.id] ?? ([], "", nil)
                if let t = e.token { r.tokens.append(t) }
                r.text += e.text
                r.finish = e.finish
                out[e.id] = r
            }
            step += 1
        }
        return out
    }
}

/// One line of smollm2_numpy_out.jsonl.
struct ReferenceGeneration: Decodable {
    let prompt: String
    let prompt_ids: [Int32]
    let gen_ids: [Int32]
    let gen_text: String
    let first_step_top5: [[Double]]

    static func all() throws -> [ReferenceGeneration] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/smollm2_numpy_out", withExtension: "jsonl"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        return lines.compactMap { try? JSONDecoder().decode(ReferenceGeneration.self, from: Data($0.utf8)) }
    }
}

@Suite struct LlamaTests {
    @Test func reproducesBothReferenceGenerationsGreedily() throws {
        let s = try SmolLM.get()
        let refs = try ReferenceGeneration.all()
        #expect(refs.count == 2)
        for ref in refs {
            let ids = s.tokenizer.encode(ref.prompt)
            #expect(ids == ref.prompt_ids)
            let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
            try d.add(id: 1, prompt: ids, parameters: .greedy(maxTokens: 20))
            let r = try #require(try SmolLM.run(d)[1])
            #expect(r.tokens == ref.gen_ids, "\(ref.prompt)")
            // The text leaves out the end-of-turn token the reference decodes.
            #expect(r.text == ref.gen_text.replacingOccurrences(of: "<|im_end|>", with: ""))
            #expect(r.finish == (ref.gen_ids.last == 2 ? .stop : .length))
        }
    }

    @Test func firstStepLogitsMatchReference() throws {
        let s = try SmolLM.get()
        let url = try #require(Bundle.module.url(forResource: "Fixtures/smollm2_once_upon_logits", withExtension: "npy"))
        let want = try NumpyFile.float32(Data(contentsOf: url))
        #expect(want.count == s.model.config.vocabSize)
        let got = try s.model.forward([.init(cache: s.model.makeCache(), tokens: [6403, 1980, 253, 655])])[0]
        let maxErr = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxErr < 0.5, "max abs error \(maxErr)")
        func top5(_ v: [Float]) -> [Int] { Array(v.indices.sorted { v[$0] > v[$1] }.prefix(5)) }
        #expect(top5(got) == top5(want))
        let refs = try ReferenceGeneration.all()
        #expect(top5(got) == refs[0].first_step_top5.map { Int($0[0]) })
    }

    @Test func batchedOutputEqualsAloneOutput() throws {
        let s = try SmolLM.get()
        let prompts = ["Once upon a time", "The capital of France is", "def fibonacci(n):", "1, 2, 3, 4,"].map { s.tokenizer.encode($0) }
        var alone: [Int: [Int32]] = [:]
        for (i, p) in prompts.enumerated() {
            let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
            try d.add(id: i, prompt: p, parameters: .greedy(maxTokens: 12))
            alone[i] = try SmolLM.run(d)[i]?.tokens
        }
        // All four in one batch, two joining later while the others are mid-generation.
        let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer, maxBatch: 8)
        let batched = try SmolLM.run(d, joins: [
            0: [(0, prompts[0], .greedy(maxTokens: 12)), (1, prompts[1], .greedy(maxTokens: 12))],
            3: [(2, prompts[2], .greedy(maxTokens: 12))],
            5: [(3, prompts[3], .greedy(maxTokens: 12))],
        ])
        for i in 0..<4 { #expect(batched[i]?.tokens == alone[i], "sequence \(i)") }
    }

    @Test func sameSeedSameOutputAndSeedsDiffer() throws {
        let s = try SmolLM.get()
        let p = s.tokenizer.encode("Once upon a time")
        func sample(_ seed: UInt64) throws -> [Int32] {
            let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
            try d.add(id: 0, prompt: p, parameters: GenerationParameters(temperature: 1.0, topP: 0.95, seed: seed, maxTokens: 16))
            return try SmolLM.run(d)[0]?.tokens ?? []
        }
        let a = try sample(42), b = try sample(42)
        #expect(a == b && a.count == 16)
        let others = try [1, 2, 3].map { try sample($0) }
        #expect(others.contains { $0 != a })
    }

    @Test func topKOneIsGreedyAndMaxTokensEndsWithLength() throws {
        let s = try SmolLM.get()
        let p = s.tokenizer.encode("Once upon a time")
        let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
        try d.add(id: 0, prompt: p, parameters: GenerationParameters(temperature: 1.5, topK: 1, seed: 9, maxTokens: 7))
        let r = try #require(try SmolLM.run(d)[0])
        let ref = try ReferenceGeneration.all()[0]
        #expect(r.tokens == Array(ref.gen_ids.prefix(7)))
        #expect(r.finish == .length)
    }

    @Test func stopSequenceCutsTheTextAndEnds() throws {
        let s = try SmolLM.get()
        let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
        // Greedy continues ", the city of Nova Haven was ..."
        try d.add(id: 0, prompt: s.tokenizer.encode("Once upon a time"), parameters: GenerationParameters(temperature: 0, maxTokens: 20, stop: [" of Nova"]))
        let r = try #require(try SmolLM.run(d)[0])
        #expect(r.text == ", the city")
        #expect(r.finish == .stop)
        #expect(r.tokens.count < 20)
    }

    @Test func penaltiesReduceRepetition() throws {
        let s = try SmolLM.get()
        let p = s.tokenizer.encode("List the numbers: one, one, one, one,")
        func distinctRatio(_ params: GenerationParameters) throws -> Double {
            let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
            try d.add(id: 0, prompt: p, parameters: params)
            let t = try SmolLM.run(d)[0]?.tokens ?? []
            return Double(Set(t).count) / Double(max(1, t.count))
        }
        let plain = try distinctRatio(.greedy(maxTokens: 24))
        let penalised = try distinctRatio(GenerationParameters(temperature: 0, frequencyPenalty: 2, presencePenalty: 2, maxTokens: 24))
        #expect(penalised > plain, "distinct ratio \(penalised) vs \(plain)")
    }

    @Test func cancelRemovesASequence() throws {
        let s = try SmolLM.get()
        let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
        try d.add(id: 1, prompt: [6403, 1980], parameters: .greedy(maxTokens: 50))
        try d.add(id: 2, prompt: [6403, 1980], parameters: .greedy(maxTokens: 3))
        _ = try d.step()
        let e = try #require(d.cancel(1))
        #expect(e.finish == .cancelled && e.completionTokens == 1)
        #expect(d.cancel(1) == nil)
        let rest = try SmolLM.run(d)
        #expect(rest[1] == nil && rest[2]?.finish == .length)
    }

    @Test func refusesBadRequests() throws {
        let s = try SmolLM.get()
        let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
        #expect(throws: ParameterError.self) { try d.add(id: 0, prompt: [1], parameters: GenerationParameters(temperature: 3)) }
        #expect(throws: ParameterError.self) { try d.add(id: 0, prompt: [1], parameters: GenerationParameters(topP: 0)) }
        #expect(throws: ParameterError.self) { try d.add(id: 0, prompt: [1], parameters: GenerationParameters(maxTokens: 0)) }
        #expect(throws: EngineError.self) { try d.add(id: 0, prompt: [], parameters: .greedy(maxTokens: 1)) }
        #expect(throws: EngineError.self) { try d.add(id: 0, prompt: [49152], parameters: .greedy(maxTokens: 1)) }
        let long = [Int32](repeating: 260, count: s.model.config.contextLength)
        #expect(throws: EngineError.self) { try d.add(id: 0, prompt: long, parameters: .greedy(maxTokens: 1)) }
        #expect(throws: EngineError.self) { _ = try s.model.forward([.init(cache: s.model.makeCache(), tokens: [-1])]) }
        #expect(d.isEmpty)
    }

    @Test func kvCacheGrowsWithUse() throws {
        let s = try SmolLM.get()
        let cache = s.model.makeCache()
        #expect(cache.bytes == 0)
        _ = try s.model.forward([.init(cache: cache, tokens: [6403, 1980, 253, 655])])
        let perPosition = 2 * s.model.config.layers * s.model.config.kvWidth * 4
        #expect(cache.count == 4)
        #expect(cache.bytes <= 128 * perPosition)
        #expect(cache.bytes < s.model.config.contextLength * perPosition / 16)
    }

    @Test func chatTemplatePromptAnswers() throws {
        let s = try SmolLM.get()
        let prompt = s.template.render([ChatMessage(role: "user", content: "What is the capital of France?")])
        let d = BatchDecoder(model: s.model, tokenizer: s.tokenizer)
        try d.add(id: 0, prompt: s.tokenizer.encode(prompt), parameters: .greedy(maxTokens: 30))
        let r = try #require(try SmolLM.run(d)[0])
        #expect(r.text.contains("Paris"))
        #expect(r.finish == .stop)
    }
}

@Suite struct StopMatcherTests {
    @Test func findsAStopSpanningPieces() {
        var m = StopMatcher(["END"])
        #expect(m.feed("abc E") == ("abc ", false))
        #expect(m.feed("N") == ("", false))
        #expect(m.feed("Dxyz") == ("", true))
    }

    @Test func releasesAFalseStart() {
        var m = StopMatcher(["</s>"])
        #expect(m.feed("a <") == ("a ", false))
        #expect(m.feed("b") == ("<b", false))
        #expect(m.flush() == "")
        #expect(m.feed("<") == ("", false))
        #expect(m.flush() == "<")
    }

    @Test func earliestOfSeveralStopsWins() {
        var m = StopMatcher(["world", "lo"])
        #expect(m.feed("hello world") == ("hel", true))
    }

    @Test func multiByteText() {
        var m = StopMatcher(["🙂"])
        #expect(m.feed("日本語 ") == ("日本語 ", false))
        #expect(m.feed("🙂 more") == ("", true))
    }
}

/// Reads numpy's .npy format (version 1-3 header, little-endian float32 data).
enum NumpyFile {
    static func float32(_ data: Data) throws -> [Float] {
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93, bytes[1...5].elementsEqual("NUMPY".utf8) else { throw EngineError("not an .npy file") }
        let major = bytes[6]
        let headerLen = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8 : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let start = (major == 1 ? 10 : 12) + headerLen
        let header = String(decoding: bytes[(major == 1 ? 10 : 12)..<start], as: UTF8.self)
        guard header.contains("<f4") else { throw EngineError("npy dtype is not little-endian float32: \(header)") }
        return bytes[start...].withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }
}

@Suite struct ArgmaxTests {
    /// The scalar definition: the first index whose value beats every earlier one.
    static func reference(_ v: [Float]) -> Int32 {
        var best = 0, bestValue = -Float.infinity
        for (i, x) in v.enumerated() where x > bestValue { best = i; bestValue = x }
        return Int32(best)
    }

    @Test func matchesTheScalarDefinitionOnTiesNaNsAndTails() {
        var rng = SplitMix64(seed: 7)
        for n in [0, 1, 5, 15, 16, 17, 31, 33, 100, 1000] {
            for _ in 0..<50 {
                // Few distinct values, so ties are common; NaN, ±0 and -∞ mixed in.
                let pool: [Float] = [-.infinity, -1, -0.0, 0, 0.5, 2, .nan]
                let v = (0..<n).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }
                #expect(Sampler.argmax(v) == Self.reference(v), "\(v)")
            }
        }
        #expect(Sampler.argmax([Float](repeating: .nan, count: 40)) == 0)
        #expect(Sampler.argmax([Float](repeating: -.infinity, count: 40) + [3]) == 40)
    }
}
