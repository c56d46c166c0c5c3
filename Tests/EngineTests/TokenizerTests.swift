import Testing
import TestModels
import Foundation
@testable import Engine

/// SmolLM2's tokenizer and chat template, loaded once from the real GGUF file.
enum SmolLM2Tokenizer {
    struct Loaded: Sendable {
        let tokenizer: BPETokenizer
        let chatTemplate: String?
    }

    static let loaded: Result<Loaded, any Error> = Result {
        let gguf = try GGUFFile(path: try ModelPaths.smollm2())
        return Loaded(tokenizer: try BPETokenizer(gguf: gguf),
                      chatTemplate: gguf.metadata["tokenizer.chat_template"]?.string)
    }

    static func tokenizer() throws -> BPETokenizer { try loaded.get().tokenizer }
}

/// A string and the ids the reference tokenizer gives it.
struct TokenizerVector: Sendable, CustomTestStringConvertible {
    let text: String
    let ids: [Int32]
    var testDescription: String { text.debugDescription }
}

enum TokenizerFixtures {
    static func url(_ name: String) throws -> URL {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return dir.appendingPathComponent(name)
    }

    /// smollm2_tokenizer_vectors.json: {text: [ids]}, sorted by text.
    static func vectors() throws -> [TokenizerVector] {
        let data = try Data(contentsOf: try url("smollm2_tokenizer_vectors.json"))
        let dict = try JSONDecoder().decode([String: [Int32]].self, from: data)
        return dict.keys.sorted().map { TokenizerVector(text: $0, ids: dict[$0] ?? []) }
    }

    /// smollm2_tokenizer_fuzz.json: random hard strings and Hugging Face's ids for them
    /// (scripts/gen-tokenizer-fuzz.py).
    static func fuzz() throws -> [TokenizerVector] {
        struct Record: Decodable { let text: String; let ids: [Int32] }
        // JSONDecoder, not JSONSerialization: the latter drops a leading U+FEFF from strings.
        let records = try JSONDecoder().decode([Record].self, from: Data(contentsOf: try url("smollm2_tokenizer_fuzz.json")))
        return records.map { TokenizerVector(text: $0.text, ids: $0.ids) }
    }

    /// The prompts of smollm2_numpy_out.jsonl and their prompt_ids (lines that are not JSON
    /// records, such as the script's closing log line, are skipped).
    static func numpyPrompts() throws -> [TokenizerVector] {
        struct Record: Decodable { let prompt: String; let prompt_ids: [Int32] }
        let text = try String(contentsOf: try url("smollm2_numpy_out.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"), let r = try? JSONDecoder().decode(Record.self, from: Data(line.utf8)) else { return nil }
            return TokenizerVector(text: r.prompt, ids: r.prompt_ids)
        }
    }
}

@Suite struct TokenizerTests {
    @Test(arguments: try TokenizerFixtures.vectors())
    func encodesReferenceVector(_ v: TokenizerVector) throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        #expect(tok.encode(v.text) == v.ids)
    }

    @Test func matchesHuggingFaceOnRandomStrings() throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        let cases = try TokenizerFixtures.fuzz()
        #expect(cases.count > 300)
        for v in cases {
            let ids = tok.encode(v.text)
            #expect(ids == v.ids, "\(v.text.debugDescription)")
            var stream = tok.streamingDecoder()
            let streamed = ids.map { stream.append($0) }.joined() + stream.flush()
            #expect(streamed == tok.decode(ids), "\(v.text.debugDescription)")
        }
    }

    @Test func fixturesHoldEveryVector() throws {
        #expect(try TokenizerFixtures.vectors().count == 5)
        #expect(try TokenizerFixtures.numpyPrompts().count == 2)
    }

    @Test(arguments: try TokenizerFixtures.numpyPrompts())
    func encodesReferencePrompt(_ v: TokenizerVector) throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        #expect(tok.encode(v.text) == v.ids)
    }

    @Test(arguments: try TokenizerFixtures.vectors() + TokenizerFixtures.numpyPrompts())
    func decodeInvertsEncode(_ v: TokenizerVector) throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        #expect(tok.decode(tok.encode(v.text)) == v.text)
        #expect(tok.decode(v.ids) == v.text)
        #expect(tok.decode(tok.encode(v.text, parseSpecial: false)) == v.text)
    }

    @Test(arguments: try TokenizerFixtures.vectors() + TokenizerFixtures.numpyPrompts())
    func streamingDecodeEqualsDecode(_ v: TokenizerVector) throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        var stream = tok.streamingDecoder()
        var text = ""
        for id in v.ids { text += stream.append(id) }
        text += stream.flush()
        #expect(text == tok.decode(v.ids))
    }

    @Test func streamingHoldsBackPartialCharacters() throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        let v = try #require(try TokenizerFixtures.vectors().first { $0.text.contains("🙂") })
        var stream = StreamingDecoder(tokenizer: tok)
        var pieces: [String] = []
        for id in v.ids {
            pieces.append(stream.append(id))
        }
        #expect(!stream.hasPendingBytes)
        pieces.append(stream.flush())
        for piece in pieces { #expect(!piece.contains("\u{FFFD}"), "piece \(piece.debugDescription)") }
        #expect(pieces.joined() == tok.decode(v.ids))
        #expect(pieces.joined() == v.text)
        // Some token of 日本語 / 🙂 ends mid-character, so the stream held its bytes back.
        #expect(pieces.contains(""))
        // Token by token decoding would have shown replacement characters.
        #expect(v.ids.map { tok.decode([$0]) }.joined().contains("\u{FFFD}"))
    }

    @Test func streamingFlushReplacesAnUnfinishedCharacter() throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        // The first token of 🙂 alone: a lead byte with its continuation bytes missing.
        let ids = tok.encode("🙂")
        #expect(ids.count > 1)
        var stream = tok.streamingDecoder()
        #expect(stream.append(ids[0]) == "")
        #expect(stream.hasPendingBytes)
        #expect(stream.flush() == "\u{FFFD}")
        #expect(!stream.hasPendingBytes)
    }

    @Test func specialTokens() throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        #expect(tok.vocabularySize == 49152)
        #expect(tok.bosID == 1)
        #expect(tok.eosID == 2)
        #expect(tok.preTokenizer == .smollm)
        for (text, id) in [("<|endoftext|>", Int32(0)), ("<|im_start|>", 1), ("<|im_end|>", 2)] {
            #expect(tok.id(of: text) == id)
            #expect(tok.isSpecial(id))
            #expect(tok.encode(text) == [id])
            #expect(tok.decode([id]) == text)
            #expect(tok.tokenBytes(id) == Array(text.utf8))
            // As plain text the spelling is cut into ordinary tokens.
            let plain = tok.encode(text, parseSpecial: false)
            #expect(plain.count > 1)
            #expect(!plain.contains { tok.isSpecial($0) })
            #expect(tok.decode(plain) == text)
        }
        #expect(!tok.isSpecial(4093))
        #expect(!tok.isSpecial(-1))
        #expect(!tok.isSpecial(49152))
        #expect(tok.encode("a<|im_end|><|im_start|>b") == tok.encode("a") + [2, 1] + tok.encode("b"))
        // A near miss is ordinary text.
        #expect(!tok.encode("<|im_end|").contains(2))
    }

    @Test func tokenBytesUndoTheByteLevelMapping() throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        #expect(tok.tokenBytes(216) == [0x20])  // "Ġ"
        #expect(tok.tokenBytes(198) == [0x0A])  // "Ċ"
        #expect(tok.token(216) == "Ġ")
        #expect(tok.id(of: "Ġ") == 216)
        #expect(tok.tokenBytes(-1) == [])
        #expect(tok.tokenBytes(49152) == [])
        #expect(tok.decode([-5, 49152, 100_000]) == "")
        #expect(tok.encode("") == [])
    }

    @Test func encodingIsThreadSafe() async throws {
        let tok = try SmolLM2Tokenizer.tokenizer()
        let vectors = try TokenizerFixtures.vectors() + TokenizerFixtures.numpyPrompts()
        let ok = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    vectors.allSatisfy { tok.encode($0.text) == $0.ids }
                }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(ok)
    }
}

/// A tiny hand-made vocabulary, to check the BPE rules without the model.
@Suite struct TokenizerBPERulesTests {
    /// The 256 byte tokens, then `extra`.
    static func vocabulary(_ extra: [String]) -> [String] {
        (0..<256).map { ByteLevel.string(forByte: UInt8($0)) } + extra
    }

    @Test func mergesByRankThenLeftmost() throws {
        let tokens = Self.vocabulary(["ab", "bc", "abc", "aa", "aaa"])
        let tok = try BPETokenizer(tokens: tokens, merges: ["b c", "a b", "a bc", "a a", "aa a"],
                                   tokenTypes: [], bosID: 0, eosID: 0)
        let id = { (s: String) in try #require(tok.id(of: s)) }
        // "b c" outranks "a b": a + bc, then "a bc".
        #expect(tok.encode("abc") == [try id("abc")])
        // Equal ranks merge leftmost first: aa + a, then "aa a".
        #expect(tok.encode("aaa") == [try id("aaa")])
        #expect(tok.encode("aaaa") == [try id("aa"), try id("aa")])
        #expect(tok.encode("abd") == [try id("ab"), 100])  // "d" is byte 0x64 = 100
    }

    @Test func refusesMalformedVocabularies() {
        #expect(throws: ModelFileError.self) {
            try BPETokenizer(tokens: [], merges: [], tokenTypes: [], bosID: 0, eosID: 0)
        }
        #expect(throws: ModelFileError.self) {  // no byte tokens
            try BPETokenizer(tokens: ["a", "b"], merges: [], tokenTypes: [], bosID: 0, eosID: 0)
        }
        let tokens = Self.vocabulary(["ab"])
        #expect(throws: ModelFileError.self) {  // merge result missing
            try BPETokenizer(tokens: tokens, merges: ["b a"], tokenTypes: [], bosID: 0, eosID: 0)
        }
        #expect(throws: ModelFileError.self) {  // no space
            try BPETokenizer(tokens: tokens, merges: ["ab"], tokenTypes: [], bosID: 0, eosID: 0)
        }
        #expect(throws: ModelFileError.self) {  // unknown token
            try BPETokenizer(tokens: tokens, merges: ["a zz"], tokenTypes: [], bosID: 0, eosID: 0)
        }
        #expect(throws: ModelFileError.self) {  // types do not match tokens
            try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [1], bosID: 0, eosID: 0)
        }
        #expect(throws: ModelFileError.self) {  // eos out of range
            try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [], bosID: 0, eosID: 257)
        }
    }

    @Test(arguments: [
        // text, SmolLM's words, GPT-2's words
        ("it's 3.14", ["it", "'s", " ", "3", ".", "1", "4"], ["it", "'s", " 3", ".", "14"]),
        ("   leading spaces", ["  ", " leading", " spaces"], ["  ", " leading", " spaces"]),
        ("a\n\tb  ", ["a", "\n", "\t", "b", "  "], ["a", "\n", "\t", "b", "  "]),
        ("x!'s 'LL 're", ["x", "!'", "s", " '", "LL", " '", "re"], ["x", "!'", "s", " '", "LL", " '", "re"]),
        ("né à½", ["né", " à", "½"], ["né", " à", "½"]),
    ])
    func preTokenizerSplitsLikeTheRegex(_ text: String, _ smollm: [String], _ gpt2: [String]) {
        for (kind, expected) in [(PreTokenizerKind.smollm, smollm), (.gpt2, gpt2)] {
            var words: [String] = []
            var scratch = PreTokenizer.Scratch()
            var copy = text
            copy.withUTF8 { buf in
                PreTokenizer(kind: kind).split(buf, 0..<buf.count, scratch: &scratch) { r in
                    words.append(String(decoding: UnsafeBufferPointer(rebasing: buf[r]), as: UTF8.self))
                }
            }
            #expect(words == expected, "\(kind)")
        }
    }
}

/// Tokenizer metadata checks, on small GGUF files written for the test.
@Suite struct GGUFTokenizerMetadataTests {
    enum Meta {
        case string(String)
        case strings([String])
        case int32s([Int32])
        case uint32(UInt32)
    }

    /// Writes a GGUF v3 file with this metadata and no tensors; returns its path.
    static func writeGGUF(_ meta: [(String, Meta)]) throws -> String {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); d.append(contentsOf: Array(s.utf8)) }
        u32(0x4655_4747); u32(3); u64(0); u64(UInt64(meta.count))
        for (key, value) in meta {
            str(key)
            switch value {
            case .string(let s): u32(8); str(s)
            case .strings(let a): u32(9); u32(8); u64(UInt64(a.count)); a.forEach(str)
            case .int32s(let a): u32(9); u32(5); u64(UInt64(a.count)); a.forEach { u32(UInt32(bitPattern: $0)) }
            case .uint32(let v): u32(4); u32(v)
            }
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenizer-test-\(UUID().uuidString).gguf").path
        try d.write(to: URL(fileURLWithPath: path))
        return path
    }

    static let tokens = TokenizerBPERulesTests.vocabulary(["ab", "<|im_end|>"])

    static func complete() -> [(String, Meta)] {
        [("tokenizer.ggml.model", .string("gpt2")),
         ("tokenizer.ggml.pre", .string("smollm")),
         ("tokenizer.ggml.tokens", .strings(tokens)),
         ("tokenizer.ggml.merges", .strings(["a b"])),
         ("tokenizer.ggml.token_type", .int32s(tokens.map { $0 == "<|im_end|>" ? 3 : 1 })),
         ("tokenizer.ggml.bos_token_id", .uint32(257)),
         ("tokenizer.ggml.eos_token_id", .uint32(257))]
    }

    static func load(_ meta: [(String, Meta)]) throws -> BPETokenizer {
        let path = try writeGGUF(meta)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try BPETokenizer(gguf: try GGUFFile(path: path))
    }

    /// The error loading this metadata gives.
    static func error(_ meta: [(String, Meta)]) -> String {
        do {
            _ = try load(meta)
            return "no error"
        } catch let e as ModelFileError {
            return e.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func loadsCompleteMetadata() throws {
        let tok = try Self.load(Self.complete())
        #expect(tok.vocabularySize == 258)
        #expect(tok.encode("ab<|im_end|>") == [256, 257])
        #expect(tok.isSpecial(257))
        #expect(tok.eosID == 257)
        #expect(tok.preTokenizer == .smollm)
    }

    @Test(arguments: [
        ("tokenizer.ggml.tokens", "metadata tokenizer.ggml.tokens is missing"),
        ("tokenizer.ggml.merges", "metadata tokenizer.ggml.merges is missing"),
        ("tokenizer.ggml.model", "metadata tokenizer.ggml.model is missing"),
        ("tokenizer.ggml.eos_token_id", "metadata tokenizer.ggml.eos_token_id is missing"),
    ])
    func refusesMissingMetadata(_ key: String, _ expected: String) {
        let got = Self.error(Self.complete().filter { $0.0 != key })
        #expect(got.hasSuffix(".gguf: " + expected), "names the file and the key: \(got)")
    }

    @Test func refusesOtherTokenizerModels() {
        var meta = Self.complete()
        meta[0] = ("tokenizer.ggml.model", .string("llama"))
        #expect(Self.error(meta).contains("tokenizer model is \"llama\"; only \"gpt2\" (byte-level BPE) is supported"))
        meta = Self.complete()
        meta[1] = ("tokenizer.ggml.pre", .string("llama3"))
        #expect(Self.error(meta).contains("pre-tokenizer \"llama3\" is not supported"))
        meta = Self.complete()
        meta[2] = ("tokenizer.ggml.tokens", .int32s([1, 2]))
        #expect(Self.error(meta).contains("tokenizer.ggml.tokens is not an array of strings"))
        meta = Self.complete()
        meta[3] = ("tokenizer.ggml.merges", .strings(["a c"]))
        #expect(Self.error(meta).contains("merge 0 \"a c\" makes a token that is not in the vocabulary"))
        #expect(Self.error(meta).contains(".gguf: "))
    }

    @Test func chatTemplateDefaultsToPlainChatML() throws {
        let path = try Self.writeGGUF(Self.complete())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try ChatTemplate(gguf: try GGUFFile(path: path))
        #expect(t.defaultSystemPrompt == nil)
        #expect(t.render([ChatMessage(role: "user", content: "hi")]) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    }
}
