/// The one context check batchd can make without the deployment's tokenizer: a prompt is too long for
/// a deployment's `context_length` only when even a *lower bound* of its tokens leaves no room for one
/// generated token (the rule modeld applies with exact counts for the built-in engine).
///
/// UTF-8 bytes are an *upper* bound of a byte-level tokenizer's tokens (every token stands for at least
/// one byte), so they can say a prompt surely fits, never that it does not. A lower bound needs the
/// longest token: every token stands for at most that many bytes, so a prompt of `b` bytes has at least
/// `b / maximumBytesPerToken` tokens. The longest tokens of the vocabularies in use are runs of
/// whitespace or punctuation well under 256 bytes (SmolLM2's is 81: a newline and 80 spaces, measured
/// in its GGUF; SentencePiece's default caps a piece at 16 characters), so with 256 the check refuses no
/// prompt that fits such a tokenizer — the one assumption, stated in docs/batchd.md — and catches only
/// prompts that are grossly too long. Every other case is left to the upstream, whose refusal modeld
/// maps to `contextLengthExceeded` (so fallbacks apply).
/// `max_tokens` is not part of the check: servers differ on it (vLLM and OpenAI refuse prompt +
/// max_tokens over the context, llama.cpp's server stops at the context), so their own answer decides.
enum PromptBound {
    /// Bytes one token can stand for at most, in any tokenizer the check must be right for.
    static let maximumBytesPerToken = 256

    /// The fewest tokens a prompt of `bytes` UTF-8 bytes can be (chat templates only add to it).
    static func minimumTokens(bytes: Int) -> Int {
        bytes <= 0 ? 0 : (bytes + maximumBytesPerToken - 1) / maximumBytesPerToken
    }

    /// Whether a prompt of `bytes` bytes certainly does not fit a context of `contextLength` tokens
    /// (nil: unknown, never refused).
    static func exceeds(bytes: Int, contextLength: Int?) -> Bool {
        guard let contextLength else { return false }
        return minimumTokens(bytes: bytes) >= contextLength
    }
}
