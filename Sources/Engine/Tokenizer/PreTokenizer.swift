/// How a byte-level BPE tokenizer cuts text into words before BPE merges them.
public enum PreTokenizerKind: String, Sendable {
    /// GPT-2's regex only (llama.cpp's `tokenizer.ggml.pre` "gpt2").
    case gpt2
    /// Every number character on its own, then GPT-2's regex (SmolLM's "smollm": Hugging Face's
    /// `Digits(individual_digits=True)` followed by `ByteLevel(use_regex=True)`).
    case smollm
}

/// The character classes GPT-2's regex tells apart.
enum ScalarClass: UInt8 {
    /// `\p{L}`
    case letter
    /// `\p{N}`
    case number
    /// `\s` (Unicode White_Space)
    case space
    /// anything else
    case other

    static let ascii: [ScalarClass] = (0..<128).map { v in
        let s = Unicode.Scalar(UInt8(v))
        return classify(s)
    }

    @inline(__always)
    static func of(_ value: UInt32) -> ScalarClass {
        if value < 128 { return ascii[Int(value)] }
        guard let s = Unicode.Scalar(value) else { return .other }
        return classify(s)
    }

    static func classify(_ s: Unicode.Scalar) -> ScalarClass {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return s.properties.isWhitespace ? .space : .other
        }
    }
}

/// Splits text into the words BPE works on, as Hugging Face tokenizers' pre-tokenizers do, by hand
/// over Unicode scalars (no regex engine):
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
struct PreTokenizer {
    let kind: PreTokenizerKind

    /// Calls `emit` with the UTF-8 byte range of each word of `bytes[range]`, in order. The range
    /// must hold whole UTF-8 sequences (invalid bytes are treated as U+FFFD, each one alone).
    func split(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, scratch: inout Scratch,
               _ emit: (Range<Int>) -> Void) {
        scratch.decode(bytes, range)
        let n = scratch.values.count
        if n == 0 { return }
        switch kind {
        case .gpt2:
            regexSplit(scratch, 0, n, emit)
        case .smollm:
            var start = 0
            for i in 0..<n where scratch.classes[i] == .number {
                if start < i { regexSplit(scratch, start, i, emit) }
                emit(scratch.offsets[i]..<scratch.offsets[i + 1])
                start = i + 1
            }
            if start < n { regexSplit(scratch, start, n, emit) }
        }
    }

    /// GPT-2's regex over scalars `lo..<hi` of the scratch buffers, as a backtracking engine that
    /// tries the alternatives in order would match it (the text ends at `hi`).
    private func regexSplit(_ s: Scratch, _ lo: Int, _ hi: Int, _ emit: (Range<Int>) -> Void) {
        let v = s.values, c = s.classes, off = s.offsets
        var i = lo
        while i < hi {
            let start = i
            // Contractions: 's 't 're 've 'm 'll 'd (case-sensitive).
            if v[i] == 0x27, i + 1 < hi {
                let a = v[i + 1]
                if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 {  // s t m d
                    i += 2
                    emit(off[start]..<off[i]); continue
                }
                if i + 2 < hi {
                    let b = v[i + 2]
                    if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) {  // re ve ll
                        i += 3
                        emit(off[start]..<off[i]); continue
                    }
                }
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
            var j = i
            if v[i] == 0x20, i + 1 < hi { j = i + 1 }
            let cls = c[j]
            if cls != .space {
                j += 1
                while j < hi, c[j] == cls { j += 1 }
                i = j
                emit(off[start]..<off[i]); continue
            }
            // `\s+(?!\S)` then `\s+`: a run of whitespace, less its last character when that is
            // followed by a non-space (which then starts the next word), unless that leaves nothing.
            if c[i] == .space {
                var k = i + 1
                while k < hi, c[k] == .space { k += 1 }
                i = (k < hi && k - start >= 2) ? k - 1 : k
                emit(off[start]..<off[i]); continue
            }
            // Unreachable: every scalar is in one of the classes above.
            i += 1
            emit(off[start]..<off[i])
        }
    }

    /// Per-call buffers: the scalars of the text being split, their classes and byte offsets.
    struct Scratch {
        var values: [UInt32] = []
        var classes: [ScalarClass] = []
        /// Byte offset of each scalar, plus one past the end.
        var offsets: [Int] = []

        mutating func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
            values.removeAll(keepingCapacity: true)
            classes.removeAll(keepingCapacity: true)
            offsets.removeAll(keepingCapacity: true)
            var i = range.lowerBound
            let end = range.upperBound
            while i < end {
                offsets.append(i)
                let b0 = bytes[i]
                var value: UInt32 = 0xFFFD
                var len = 1
                if b0 < 0x80 {
                    value = UInt32(b0)
                } else if b0 >= 0xC2, b0 < 0xE0, i + 1 < end, bytes[i + 1] & 0xC0 == 0x80 {
                    value = UInt32(b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)
                    len = 2
                } else if b0 >= 0xE0, b0 < 0xF0, i + 2 < end, bytes[i + 1] & 0xC0 == 0x80, bytes[i + 2] & 0xC0 == 0x80 {
                    value = UInt32(b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)
                    len = 3
                } else if b0 >= 0xF0, b0 < 0xF5, i + 3 < end, bytes[i + 1] & 0xC0 == 0x80,
                          bytes[i + 2] & 0xC0 == 0x80, bytes[i + 3] & 0xC0 == 0x80 {
                    value = UInt32(b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12
                        | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
                    len = 4
                }
                values.append(value)
                classes.append(ScalarClass.of(value))
                i += len
            }
            offsets.append(end)
        }
    }
}
