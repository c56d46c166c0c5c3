import Foundation

/// An error from loading a WordPiece vocabulary.
public struct WordPieceError: Error, CustomStringConvertible {
    /// What was wrong, naming the file.
    public let description: String
}

/// BERT's WordPiece tokenizer (uncased by default), as Hugging Face `tokenizers` runs it for
/// sentence-transformers models: basic tokenization, greedy longest-match-first WordPiece with `##`
/// continuations, `[CLS] … [SEP]` around the result, truncation to a maximum length.
///
/// Special-token strings written literally in the text (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`,
/// `[MASK]`, case-sensitive) become those tokens, as in `tokenizers`.
public struct WordPieceTokenizer: Sendable {
    /// Words longer than this many Unicode scalars become `[UNK]`.
    public static let maxCharactersPerWord = 100
    /// Scalars normalised per step when tokenizing long text (see `wordPieces`).
    static let chunkLength = 2048

    private let vocab: [[UInt8]: Int32]
    private let specials: [(text: [UInt8], id: Int32)]
    private let basic: BertBasicTokenizer
    /// The id of `[CLS]`, put first.
    public let clsID: Int32
    /// The id of `[SEP]`, put last.
    public let sepID: Int32
    /// The id of `[UNK]`, used for words WordPiece cannot spell.
    public let unkID: Int32
    /// The id of `[PAD]`.
    public let padID: Int32
    /// Number of entries in the vocabulary (the largest id plus one).
    public let vocabularySize: Int
    /// The default maximum number of tokens `encode` returns, `[CLS]` and `[SEP]` included.
    public let maxLength: Int

    /// Loads a `vocab.txt` (one token per line; the line number, from 0, is the id).
    /// - Parameters:
    ///   - vocabPath: Path of the vocabulary file.
    ///   - lowercase: Whether to lower-case text first (true for uncased models).
    ///   - stripAccents: Whether to drop accents; `nil` follows `lowercase`, as BERT does.
    ///   - maxLength: The default truncation length, special tokens included (at least 2).
    /// - Throws: `WordPieceError` when the file cannot be read or lacks `[CLS]`, `[SEP]` or `[UNK]`.
    public init(vocabPath: String, lowercase: Bool = true, stripAccents: Bool? = nil, maxLength: Int = 256) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: vocabPath))
        } catch {
            throw WordPieceError(description: "vocabulary \(vocabPath): cannot read (\(error.localizedDescription))")
        }
        var tokens: [[UInt8]] = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var start = 0
            let n = raw.count
            var i = 0
            while i <= n {
                if i == n || raw[i] == 0x0A {
                    var end = i
                    if end > start && raw[end - 1] == 0x0D { end -= 1 }
                    if i < n || end > start { tokens.append(Array(raw[start..<end])) }
                    start = i + 1
                }
                i += 1
            }
        }
        try self.init(tokens: tokens, source: vocabPath, lowercase: lowercase, stripAccents: stripAccents, maxLength: maxLength)
    }

    /// Builds a tokenizer from an in-memory vocabulary (index = id).
    /// - Throws: `WordPieceError` when `[CLS]`, `[SEP]` or `[UNK]` is missing.
    public init(vocabulary: [String], lowercase: Bool = true, stripAccents: Bool? = nil, maxLength: Int = 256) throws {
        try self.init(tokens: vocabulary.map { Array($0.utf8) }, source: "in-memory vocabulary",
                      lowercase: lowercase, stripAccents: stripAccents, maxLength: maxLength)
    }

    private init(tokens: [[UInt8]], source: String, lowercase: Bool, stripAccents: Bool?, maxLength: Int) throws {
        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        guard tokens.count < Int(Int32.max) else {
            throw WordPieceError(description: "vocabulary \(source): \(tokens.count) entries is too many")
        }
        // A repeated token keeps its last line, as BERT's loader does.
        for (i, token) in tokens.enumerated() { vocab[token] = Int32(i) }
        func special(_ name: String) throws -> Int32 {
            guard let id = vocab[Array(name.utf8)] else {
                throw WordPieceError(description: "vocabulary \(source): has no \(name) token")
            }
            return id
        }
        self.clsID = try special("[CLS]")
        self.sepID = try special("[SEP]")
        self.unkID = try special("[UNK]")
        self.padID = (try? special("[PAD]")) ?? 0
        var specials: [(text: [UInt8], id: Int32)] = []
        for name in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] {
            if let id = vocab[Array(name.utf8)] { specials.append((Array(name.utf8), id)) }
        }
        self.specials = specials
        self.vocab = vocab
        self.vocabularySize = tokens.count
        self.maxLength = max(2, maxLength)
        self.basic = BertBasicTokenizer(lowercase: lowercase, stripAccents: stripAccents ?? lowercase, splitCJK: true)
    }

    /// Tokenizes `text` into ids: `[CLS]`, the WordPiece tokens, `[SEP]`.
    /// - Parameters:
    ///   - text: Any string.
    ///   - maxLength: Total length limit including `[CLS]` and `[SEP]`; `nil` uses the tokenizer's default.
    ///     Longer inputs keep their first tokens.
    /// - Returns: At least two ids.
    public func encode(_ text: String, maxLength: Int? = nil) -> [Int32] {
        let limit = max(2, maxLength ?? self.maxLength)
        var ids: [Int32] = [clsID]
        ids.reserveCapacity(min(limit, text.utf8.count + 2))
        wordPieces(text, limit: limit - 2, into: &ids)
        ids.append(sepID)
        return ids
    }

    /// The WordPiece tokens of `text` without `[CLS]`/`[SEP]` and without truncation.
    public func tokenize(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        wordPieces(text, limit: Int.max, into: &ids)
        return ids
    }

    /// The ids of `text` appended to `ids`, stopping once `limit` have been appended.
    private func wordPieces(_ text: String, limit: Int, into ids: inout [Int32]) {
        let start = ids.count
        for segment in splitOnSpecials(text) {
            if ids.count - start >= limit { break }
            switch segment {
            case .special(let id):
                ids.append(id)
            case .text(let piece):
                // Normalise long text a chunk at a time so truncation can stop early: chunks end just
                // after an ASCII whitespace character, which no normalisation step joins to its
                // neighbours, so the words are the same as for the whole text.
                let scalars = piece.unicodeScalars
                var chunkStart = scalars.startIndex
                var index = chunkStart
                var length = 0
                while chunkStart != scalars.endIndex && ids.count - start < limit {
                    let value = scalars[index].value
                    index = scalars.index(after: index)
                    length += 1
                    let boundary = length >= WordPieceTokenizer.chunkLength
                        && (value == 0x20 || value == 0x09 || value == 0x0A || value == 0x0D)
                    if boundary || index == scalars.endIndex {
                        for word in basic.words(String(scalars[chunkStart..<index])) {
                            if ids.count - start >= limit { break }
                            appendWord(word, into: &ids, limit: start + limit)
                        }
                        chunkStart = index
                        length = 0
                    }
                }
            }
        }
        if ids.count - start > limit { ids.removeLast(ids.count - start - limit) }
    }

    private enum Segment { case text(String), special(Int32) }

    /// Splits `text` at literal special tokens (matched on the raw text, before any normalisation).
    private func splitOnSpecials(_ text: String) -> [Segment] {
        let bytes = Array(text.utf8)
        guard bytes.contains(0x5B) else { return [.text(text)] }  // no "[": nothing to split
        var segments: [Segment] = []
        var segmentStart = 0
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x5B, let match = specials.first(where: { matches($0.text, in: bytes, at: i) }) {
                if i > segmentStart {
                    segments.append(.text(String(decoding: bytes[segmentStart..<i], as: UTF8.self)))
                }
                segments.append(.special(match.id))
                i += match.text.count
                segmentStart = i
            } else {
                i += 1
            }
        }
        if segmentStart < bytes.count {
            segments.append(.text(String(decoding: bytes[segmentStart...], as: UTF8.self)))
        }
        return segments
    }

    private func matches(_ needle: [UInt8], in haystack: [UInt8], at offset: Int) -> Bool {
        guard offset + needle.count <= haystack.count else { return false }
        for j in 0..<needle.count where haystack[offset + j] != needle[j] { return false }
        return true
    }

    /// Greedy longest-match-first WordPiece of one word; the whole word becomes `[UNK]` when any
    /// part of it cannot be matched.
    private func appendWord(_ word: [Unicode.Scalar], into ids: inout [Int32], limit: Int) {
        if word.count > WordPieceTokenizer.maxCharactersPerWord {
            ids.append(unkID)
            return
        }
        // UTF-8 of the word plus the byte offset where each scalar starts, so candidates are byte slices.
        var utf8: [UInt8] = []
        var boundaries: [Int] = []
        utf8.reserveCapacity(word.count)
        for scalar in word {
            boundaries.append(utf8.count)
            if let encoded = UTF8.encode(scalar) { utf8.append(contentsOf: encoded) }
        }
        boundaries.append(utf8.count)
        let prefix: [UInt8] = [0x23, 0x23]  // "##"
        var pieces: [Int32] = []
        var startIndex = 0
        var key: [UInt8] = []
        while startIndex < word.count {
            var endIndex = word.count
            var found: Int32? = nil
            while endIndex > startIndex {
                key.removeAll(keepingCapacity: true)
                if startIndex > 0 { key.append(contentsOf: prefix) }
                key.append(contentsOf: utf8[boundaries[startIndex]..<boundaries[endIndex]])
                if let id = vocab[key] {
                    found = id
                    break
                }
                endIndex -= 1
            }
            guard let id = found else {
                ids.append(unkID)
                return
            }
            pieces.append(id)
            startIndex = endIndex
        }
        let room = max(0, limit - ids.count)
        ids.append(contentsOf: pieces.prefix(room))
    }
}
