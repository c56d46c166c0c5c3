import Foundation

/// A llama-architecture language model (SmolLM2 and its kind) from a GGUF file, run on the CPU.
///
/// `forward` takes the next tokens of several sequences at once — a whole prompt for a sequence that
/// just joined, one token for each sequence that is decoding — and runs them as one batch through
/// every layer, so each weight matrix is read from memory once per step for all of them.
public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfig
    /// The mapping the weights are read from (kept alive with the model). Not the whole `GGUFFile`: its
    /// parsed metadata (SmolLM2's 49,152 tokens, 48,900 merges and token types, one boxed value each,
    /// several MiB) is needed only while the tokenizer and template are built.
    public let mapping: MappedFile
    let weights: LlamaWeights

    /// Loads the model from an opened GGUF file.
    /// - Throws: `ModelFileError` for an unsupported architecture or a missing/misshapen tensor.
    public init(gguf: GGUFFile) throws {
        mapping = gguf.file
        config = try LlamaConfig(gguf)
        weights = try LlamaWeights(gguf, config)
    }

    /// Opens and loads the GGUF file at `path`.
    public convenience init(path: String) throws {
        try self.init(gguf: GGUFFile(path: path))
    }

    /// A new, empty KV cache for one sequence.
    public func makeCache() -> KVCache { KVCache(layers: config.layers, kvWidth: config.kvWidth) }

    /// One entry of a batched forward step: a sequence's cache and the tokens to append to it.
    public struct Step {
        public let cache: KVCache
        public let tokens: [Int32]
        public init(cache: KVCache, tokens: [Int32]) {
            self.cache = cache
            self.tokens = tokens
        }
    }

    /// Appends each step's tokens to its sequence and returns, per step, the logits that predict the
    /// token after its last one.
    /// - Throws: `EngineError` for an empty step, a token id outside the vocabulary, or a sequence
    ///   that would exceed the model's context; nothing is changed then.
    public func forward(_ steps: [Step]) throws -> [[Float]] {
        let c = config
        for s in steps {
            guard !s.tokens.isEmpty else { throw EngineError("a step has no tokens") }
            if let bad = s.tokens.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
                throw EngineError("token id \(bad) is outside the vocabulary (0..<\(c.vocabSize))")
            }
            guard s.cache.count + s.tokens.count <= c.contextLength else {
                throw EngineError("sequence of \(s.cache.count + s.tokens.count) tokens exceeds the context length \(c.contextLength)")
            }
        }
        guard !steps.isEmpty else { return [] }
        let rows = steps.reduce(0) { $0 + $1.tokens.count }
        let d = c.width, kvw = c.kvWidth, hd = c.headDim, half = hd / 2

        let x = Scratch(rows * d), h = Scratch(rows * d), q = Scratch(rows * d), att = Scratch(rows * d)
        let k = Scratch(rows * kvw), v = Scratch(rows * kvw)
        let g = Scratch(rows * c.ffnWidth), u = Scratch(rows * c.ffnWidth)
        let cosT = Scratch(rows * half), sinT = Scratch(rows * half)
        defer { [x, h, q, att, k, v, g, u, cosT, sinT].forEach { $0.free() } }

        // Row bookkeeping: which sequence and position each row is.
        var rowStep = [Int](), rowPos = [Int]()
        rowStep.reserveCapacity(rows)
        rowPos.reserveCapacity(rows)
        for (i, s) in steps.enumerated() {
            s.cache.reserve(s.tokens.count)
            for j in 0..<s.tokens.count {
                rowStep.append(i)
                rowPos.append(s.cache.count + j)
            }
        }
        var row = 0
        for s in steps {
            for t in s.tokens {
                weights.embedding.dequantizeRow(Int(t), into: x.p + row * d)
                row += 1
            }
        }
        // RoPE angles in double precision, as the reference computes them.
        for r in 0..<rows {
            for i in 0..<half {
                let theta = Double(rowPos[r]) * pow(Double(c.ropeBase), -2.0 * Double(i) / Double(hd))
                cosT.p[r * half + i] = Float(cos(theta))
                sinT.p[r * half + i] = Float(sin(theta))
            }
        }

        let caches = steps.map(\.cache)
        let ffn = c.ffnWidth
        for (l, layer) in weights.layers.enumerated() {
            for r in 0..<rows { VectorOps.rmsNorm(x.p + r * d, weight: layer.attnNorm, eps: c.rmsEps, count: d, into: h.p + r * d) }
            // Each chunk of Q and K rotates its own columns (RoPE pairs never straddle a chunk: chunks
            // start at multiples of 4), and K and V chunks go to the caches from the thread that made them.
            MatMul.multiply([layer.q, layer.k, layer.v], h.p, rows: rows, into: [q.p, k.p, v.p]) { i, cols in
                for r in 0..<rows {
                    let angles = (cos: cosT.p + r * half, sin: sinT.p + r * half)
                    switch i {
                    case 0:
                        Self.rope(q.p + r * d, columns: cols, headDim: hd, cos: angles.cos, sin: angles.sin)
                    case 1:
                        Self.rope(k.p + r * kvw, columns: cols, headDim: hd, cos: angles.cos, sin: angles.sin)
                        Self.store(k.p + r * kvw, columns: cols, into: caches[rowStep[r]].keys[l] + rowPos[r] * kvw)
                    default:
                        Self.store(v.p + r * kvw, columns: cols, into: caches[rowStep[r]].values[l] + rowPos[r] * kvw)
                    }
                }
            }
            attention(layer: l, rows: rows, rowStep: rowStep, rowPos: rowPos, caches: caches, q: q.p, out: att.p)
            // Residual adds and SwiGLU run on each chunk's columns inside the products' parallel passes.
            MatMul.multiply(layer.o, att.p, rows: rows, into: h.p) { cols in Self.add(h.p, into: x.p, width: d, rows: rows, columns: cols) }

            for r in 0..<rows { VectorOps.rmsNorm(x.p + r * d, weight: layer.ffnNorm, eps: c.rmsEps, count: d, into: h.p + r * d) }
            MatMul.multiplyPair(layer.gate, layer.up, h.p, rows: rows, into: g.p, u.p) { cols in
                for r in 0..<rows {
                    VectorOps.swiglu(g.p + r * ffn + cols.lowerBound, u.p + r * ffn + cols.lowerBound, count: cols.count)
                }
            }
            MatMul.multiply(layer.down, g.p, rows: rows, into: h.p) { cols in Self.add(h.p, into: x.p, width: d, rows: rows, columns: cols) }
        }
        for s in steps { s.cache.commit(s.tokens.count) }

        // Only the last row of each step needs logits.
        let last = Scratch(steps.count * d)
        let logits = Scratch(steps.count * c.vocabSize)
        defer { last.free(); logits.free() }
        var end = 0
        for (i, s) in steps.enumerated() {
            end += s.tokens.count
            VectorOps.rmsNorm(x.p + (end - 1) * d, weight: weights.outputNorm, eps: c.rmsEps, count: d, into: last.p + i * d)
        }
        MatMul.multiply(weights.output, last.p, rows: steps.count, into: logits.p)
        // Each sequence's logits into an array of its own, the copies (and the fresh pages they touch)
        // split across the threads.
        let n = steps.count, vocab = c.vocabSize
        let out = UnsafeMutablePointer<[Float]>.allocate(capacity: n)
        defer { out.deinitialize(count: n); out.deallocate() }
        parallelChunks(n, grain: 1) { range in
            for i in range { (out + i).initialize(to: Array(UnsafeBufferPointer(start: logits.p + i * vocab, count: vocab))) }
        }
        return Array(UnsafeBufferPointer(start: out, count: n))
    }

    /// Rotates adjacent pairs (llama.cpp's NORM mode; the GGUF's Q/K weights are pre-permuted for it)
    /// in `columns` of one row of heads (`headDim` apart; the range starts and ends on a pair).
    @inline(__always)
    static func rope(_ v: UnsafeMutablePointer<Float>, columns: Range<Int>, headDim: Int, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        for c in stride(from: columns.lowerBound, to: columns.upperBound, by: 2) {
            let i = (c % headDim) / 2
            let a = v[c], b = v[c + 1]
            v[c] = a * cos[i] - b * sin[i]
            v[c + 1] = a * sin[i] + b * cos[i]
        }
    }

    /// Copies `columns` of the row `v` to the same columns of `row`.
    @inline(__always)
    static func store(_ v: UnsafePointer<Float>, columns: Range<Int>, into row: UnsafeMutablePointer<Float>) {
        (row + columns.lowerBound).update(from: v + columns.lowerBound, count: columns.count)
    }

    /// x[r, c] += y[r, c] for `rows` rows of `width` floats and the columns `columns`.
    @inline(__always)
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, width: Int, rows: Int, columns: Range<Int>) {
        for r in 0..<rows {
            VectorOps.add(x + r * width + columns.lowerBound, y + r * width + columns.lowerBound, count: columns.count)
        }
    }

    /// Causal grouped-query attention of every row against its own sequence's cache: the query heads
    /// that share a key/value head go through its keys and values together (`gqa_scores`, `gqa_values`),
    /// each head's sums in the order one head alone would take.
    private func attention(layer l: Int, rows: Int, rowStep: [Int], rowPos: [Int], caches: [KVCache],
                           q: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let c = config
        let d = c.width, kvw = c.kvWidth, hd = c.headDim
        let group = c.heads / c.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let kernels = KernelSet.active
        rowStep.withUnsafeBufferPointer { rowStep in
            rowPos.withUnsafeBufferPointer { rowPos in
                // Several chunks per thread: in a prompt, later rows attend to more positions than earlier ones.
                parallelChunks(rows * c.kvHeads, grain: 2, chunksPerThread: 4) { range in
                    // Scores of the group's heads, `stride` apart.
                    let stride = max(1, range.map { rowPos[$0 / c.kvHeads] + 1 }.max() ?? 0)
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: group * stride)
                    defer { scores.deallocate() }
                    for item in range {
                        let r = item / c.kvHeads, g = item % c.kvHeads
                        let cache = caches[rowStep[r]]
                        let len = rowPos[r] + 1
                        // Heads g·group ..< (g + 1)·group read key/value head g.
                        let head = r * d + g * group * hd, kv = g * hd
                        kernels.gqa_scores(q + head, group, hd, cache.keys[l] + kv, kvw, len, hd, scale, scores, stride)
                        for h in 0..<group { VectorOps.softmax(scores + h * stride, count: len) }
                        kernels.gqa_values(scores, group, stride, cache.values[l] + kv, kvw, len, hd, out + head, hd)
                    }
                }
            }
        }
    }
}

/// A heap buffer of floats for one forward step.
struct Scratch {
    let p: UnsafeMutablePointer<Float>
    init(_ n: Int) { p = .allocate(capacity: max(1, n)) }
    func free() { p.deallocate() }
}

/// A request the engine cannot carry out, e.g. a token outside the vocabulary; the message says which.
public struct EngineError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
