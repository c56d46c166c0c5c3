/// A byte-level BPE tokenizer (GPT-2 style, as GGUF's `tokenizer.ggml.model` "gpt2"), matching
/// Hugging Face tokenizers configured with the vocabulary and merges, the pre-tokenizer named by
/// `PreTokenizerKind` and control tokens (token type 3) as special tokens.
///
/// Immutable after construction, so one instance can encode and decode from any number of threads.
public final class BPETokenizer: Sendable {
    /// The id of the beginning-of-sequence token (not added by `encode`).
    public let bosID: Int32
    /// The id of the end-of-sequence token.
    public let eosID: Int32
    /// How text is cut into words before merging.
    public let preTokenizer: PreTokenizerKind

    private let table: TokenTable
    private let special: [Bool]
    /// The vocabulary id of each byte's one-character token, -1 for the few bytes a vocabulary may
    /// lack (SmolLM's has no token for 0xC0, 0xC1, 0xF5...0xFF and some control bytes): like Hugging
    /// Face's BPE without an unknown token, `encode` drops such bytes.
    private let byteIDs: [Int32]
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    /// Decoded bytes of every token, back to back; token i is `tokenBytes[byteOffsets[i]..<byteOffsets[i+1]]`.
    private let decodedBytes: [UInt8]
    private let byteOffsets: [Int32]
    /// Special tokens' UTF-8 spellings, grouped by first byte, longest first.
    private let specialsByFirstByte: [[(bytes: [UInt8], id: Int32)]]

    /// Builds a tokenizer from a byte-level vocabulary.
    /// - Parameters:
    ///   - tokens: the vocabulary, by id, spelled in GPT-2's byte-to-character mapping.
    ///   - merges: BPE merges in priority order, each two tokens separated by one space (`"Ġ t"`).
    ///   - tokenTypes: GGUF token types by id (3 = control, treated as a special token); may be
    ///     empty for none.
    ///   - bosID: beginning-of-sequence id; `eosID`: end-of-sequence id.
    ///   - preTokenizer: how text is cut into words (SmolLM's by default).
    /// - Throws: `ModelFileError` when the pieces do not fit together (a merge naming an unknown
    ///   token, a byte with no token, ids out of range, ...).
    public init(tokens: [String], merges: [String], tokenTypes: [Int], bosID: Int32, eosID: Int32,
                preTokenizer: PreTokenizerKind = .smollm) throws {
        guard !tokens.isEmpty else { throw ModelFileError("tokenizer vocabulary is empty") }
        guard tokens.count < Int(Int32.max) else { throw ModelFileError("tokenizer vocabulary has \(tokens.count) tokens, too many") }
        guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
            throw ModelFileError("tokenizer has \(tokens.count) tokens but \(tokenTypes.count) token types")
        }
        for (name, id) in [("bos", bosID), ("eos", eosID)] where id < 0 || Int(id) >= tokens.count {
            throw ModelFileError("tokenizer \(name) token id \(id) is outside the vocabulary (0..<\(tokens.count))")
        }
        self.bosID = bosID
        self.eosID = eosID
        self.preTokenizer = preTokenizer
        let table = TokenTable(tokens)
        self.table = table

        var special = [Bool](repeating: false, count: tokens.count)
        for (i, type) in tokenTypes.enumerated() where type == 3 { special[i] = true }
        self.special = special

        var byteIDs: [Int32] = []
        byteIDs.reserveCapacity(256)
        for b in 0..<256 {
            let s = ByteLevel.string(forByte: UInt8(b))
            let id = table.find(s)
            // Printable ASCII must be there, or this is not a byte-level vocabulary at all.
            guard id != nil || !(0x20...0x7E).contains(b) else {
                throw ModelFileError("tokenizer vocabulary has no token for byte 0x\(String(b, radix: 16)) (\"\(s)\"); it is not a byte-level BPE vocabulary")
            }
            byteIDs.append(id ?? -1)
        }
        self.byteIDs = byteIDs

        var mergeTable: [UInt64: UInt64] = [:]
        mergeTable.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            var merge = merge
            let problem: String? = merge.withUTF8 { utf8 in
                guard let space = utf8.firstIndex(of: 0x20) else { return "is not two tokens separated by a space" }
                let left = UnsafeBufferPointer(rebasing: utf8[..<space])
                let right = UnsafeBufferPointer(rebasing: utf8[(space + 1)...])
                guard let a = table.find(left), let b = table.find(right) else {
                    return "names a token that is not in the vocabulary"
                }
                guard let m = table.find(left, right) else { return "makes a token that is not in the vocabulary" }
                // A repeated pair keeps its last rank, as Hugging Face's BPE does.
                mergeTable[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] = UInt64(rank) << 32 | UInt64(UInt32(m))
                return nil
            }
            if let problem { throw ModelFileError("tokenizer merge \(rank) \"\(merge)\" \(problem)") }
        }
        self.merges = mergeTable

        var decoded: [UInt8] = []
        decoded.reserveCapacity(tokens.count * 8)
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(tokens.count + 1)
        var specials = [[(bytes: [UInt8], id: Int32)]](repeating: [], count: 256)
        for i in 0..<tokens.count {
            let utf8 = table.utf8(i)
            if special[i] {
                let bytes = Array(utf8)
                decoded.append(contentsOf: bytes)
                if let first = bytes.first { specials[Int(first)].append((bytes, Int32(i))) }
            } else {
                ByteLevel.appendBytes(ofTokenUTF8: utf8, to: &decoded)
            }
            guard decoded.count < Int(Int32.max) else { throw ModelFileError("tokenizer vocabulary is too large") }
            offsets.append(Int32(decoded.count))
        }
        for b in 0..<256 { specials[b].sort { $0.bytes.count > $1.bytes.count } }
        self.decodedBytes = decoded
        self.byteOffsets = offsets
        self.specialsByFirstByte = specials
    }

    /// Builds the tokenizer of a GGUF model file from its `tokenizer.ggml.*` metadata.
    /// - Throws: `ModelFileError` naming the file when the tokenizer is missing, is not byte-level
    ///   BPE ("gpt2"), uses a pre-tokenizer this tokenizer does not implement, or is malformed.
    public convenience init(gguf: GGUFFile) throws {
        let path = gguf.path
        let meta = gguf.metadata
        func fail(_ message: String) -> ModelFileError { ModelFileError("\(path): \(message)") }
        guard let model = meta["tokenizer.ggml.model"] else { throw fail("metadata tokenizer.ggml.model is missing") }
        guard model.string == "gpt2" else {
            throw fail("tokenizer model is \(model.string.map { "\"\($0)\"" } ?? "not a string"); only \"gpt2\" (byte-level BPE) is supported")
        }
        let pre: PreTokenizerKind
        switch meta["tokenizer.ggml.pre"]?.string {
        case "smollm": pre = .smollm
        case "gpt2", nil: pre = .gpt2
        case let other?: throw fail("tokenizer pre-tokenizer \"\(other)\" is not supported (supported: smollm, gpt2)")
        }
        guard let tokensValue = meta["tokenizer.ggml.tokens"] else { throw fail("metadata tokenizer.ggml.tokens is missing") }
        guard let tokens = tokensValue.stringArray else { throw fail("metadata tokenizer.ggml.tokens is not an array of strings") }
        guard let mergesValue = meta["tokenizer.ggml.merges"] else { throw fail("metadata tokenizer.ggml.merges is missing") }
        guard let merges = mergesValue.stringArray else { throw fail("metadata tokenizer.ggml.merges is not an array of strings") }
        var types: [Int] = []
        if let typesValue = meta["tokenizer.ggml.token_type"] {
            guard let t = typesValue.intArray else { throw fail("metadata tokenizer.ggml.token_type is not an array of integers") }
            types = t
        }
        func id(_ key: String) throws -> Int32 {
            guard let v = meta[key] else { throw fail("metadata \(key) is missing") }
            guard let i = v.int, let i32 = Int32(exactly: i) else { throw fail("metadata \(key) is not a token id") }
            return i32
        }
        do {
            try self.init(tokens: tokens, merges: merges, tokenTypes: types,
                          bosID: try id("tokenizer.ggml.bos_token_id"), eosID: try id("tokenizer.ggml.eos_token_id"),
                          preTokenizer: pre)
        } catch let e as ModelFileError where !e.message.hasPrefix(path) {
            throw fail(e.message)
        }
    }

    /// The number of tokens in the vocabulary.
    public var vocabularySize: Int { table.count }

    /// Whether `id` is a special (control) token, which `encode` only produces from its literal
    /// spelling and which `decode` writes as its text.
    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < special.count && special[Int(id)]
    }

    /// The id of a token given its vocabulary spelling (byte-level, e.g. `"Ġthe"`, or a special
    /// token's text such as `"<|im_end|>"`), or nil.
    public func id(of token: String) -> Int32? { table.find(token) }

    /// The vocabulary spelling of a token, or nil for an id outside the vocabulary.
    public func token(_ id: Int32) -> String? {
        id >= 0 && Int(id) < table.count ? table.string(Int(id)) : nil
    }

    /// The bytes a token stands for (a special token's are its UTF-8 text); empty for an id
    /// outside the vocabulary. May be part of a multi-byte character.
    public func tokenBytes(_ id: Int32) -> [UInt8] {
        guard id >= 0, Int(id) < table.count else { return [] }
        return Array(decodedBytes[Int(byteOffsets[Int(id)])..<Int(byteOffsets[Int(id) + 1])])
    }

    /// Appends the bytes of token `id` to `out` (nothing for an id outside the vocabulary).
    func appendBytes(of id: Int32, to out: inout [UInt8]) {
        guard id >= 0, Int(id) < table.count else { return }
        out.append(contentsOf: decodedBytes[Int(byteOffsets[Int(id)])..<Int(byteOffsets[Int(id) + 1])])
    }

    /// Decodes token ids to text: the bytes of every token, as UTF-8, with invalid sequences
    /// replaced by U+FFFD. Special tokens are written as their text; ids outside the vocabulary
    /// are skipped.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Encodes text to token ids. No BOS token is added.
    /// - Parameters:
    ///   - text: the text.
    ///   - parseSpecial: when true, special tokens' spellings in the text (e.g. `<|im_start|>`)
    ///     become those tokens (the longest at the leftmost position wins); when false they are
    ///     encoded as ordinary text.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int32] {
        var text = text
        return text.withUTF8 { buffer in encode(utf8: buffer, parseSpecial: parseSpecial) }
    }

    private func encode(utf8 bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3 + 4)
        var state = EncodeState()
        let pre = PreTokenizer(kind: preTokenizer)
        var segmentStart = 0
        var i = 0
        let n = bytes.count
        if parseSpecial {
            while i < n {
                let candidates = specialsByFirstByte[Int(bytes[i])]
                var matched: (length: Int, id: Int32)? = nil
                for c in candidates where c.bytes.count <= n - i {
                    var ok = true
                    for k in 1..<c.bytes.count where bytes[i + k] != c.bytes[k] { ok = false; break }
                    if ok { matched = (c.bytes.count, c.id); break }
                }
                if let m = matched {
                    if segmentStart < i { encodeOrdinary(bytes, segmentStart..<i, pre, &state, &out) }
                    out.append(m.id)
                    i += m.length
                    segmentStart = i
                } else {
                    i += 1
                }
            }
        }
        if segmentStart < n { encodeOrdinary(bytes, segmentStart..<n, pre, &state, &out) }
        return out
    }

    /// Buffers reused across the words of one `encode` call.
    private struct EncodeState {
        var scratch = PreTokenizer.Scratch()
        var symbols: [Int32] = []
        var next: [Int32] = []
        var prev: [Int32] = []
        var heap: [UInt64] = []
    }

    private func encodeOrdinary(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ pre: PreTokenizer,
                                _ state: inout EncodeState, _ out: inout [Int32]) {
        var scratch = state.scratch
        state.scratch = PreTokenizer.Scratch()
        pre.split(bytes, range, scratch: &scratch) { word in
            bpe(bytes, word, &state, &out)
        }
        state.scratch = scratch
    }

    /// Merges the bytes of one word by rank (lowest first, leftmost first among equals) and
    /// appends the resulting ids.
    private func bpe(_ bytes: UnsafeBufferPointer<UInt8>, _ word: Range<Int>, _ st: inout EncodeState,
                     _ out: inout [Int32]) {
        if word.count == 1 {
            let id = byteIDs[Int(bytes[word.lowerBound])]
            if id >= 0 { out.append(id) }
            return
        }
        st.symbols.removeAll(keepingCapacity: true)
        st.next.removeAll(keepingCapacity: true)
        st.prev.removeAll(keepingCapacity: true)
        st.heap.removeAll(keepingCapacity: true)
        for i in word {
            let id = byteIDs[Int(bytes[i])]
            if id >= 0 { st.symbols.append(id) }
        }
        let n = st.symbols.count
        if n == 0 { return }
        for k in 0..<n {
            st.prev.append(Int32(k - 1))
            st.next.append(k + 1 < n ? Int32(k + 1) : -1)
        }
        // Heap entries: rank << 32 | position of the pair's left symbol.
        for k in 0..<(n - 1) {
            if let m = merges[pairKey(st.symbols[k], st.symbols[k + 1])] {
                heapPush(&st.heap, (m & 0xFFFF_FFFF_0000_0000) | UInt64(k))
            }
        }
        while let top = heapPop(&st.heap) {
            let rank = top >> 32
            let k = Int(top & 0xFFFF_FFFF)
            let left = st.symbols[k]
            let r = st.next[k]
            guard left >= 0, r >= 0 else { continue }
            let right = st.symbols[Int(r)]
            guard let m = merges[pairKey(left, right)], m >> 32 == rank else { continue }
            // Merge k and r into k.
            let merged = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            st.symbols[k] = merged
            st.symbols[Int(r)] = -1
            let after = st.next[Int(r)]
            st.next[k] = after
            if after >= 0 { st.prev[Int(after)] = Int32(k) }
            let before = st.prev[k]
            if before >= 0, let pm = merges[pairKey(st.symbols[Int(before)], merged)] {
                heapPush(&st.heap, (pm & 0xFFFF_FFFF_0000_0000) | UInt64(before))
            }
            if after >= 0, let nm = merges[pairKey(merged, st.symbols[Int(after)])] {
                heapPush(&st.heap, (nm & 0xFFFF_FFFF_0000_0000) | UInt64(k))
            }
        }
        var k: Int32 = 0
        while k >= 0 {
            out.append(st.symbols[Int(k)])
            k = st.next[Int(k)]
        }
    }

    @inline(__always)
    private func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }
}

@inline(__always)
private func heapPush(_ heap: inout [UInt64], _ value: UInt64) {
    heap.append(value)
    var i = heap.count - 1
    while i > 0 {
        let parent = (i - 1) / 2
        if heap[parent] <= value { break }
        heap[i] = heap[parent]
        i = parent
    }
    heap[i] = value
}

@inline(__always)
private func heapPop(_ heap: inout [UInt64]) -> UInt64? {
    guard let last = heap.popLast() else { return nil }
    if heap.isEmpty { return last }
    let top = heap[0]
    let n = heap.count
    var i = 0
    while true {
        var child = 2 * i + 1
        if child >= n { break }
        if child + 1 < n, heap[child + 1] < heap[child] { child += 1 }
        if heap[child] >= last { break }
        heap[i] = heap[child]
        i = child
    }
    heap[i] = last
    return top
}
