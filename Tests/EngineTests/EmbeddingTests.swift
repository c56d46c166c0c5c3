import Foundation
import Testing
import TestModels
@testable import Engine

/// Loaded once and shared by every test that needs the model.
private let sharedEmbedder: Result<BertEmbedder, Error> = Result { try BertEmbedder(directory: try ModelPaths.minilmDirectory()) }

private func embedder() throws -> BertEmbedder { try sharedEmbedder.get() }

private func fixtureVector() throws -> [Float] {
    let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    let data = try Data(contentsOf: dir.appendingPathComponent("minilm_hello_world.json"))
    let values = try #require(try JSONSerialization.jsonObject(with: data) as? [Double])
    return values.map(Float.init)
}

private func cosine(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
}

private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
}

/// all-MiniLM-L6-v2: tokenizer, kernels and end-to-end vectors against the reference outputs.
@Suite struct EmbeddingTests {
    // MARK: - Tokenizer on a small in-memory vocabulary

    static let toyVocabulary = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",          // 0-4
        "hello", "world", ",", "!", "cafe", "naive",          // 5-10
        "un", "##aff", "##able", "中", "文", "a", "b", "—",     // 11-18
        "¿", "qu", "##e", "?", "x", "##x", "istanbul", ".",  // 19-26
    ]

    func toyTokenizer(maxLength: Int = 256) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabulary: Self.toyVocabulary, maxLength: maxLength)
    }

    @Test func wordPieceSplitsOnWhitespaceAndPunctuation() throws {
        let tok = try toyTokenizer()
        #expect(tok.encode("hello world") == [2, 5, 6, 3])
        #expect(tok.encode("Hello, WORLD!") == [2, 5, 7, 6, 8, 3])
        #expect(tok.encode("hello,world!!") == [2, 5, 7, 6, 8, 8, 3])
        #expect(tok.encode("  \t hello \n\r world  ") == [2, 5, 6, 3])
        // Unicode punctuation (Pd, Po) is split off like ASCII punctuation.
        #expect(tok.encode("a—b ¿que?") == [2, 16, 18, 17, 19, 20, 21, 22, 3])
    }

    @Test func wordPieceStripsAccentsAndLowercases() throws {
        let tok = try toyTokenizer()
        #expect(tok.encode("Café Naïve") == [2, 9, 10, 3])
        #expect(tok.encode("CAFE\u{301} nai\u{308}ve") == [2, 9, 10, 3])
        #expect(tok.encode("İSTANBUL") == [2, 25, 3])
        let basic = BertBasicTokenizer()
        #expect(String(String.UnicodeScalarView(basic.normalize("Café Naïve"))) == "cafe naive")
    }

    @Test func wordPieceSpacesOutCJKIdeographs() throws {
        let tok = try toyTokenizer()
        #expect(tok.encode("中文") == [2, 14, 15, 3])
        #expect(tok.encode("a中b文") == [2, 16, 14, 17, 15, 3])
    }

    @Test func wordPieceUsesContinuationsAndUnknown() throws {
        let tok = try toyTokenizer()
        #expect(tok.encode("unaffable") == [2, 11, 12, 13, 3])
        // A word WordPiece cannot spell becomes a single [UNK], whatever it matched so far.
        #expect(tok.encode("unaffablez hello") == [2, 1, 5, 3])
        #expect(tok.encode(String(repeating: "x", count: 100)) == [2, 23] + Array(repeating: 24, count: 99) + [3])
        #expect(tok.encode(String(repeating: "x", count: 101)) == [2, 1, 3])
    }

    @Test func wordPieceCleansControlCharacters() throws {
        let tok = try toyTokenizer()
        #expect(tok.encode("hel\u{0}lo\u{FFFD} wor\u{7}ld\u{200B}") == [2, 5, 6, 3])
        #expect(tok.encode("hello\u{00A0}world\u{2003}") == [2, 5, 6, 3])
        #expect(tok.encode("") == [2, 3])
    }

    @Test func wordPieceKeepsLiteralSpecialTokens() throws {
        let tok = try toyTokenizer()
        #expect(tok.encode("hello [SEP] world[MASK]") == [2, 5, 3, 6, 4, 3])
        // Matched case-sensitively on the raw text, as tokenizers does.
        #expect(tok.encode("[sep]") != [2, 3, 3])
    }

    @Test func wordPieceTruncatesIncludingSpecialTokens() throws {
        let tok = try toyTokenizer()
        let long = Array(repeating: "hello", count: 1000).joined(separator: " ")
        let ids = tok.encode(long)
        #expect(ids.count == 256)
        #expect(ids.first == 2 && ids.last == 3)
        #expect(ids[1..<255].allSatisfy { $0 == 5 })
        #expect(tok.encode(long, maxLength: 5) == [2, 5, 5, 5, 3])
        // A word split into pieces is cut mid-word, like tokenizers does.
        #expect(try toyTokenizer(maxLength: 4).encode("unaffable") == [2, 11, 12, 3])
        #expect(tok.tokenize(long).count == 1000)
    }

    @Test func wordPieceGivesTheSameTokensForLongTextInChunks() throws {
        let tok = try toyTokenizer(maxLength: 100_000)
        // Long enough to be normalised in several chunks, with accents and CJK across chunk edges.
        let text = (0..<3000).map { ["Café", "hello,", "中文", "unaffable", "x\u{301}x", "!"][$0 % 6] }
            .joined(separator: " \n ")
        var expected: [Int32] = [2]
        for i in 0..<3000 { expected += [[9], [5, 7], [14, 15], [11, 12, 13], [23, 24], [8]][i % 6] }
        expected.append(3)
        #expect(tok.encode(text) == expected)
        #expect(tok.encode(text, maxLength: 10) == Array(expected.prefix(9)) + [3])
    }

    @Test func wordPieceRejectsAVocabularyWithoutSpecials() {
        #expect(throws: WordPieceError.self) { try WordPieceTokenizer(vocabulary: ["a", "b"]) }
        #expect(throws: WordPieceError.self) { try WordPieceTokenizer(vocabPath: "/nonexistent/vocab.txt") }
    }

    // MARK: - Tokenizer on the real vocabulary

    @Test func miniLMTokenizesHelloWorld() throws {
        let model = try embedder()
        #expect(model.tokenizer.encode("hello world") == [101, 7592, 2088, 102])
        #expect(model.tokenizer.encode("Hello World!") == [101, 7592, 2088, 999, 102])
        #expect(model.tokenizer.encode("Café") == model.tokenizer.encode("cafe"))
        #expect(model.tokenCount("hello world") == 4)
        let long = Array(repeating: "word", count: 600).joined(separator: " ")
        #expect(model.tokenCount(long) == 256)
    }

    /// Hard strings (accents, scripts, CJK, emoji, control and odd whitespace, literal special tokens,
    /// truncation) with the ids Hugging Face `tokenizers` gives them (scripts/minilm-tokenizer-vectors.py).
    @Test func miniLMTokenizerMatchesHuggingFaceTokenizers() throws {
        let model = try embedder()
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: dir.appendingPathComponent("minilm_tokenizer_vectors.json"))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(cases.count > 50)
        for entry in cases {
            let text = try #require(entry["text"] as? String)
            let ids = try #require(entry["ids"] as? [Int]).map(Int32.init)
            #expect(model.tokenizer.encode(text) == ids, "\(text.debugDescription)")
        }
    }

    // MARK: - Embeddings

    @Test func miniLMMatchesTheReferenceVector() throws {
        let model = try embedder()
        #expect(model.dimension == 384)
        let expected = try fixtureVector()
        #expect(expected.count == 384)
        let got = try model.embed(["hello world"])[0]
        #expect(got.count == 384)
        #expect(maxDifference(got, expected) < 1e-4, "max |Δ| = \(maxDifference(got, expected))")
    }

    @Test func miniLMReadsItsWordEmbeddingsInPlace() throws {
        // all-MiniLM-L6-v2's 47 MB table is aligned F32: served from the mapping, so an idle instance holds
        // only the rows its texts used (docs/PERFORMANCE.md, the memory figures).
        #expect(try embedder().wordEmbeddingsAreMapped)
    }

    @Test func miniLMMatchesReferenceValuesAndCosine() throws {
        let model = try embedder()
        let texts = ["hello world", "The quick brown fox jumps over the lazy dog.", "A man is playing a guitar."]
        let expected: [[Float]] = [
            [-0.034477, 0.031023, 0.006735, 0.026109, -0.039362],
            [0.043934, 0.058934, 0.048178, 0.077548, 0.026744],
            [0.021664, -0.004864, -0.009649, -0.063401, -0.167494],
        ]
        let vectors = try model.embed(texts)
        for (vector, want) in zip(vectors, expected) {
            #expect(maxDifference(Array(vector.prefix(5)), want) < 1e-4, "\(vector.prefix(5)) vs \(want)")
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
        #expect(abs(cosine(vectors[0], vectors[1]) - 0.108609) < 1e-4, "cosine \(cosine(vectors[0], vectors[1]))")
    }

    @Test func miniLMBatchEqualsOneByOne() throws {
        let model = try embedder()
        let texts = [
            "hello world",
            "",
            "The quick brown fox jumps over the lazy dog.",
            "Ein Mann spielt Gitarre. 中文句子！",
            Array(repeating: "a rather long sentence that will be truncated", count: 60).joined(separator: " "),
            "A man is playing a guitar.",
            "short",
        ]
        let batch = try model.embed(texts)
        #expect(batch.count == texts.count)
        for (text, vector) in zip(texts, batch) {
            let single = try model.embed(text)
            #expect(maxDifference(single, vector) < 1e-6, "\(text.prefix(30)): \(maxDifference(single, vector))")
        }
        #expect(try model.embed([String]()).isEmpty)
    }

    @Test func miniLMGivesTheSameResultOnOneAndTwoThreads() throws {
        let model = try embedder()
        let texts = (0..<40).map { "Sentence number \($0) talks about topic \($0 % 7) at some length." }
        let before = EngineThreads.count
        defer { EngineThreads.set(before) }
        EngineThreads.set(1)
        let one = try model.embed(texts)
        EngineThreads.set(2)
        let two = try model.embed(texts)
        for (a, b) in zip(one, two) { #expect(maxDifference(a, b) < 1e-6) }
    }

    @Test func bertEmbedderNamesAMissingOrBadDirectory() throws {
        let missing = #expect(throws: BertEmbedderError.self) { try BertEmbedder(directory: "/nonexistent/minilm") }
        #expect(missing?.description.contains("/nonexistent/minilm") == true)

        let empty = NSTemporaryDirectory() + "minilm-empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let noConfig = #expect(throws: BertEmbedderError.self) { try BertEmbedder(directory: empty) }
        #expect(noConfig?.description.contains("has no config.json") == true)

        try Data("{\"hidden_size\": 384}".utf8).write(to: URL(fileURLWithPath: empty + "/config.json"))
        let badConfig = #expect(throws: BertEmbedderError.self) { try BertEmbedder(directory: empty) }
        #expect(badConfig?.description.contains("missing num_hidden_layers") == true)
    }

    // MARK: - Kernels

    @Test(arguments: [1, 2], [false, true])
    func bertGEMMMatchesANaiveProduct(threads: Int, gelu: Bool) {
        let before = EngineThreads.count
        defer { EngineThreads.set(before) }
        EngineThreads.set(threads)
        for (m, n, k) in [(1, 16, 8), (5, 20, 37), (13, 48, 300), (7, 100, 513), (130, 33, 64)] {
            let a = (0..<(m * k)).map { Float(($0 * 7919) % 23) / 23 - 0.5 }
            let w = (0..<(n * k)).map { Float(($0 * 104729) % 31) / 31 - 0.5 }
            let bias = (0..<n).map { Float($0) / 10 }
            let packed = BertPackedMatrix(weight: w, bias: bias, n: n, k: k)
            var c = [Float](repeating: .nan, count: m * n)
            a.withUnsafeBufferPointer { ap in
                c.withUnsafeMutableBufferPointer { cp in
                    guard let ab = ap.baseAddress, let cb = cp.baseAddress else { return }
                    bertGEMM(m: m, a: ab, lda: k, w: packed, c: cb, ldc: n, gelu: gelu)
                }
            }
            var worst: Float = 0
            for i in 0..<m {
                for j in 0..<n {
                    var sum = Double(bias[j])
                    for kk in 0..<k { sum += Double(a[i * k + kk]) * Double(w[j * k + kk]) }
                    if gelu { sum = 0.5 * sum * (1 + erf(sum / 2.0.squareRoot())) }
                    worst = max(worst, abs(Float(sum) - c[i * n + j]))
                }
            }
            #expect(worst < 1e-3, "m=\(m) n=\(n) k=\(k): max error \(worst)")
        }
    }

    /// Every kernel set this CPU has: the portable one everywhere, AVX2 and AVX-512 where it has them.
    static let kernelSets: [Kernels] = [Kernels.portable] + (Kernels.avx2.map { [$0] } ?? []) + (Kernels.avx512.map { [$0] } ?? [])

    @Test(arguments: kernelSets.indices)
    func expIsAccurate(set: Int) {
        let kernels = Self.kernelSets[set]
        var xs: [Float] = []
        var x: Float = -87
        while x <= 0 { xs.append(x); x += 0.0007 }
        while xs.count % 8 != 0 { xs.append(0) }
        var e = xs
        e.withUnsafeMutableBufferPointer { kernels.exp_shifted($0.baseAddress!, $0.count, 0) }
        var worst: Double = 0
        for (x, v) in zip(xs, e) { worst = max(worst, abs(Double(v) - exp(Double(x))) / exp(Double(x))) }
        #expect(worst < 1e-6, "\(kernels.label): max relative exp error = \(worst)")
        var tiny = [Float](repeating: -.infinity, count: 8)
        tiny.withUnsafeMutableBufferPointer { kernels.exp_shifted($0.baseAddress!, 8, 0) }
        #expect(tiny[0] < 1e-37)
    }

    /// GELU (erf form) as the GEMM applies it: a 1×1 product of x and 1 with GELU, over x in [-6, 6].
    @Test(arguments: kernelSets.indices)
    func geluIsAccurate(set: Int) {
        let kernels = Self.kernelSets[set]
        var worst: Double = 0
        var a = [Float](repeating: 0, count: 6), b = [Float](repeating: 0, count: 16)
        var c = [Float](repeating: 0, count: 6 * 16), bias = [Float](repeating: 0, count: 16)
        b[0] = 1
        var x: Float = -6
        while x <= 6 {
            a[0] = x
            kernels.gemm6x16(1, a, b, &c, 16, &bias, 1)
            let want = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            worst = max(worst, abs(Double(c[0]) - want) / max(1, abs(want)))
            x += 0.001
        }
        #expect(worst < 2e-6, "\(kernels.label): max relative GELU error = \(worst)")
    }
}

/// Throughput at batch 32 of ~20-word sentences, on 1 and 2 threads. A measurement, not a check: runs
/// only with INFER_BENCH=1, e.g.
/// `INFER_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter embeddingThroughput`.
@Suite struct EmbeddingBenchmark {
    static let words = ["the", "model", "reads", "a", "sentence", "about", "weather", "and", "markets", "while",
                        "engineers", "measure", "latency", "on", "small", "machines", "with", "two", "cores", "today",
                        "quickly", "under", "load", "for", "every", "request", "in", "production", "systems", "again"]

    /// `count` sentences of `words` words (the i-th has `words + i % 5`), e.g. 18 → about 23 tokens.
    static func sentences(_ count: Int, words length0: Int = 18) -> [String] {
        (0..<count).map { i in
            let length = length0 + i % 5
            let body = (0..<length).map { j in words[(i * 7 + j * 3 + j * j) % words.count] }.joined(separator: " ")
            return body.prefix(1).uppercased() + body.dropFirst() + "."
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["INFER_BENCH"] == "1"))
    func embeddingThroughput() throws {
        let loadStart = Date()
        let model = try BertEmbedder(directory: try ModelPaths.minilmDirectory())
        print(String(format: "minilm load: %.0f ms", 1000 * Date().timeIntervalSince(loadStart)))
        // INFER_BENCH_WORDS=3 gives short sentences (about 7 tokens) instead of ~20-word ones.
        let words = Int(ProcessInfo.processInfo.environment["INFER_BENCH_WORDS"] ?? "") ?? 18
        let batch = Self.sentences(32, words: words)
        let tokens = batch.map(model.tokenCount).reduce(0, +)
        let before = EngineThreads.count
        defer { EngineThreads.set(before) }
        // Shared machines: several short rounds, reporting the best and the median round, plus the
        // process CPU time per batch (which other load on the machine barely changes).
        let rounds = Int(ProcessInfo.processInfo.environment["INFER_BENCH_ROUNDS"] ?? "") ?? 7
        for threads in [1, 2] {
            EngineThreads.set(threads)
            _ = try model.embed(batch)  // warm-up
            var rates: [Double] = []
            var cpuPerBatch: [Double] = []
            for _ in 0..<rounds {
                var batches = 0
                let cpu0 = Self.processCPUSeconds()
                let start = Date()
                while batches < 2 || Date().timeIntervalSince(start) < 1 {
                    _ = try model.embed(batch)
                    batches += 1
                }
                let seconds = Date().timeIntervalSince(start)
                rates.append(Double(batches * batch.count) / seconds)
                cpuPerBatch.append((Self.processCPUSeconds() - cpu0) / Double(batches))
            }
            rates.sort()
            cpuPerBatch.sort()
            print(String(format: "minilm batch 32 (%d tokens, %.1f per sentence), %d thread(s): best %.1f sentences/s, median %.1f; CPU %.1f ms per batch",
                         tokens, Double(tokens) / 32, threads, rates[rates.count - 1], rates[rates.count / 2],
                         1000 * cpuPerBatch[cpuPerBatch.count / 2]))
            var latencies: [Double] = []
            for _ in 0..<50 {
                let start = Date()
                _ = try model.embed([batch[0]])
                latencies.append(Date().timeIntervalSince(start))
            }
            latencies.sort()
            print(String(format: "minilm one sentence (%d tokens), %d thread(s): best %.2f ms, median %.2f ms",
                         model.tokenCount(batch[0]), threads, 1000 * latencies[0], 1000 * latencies[latencies.count / 2]))
        }
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
