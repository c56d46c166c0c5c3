/// The hyper-parameters of a llama-architecture model, read from GGUF metadata.
public struct LlamaConfig: Sendable, Equatable {
    public let layers: Int
    public let width: Int
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let ffnWidth: Int
    public let vocabSize: Int
    public let contextLength: Int
    public let rmsEps: Float
    public let ropeBase: Float

    /// Reads and validates the `llama.*` keys.
    /// - Throws: `ModelFileError` for another architecture or inconsistent dimensions.
    public init(_ gguf: GGUFFile) throws {
        let arch = gguf.metadata["general.architecture"]?.string ?? "(none)"
        guard arch == "llama" else {
            throw ModelFileError("\(gguf.path): unsupported architecture \(arch) (supported: llama)")
        }
        layers = try gguf.requireInt("llama.block_count")
        width = try gguf.requireInt("llama.embedding_length")
        heads = try gguf.requireInt("llama.attention.head_count")
        kvHeads = gguf.metadata["llama.attention.head_count_kv"]?.int ?? heads
        ffnWidth = try gguf.requireInt("llama.feed_forward_length")
        contextLength = gguf.metadata["llama.context_length"]?.int ?? 2048
        rmsEps = Float(try gguf.requireDouble("llama.attention.layer_norm_rms_epsilon"))
        ropeBase = Float(gguf.metadata["llama.rope.freq_base"]?.double ?? 10000)
        guard layers > 0, layers <= 1024, width > 0, heads > 0, kvHeads > 0, heads % kvHeads == 0,
              width % heads == 0, ffnWidth > 0, contextLength > 0 else {
            throw ModelFileError("\(gguf.path): inconsistent llama dimensions (layers \(layers), width \(width), heads \(heads)/\(kvHeads), ffn \(ffnWidth))")
        }
        headDim = width / heads
        guard headDim % 2 == 0, width % 32 == 0, ffnWidth % 32 == 0 else {
            throw ModelFileError("\(gguf.path): head size \(headDim) / widths not supported by the engine")
        }
        if let rope = gguf.metadata["llama.rope.dimension_count"]?.int, rope != headDim {
            throw ModelFileError("\(gguf.path): partial RoPE (\(rope) of \(headDim) dimensions) is not supported")
        }
        guard let embd = gguf.tensorInfo("token_embd.weight"), embd.shape.count == 2, embd.shape[0] == width else {
            throw ModelFileError("\(gguf.path): tensor token_embd.weight is missing or not [\(width), vocab]")
        }
        vocabSize = embd.shape[1]
    }

    /// Width of the K (and V) projection: kvHeads * headDim.
    public var kvWidth: Int { kvHeads * headDim }
}
