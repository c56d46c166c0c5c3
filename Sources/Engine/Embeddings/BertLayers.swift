import Foundation

// The non-GEMM pieces of a BERT encoder layer, split across threads (their vector loops are C,
// `ek_kernels`):
// residual + LayerNorm and per-sentence multi-head self-attention over a packed
// [tokens × 3·hidden] Q|K|V matrix. (GELU runs inside the GEMM's store, in F32Matmul.swift.)

/// x[r] = LayerNorm(x[r] + y[r]) · gamma + beta for each of `rows` rows of `width` floats (row stride
/// `width`); `y` may be nil for a plain LayerNorm.
func bertAddLayerNorm(rows: Int, width: Int, x: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>?,
                      gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
    nonisolated(unsafe) let x = x
    parallelChunks(rows, grain: 32) { range in
        for r in range {
            let row = x + r * width
            if let y {
                let other = y + r * width
                for i in 0..<width { row[i] += other[i] }
            }
            bertLayerNormRow(row, width: width, gamma: gamma, beta: beta, eps: eps)
        }
    }
}

@inline(__always)
func bertLayerNormRow(_ row: UnsafeMutablePointer<Float>, width: Int, gamma: UnsafePointer<Float>,
                      beta: UnsafePointer<Float>, eps: Float) {
    KernelSet.active.layer_norm(row, width, gamma, beta, eps)
}

/// Multi-head self-attention for a batch of packed sentences.
/// - Parameters:
///   - qkv: [tokens × 3·hidden]: each row is Q | K | V, heads contiguous within each.
///   - out: [tokens × hidden], the heads' outputs side by side.
///   - starts/lengths: each sentence's first row and token count (no padding: attention stays within a sentence).
func bertAttention(qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, hidden: Int, heads: Int,
                   starts: [Int], lengths: [Int]) {
    let headDim = hidden / heads
    let maxLength = lengths.max() ?? 0
    let padded = (maxLength + 31) & ~31
    nonisolated(unsafe) let out = out
    parallelChunks(starts.count * heads, grain: 1) { range in
        // Per thread: Kᵀ of one head [headDim × padded] and the score/probability matrix [n × padded].
        let kt = UnsafeMutablePointer<Float>.allocate(capacity: max(32, headDim * padded))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(32, maxLength * padded))
        defer { kt.deallocate(); scores.deallocate() }
        for item in range {
            let s = item / heads, h = item % heads
            if lengths[s] == 0 { continue }
            let head = BertAttentionHead(qkv: qkv, hidden: hidden, headDim: headDim, head: h,
                                         firstRow: starts[s], count: lengths[s])
            if headDim % 32 == 0 {
                head.runVectorized(kt: kt, scores: scores, out: out)
            } else {
                head.runScalar(scores: scores, out: out)
            }
        }
    }
}

/// One head of one sentence: softmax(Q·Kᵀ/√d)·V.
private struct BertAttentionHead {
    let qkv: UnsafePointer<Float>
    let hidden: Int
    let headDim: Int
    let head: Int
    let firstRow: Int
    let count: Int

    var stride: Int { 3 * hidden }
    func query(_ i: Int) -> UnsafePointer<Float> { qkv + (firstRow + i) * stride + head * headDim }
    func key(_ j: Int) -> UnsafePointer<Float> { qkv + (firstRow + j) * stride + hidden + head * headDim }
    func value(_ j: Int) -> UnsafePointer<Float> { qkv + (firstRow + j) * stride + 2 * hidden + head * headDim }
    func output(_ out: UnsafeMutablePointer<Float>, _ i: Int) -> UnsafeMutablePointer<Float> {
        out + (firstRow + i) * hidden + head * headDim
    }

    /// headDim a multiple of 32. Scores are computed two queries × 32 keys at a time and the
    /// outputs two queries × 32 dimensions at a time: eight independent FMA chains sharing each load.
    @inline(__always)
    func runVectorized(kt: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                       out: UnsafeMutablePointer<Float>) {
        let n = count
        let np = (n + 31) & ~31  // keys padded to whole 32-key blocks (zero keys score 0; masked below)
        for j in 0..<n {
            let k = key(j)
            for d in 0..<headDim { kt[d * np + j] = k[d] }
        }
        if np > n { for d in 0..<headDim { for j in n..<np { kt[d * np + j] = 0 } } }
        let scale = 1 / Float(headDim).squareRoot()
        let kernels = KernelSet.active

        // Scores, two queries at a time (an odd last query is paired with itself).
        var i = 0
        while i < n {
            let i1 = min(i + 1, n - 1)
            kernels.attention_scores(query(i), query(i1), kt, np, headDim, scale, scores + i * np, scores + i1 * np)
            i += 2
        }

        // Softmax over the n real keys of each row; padded keys get probability 0.
        var inverseSums = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let row = scores + i * np
            var maxScore = row[0]
            for j in 1..<n where row[j] > maxScore { maxScore = row[j] }
            kernels.exp_shifted(row, n, maxScore)
            for j in n..<np { row[j] = 0 }
            var total: Float = 0
            for j in 0..<n { total += row[j] }
            inverseSums[i] = 1 / total
        }

        // Outputs: probabilities × V, normalised by the row sums.
        i = 0
        while i < n {
            let i1 = min(i + 1, n - 1)
            kernels.attention_values(scores + i * np, scores + i1 * np, value(0), stride, n, headDim,
                                     inverseSums[i], inverseSums[i1], output(out, i), output(out, i1))
            i += 2
        }
    }

    /// Any headDim: plain loops (no model this engine ships needs it; kept for correctness).
    func runScalar(scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(headDim).squareRoot()
        for i in 0..<count {
            let q = query(i)
            var maxScore = -Float.infinity
            for j in 0..<count {
                let k = key(j)
                var dot: Float = 0
                for d in 0..<headDim { dot += q[d] * k[d] }
                scores[j] = dot * scale
                maxScore = max(maxScore, scores[j])
            }
            var total: Float = 0
            for j in 0..<count {
                scores[j] = expf(scores[j] - maxScore)
                total += scores[j]
            }
            let o = output(out, i)
            for d in 0..<headDim {
                var acc: Float = 0
                for j in 0..<count { acc += scores[j] * value(j)[d] }
                o[d] = acc / total
            }
        }
    }
}
