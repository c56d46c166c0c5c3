/// Decodes a sequence's tokens one at a time into text that is safe to show as it comes: a token
/// that ends inside a multi-byte UTF-8 character (common for emoji and CJK, whose bytes BPE splits
/// across tokens) is held back until the character completes.
///
/// Use one per sequence. For valid UTF-8 output, the concatenation of every `append` result and the
/// final `flush()` equals `tokenizer.decode(ids)`.
public struct StreamingDecoder: Sendable {
    /// The tokenizer whose tokens this decodes.
    public let tokenizer: BPETokenizer
    private var pending: [UInt8] = []

    /// A decoder for one sequence of `tokenizer`'s tokens.
    public init(tokenizer: BPETokenizer) {
        self.tokenizer = tokenizer
    }

    /// Adds a token and returns the text it completes: every complete character not returned
    /// before (possibly empty). Invalid bytes come out as U+FFFD.
    public mutating func append(_ id: Int32) -> String {
        tokenizer.appendBytes(of: id, to: &pending)
        let keep = StreamingDecoder.incompleteSuffixLength(pending)
        if keep == pending.count { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Returns whatever is still held back (an unfinished character comes out as U+FFFD) and
    /// empties the decoder.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Whether bytes of an unfinished character are held back.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// How many bytes at the end of `bytes` are the valid start of a UTF-8 character that needs
    /// more bytes (0 when the buffer ends on a character boundary or with invalid bytes).
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Find the last byte that is not a continuation byte, within the last 4.
        var start = n - 1
        while start >= 0, start >= n - 4, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0, start >= n - 4 else { return 0 }
        let lead = bytes[start]
        let need: Int
        switch lead {
        case 0xC2...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF4: need = 4
        default: return 0  // ASCII or an invalid lead byte: nothing to wait for
        }
        let have = n - start
        guard have < need else { return 0 }
        // The second byte, when present, must be in the range the lead byte allows.
        if have >= 2 {
            let b1 = bytes[start + 1]
            let ok: Bool
            switch lead {
            case 0xE0: ok = b1 >= 0xA0
            case 0xED: ok = b1 <= 0x9F
            case 0xF0: ok = b1 >= 0x90
            case 0xF4: ok = b1 <= 0x8F
            default: ok = true
            }
            if !ok { return 0 }
        }
        return have
    }
}

extension BPETokenizer {
    /// A streaming decoder for one sequence of this tokenizer's tokens.
    public func streamingDecoder() -> StreamingDecoder { StreamingDecoder(tokenizer: self) }
}
