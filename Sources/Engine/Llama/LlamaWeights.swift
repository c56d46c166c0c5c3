/// The tensors of one transformer block, used in place from the mapped file.
struct LlamaLayer: @unchecked Sendable {
    let attnNorm: UnsafePointer<Float>
    let ffnNorm: UnsafePointer<Float>
    let q, k, v, o: QuantMatrix
    let gate, up, down: QuantMatrix
}

/// All tensors of a llama model. Weights stay in their quantized form inside the mapping: nothing
/// is expanded to floats up front.
struct LlamaWeights: @unchecked Sendable {
    let embedding: QuantMatrix
    /// The output projection: `output.weight`, or the token embedding when they are tied.
    let output: QuantMatrix
    let outputNorm: UnsafePointer<Float>
    let layers: [LlamaLayer]

    init(_ g: GGUFFile, _ c: LlamaConfig) throws {
        func matrix(_ name: String, _ cols: Int, _ rows: Int) throws -> QuantMatrix {
            QuantMatrix(g, try g.tensor(name, shape: [cols, rows]))
        }
        func vector(_ name: String, _ n: Int) throws -> UnsafePointer<Float> {
            let t = try g.tensor(name, shape: [n])
            guard t.type == .f32 else { throw ModelFileError("\(g.path): tensor \(name) is \(t.type), expected F32") }
            return g.data(of: t).assumingMemoryBound(to: Float.self)
        }
        embedding = try matrix("token_embd.weight", c.width, c.vocabSize)
        output = g.tensorInfo("output.weight") != nil ? try matrix("output.weight", c.width, c.vocabSize) : embedding
        outputNorm = try vector("output_norm.weight", c.width)
        layers = try (0..<c.layers).map { l in
            let p = "blk.\(l)."
            return LlamaLayer(
                attnNorm: try vector(p + "attn_norm.weight", c.width),
                ffnNorm: try vector(p + "ffn_norm.weight", c.width),
                q: try matrix(p + "attn_q.weight", c.width, c.width),
                k: try matrix(p + "attn_k.weight", c.width, c.kvWidth),
                v: try matrix(p + "attn_v.weight", c.width, c.kvWidth),
                o: try matrix(p + "attn_output.weight", c.width, c.width),
                gate: try matrix(p + "ffn_gate.weight", c.width, c.ffnWidth),
                up: try matrix(p + "ffn_up.weight", c.width, c.ffnWidth),
                down: try matrix(p + "ffn_down.weight", c.ffnWidth, c.width))
        }
    }
}
