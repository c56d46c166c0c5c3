import Foundation

// The non-GEMM pieces of a BERT encoder layer, vectorised with SIMD8 and split across threads:
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
    let raw = UnsafeMutableRawPointer(row)
    let vectors = width / 8
    var acc = BertV8()
    for v in 0..<vectors { acc += raw.loadUnaligned(fromByteOffset: v * 32, as: BertV8.self) }
    var sum = acc.sum()
    for i in (vectors * 8)..<width { sum += row[i] }
    let mean = sum / Float(width)
    let m = BertV8(repeating: mean)
    var accSq = BertV8()
    for v in 0..<vectors {
        let d = raw.loadUnaligned(fromByteOffset: v * 32, as: BertV8.self) - m
        accSq = accSq.addingProduct(d, d)
    }
    var sq = accSq.sum()
    for i in (vectors * 8)..<width { let d = row[i] - mean; sq += d * d }
    let inv = 1 / (sq / Float(width) + eps).squareRoot()
    let iv = BertV8(repeating: inv)
    let g = UnsafeRawPointer(gamma), b = UnsafeRawPointer(beta)
    for v in 0..<vectors {
        let d = raw.loadUnaligned(fromByteOffset: v * 32, as: BertV8.self) - m
        let out = d * iv * g.loadUnaligned(fromByteOffset: v * 32, as: BertV8.self)
            + b.loadUnaligned(fromByteOffset: v * 32, as: BertV8.self)
        raw.storeBytes(of: out, toByteOffset: v * 32, as: BertV8.self)
    }
    for i in (vectors * 8)..<width { row[i] = (row[i] - mean) * inv * gamma[i] + beta[i] }
}

/// e^x for 8 lanes, for x ≤ 0 (softmax after subtracting the maximum): Cephes' expf polynomial on
/// the reduced argument, scaled by 2^n built in the exponent bits. Relative error about 2e-7; inputs
/// below -87 (where e^x leaves the normal range) give e^-87 ≈ 1.6e-38.
@inline(__always)
func bertExp(_ input: BertV8) -> BertV8 {
    var x = input
    x.replace(with: -87, where: x .< -87)
    x.replace(with: 88, where: x .> 88)
    // n = round(x·log2 e) by the 1.5·2^23 trick: the sum's low mantissa bits hold n.
    let magic = BertV8(repeating: 12582912)
    let t = magic.addingProduct(x, BertV8(repeating: 1.44269504088896341))
    let n = t - magic
    var r = x.addingProduct(n, BertV8(repeating: -0.693359375))
    r = r.addingProduct(n, BertV8(repeating: 2.12194440e-4))
    var p = BertV8(repeating: 1.9875691500e-4)
    p = BertV8(repeating: 1.3981999507e-3).addingProduct(p, r)
    p = BertV8(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = BertV8(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = BertV8(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = BertV8(repeating: 5.0000001201e-1).addingProduct(p, r)
    let er = (p * r * r) + r + 1
    let bits = unsafeBitCast(t, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127
    let scale = unsafeBitCast(bits &<< 23, to: BertV8.self)
    return er * scale
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
        let scale = BertV8(repeating: 1 / Float(headDim).squareRoot())
        let ktRaw = UnsafeRawPointer(kt)
        let sRaw = UnsafeMutableRawPointer(scores)

        // Scores.
        var i = 0
        while i < n {
            let q0 = query(i), q1 = query(min(i + 1, n - 1))
            let row0 = i * np * 4, row1 = min(i + 1, n - 1) * np * 4
            var jb = 0
            while jb < np {
                var a0 = BertV8(), a1 = BertV8(), a2 = BertV8(), a3 = BertV8()
                var b0 = BertV8(), b1 = BertV8(), b2 = BertV8(), b3 = BertV8()
                for d in 0..<headDim {
                    let at = (d * np + jb) * 4
                    let k0 = ktRaw.loadUnaligned(fromByteOffset: at, as: BertV8.self)
                    let k1 = ktRaw.loadUnaligned(fromByteOffset: at + 32, as: BertV8.self)
                    let k2 = ktRaw.loadUnaligned(fromByteOffset: at + 64, as: BertV8.self)
                    let k3 = ktRaw.loadUnaligned(fromByteOffset: at + 96, as: BertV8.self)
                    let x = BertV8(repeating: q0[d]), y = BertV8(repeating: q1[d])
                    a0 = a0.addingProduct(x, k0); a1 = a1.addingProduct(x, k1)
                    a2 = a2.addingProduct(x, k2); a3 = a3.addingProduct(x, k3)
                    b0 = b0.addingProduct(y, k0); b1 = b1.addingProduct(y, k1)
                    b2 = b2.addingProduct(y, k2); b3 = b3.addingProduct(y, k3)
                }
                // Row i+1 is stored first so that, when it is a repeat of row i (odd n), row i wins.
                sRaw.storeBytes(of: b0 * scale, toByteOffset: row1 + jb * 4, as: BertV8.self)
                sRaw.storeBytes(of: b1 * scale, toByteOffset: row1 + jb * 4 + 32, as: BertV8.self)
                sRaw.storeBytes(of: b2 * scale, toByteOffset: row1 + jb * 4 + 64, as: BertV8.self)
                sRaw.storeBytes(of: b3 * scale, toByteOffset: row1 + jb * 4 + 96, as: BertV8.self)
                sRaw.storeBytes(of: a0 * scale, toByteOffset: row0 + jb * 4, as: BertV8.self)
                sRaw.storeBytes(of: a1 * scale, toByteOffset: row0 + jb * 4 + 32, as: BertV8.self)
                sRaw.storeBytes(of: a2 * scale, toByteOffset: row0 + jb * 4 + 64, as: BertV8.self)
                sRaw.storeBytes(of: a3 * scale, toByteOffset: row0 + jb * 4 + 96, as: BertV8.self)
                jb += 32
            }
            i += 2
        }

        // Softmax over the n real keys of each row; padded keys get probability 0.
        var inverseSums = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let row = scores + i * np
            var maxScore = row[0]
            for j in 1..<n where row[j] > maxScore { maxScore = row[j] }
            let m = BertV8(repeating: maxScore)
            let raw = UnsafeMutableRawPointer(row)
            var j = 0
            while j < n {
                let e = bertExp(raw.loadUnaligned(fromByteOffset: j * 4, as: BertV8.self) - m)
                raw.storeBytes(of: e, toByteOffset: j * 4, as: BertV8.self)
                j += 8
            }
            for j in n..<np { row[j] = 0 }
            var total: Float = 0
            for j in 0..<n { total += row[j] }
            inverseSums[i] = 1 / total
        }

        // Outputs: probabilities × V, normalised by the row sums.
        i = 0
        while i < n {
            let i1 = min(i + 1, n - 1)
            let p0 = scores + i * np, p1 = scores + i1 * np
            let s0 = BertV8(repeating: inverseSums[i]), s1 = BertV8(repeating: inverseSums[i1])
            let o0 = UnsafeMutableRawPointer(output(out, i)), o1 = UnsafeMutableRawPointer(output(out, i1))
            var db = 0
            while db < headDim {
                var a0 = BertV8(), a1 = BertV8(), a2 = BertV8(), a3 = BertV8()
                var b0 = BertV8(), b1 = BertV8(), b2 = BertV8(), b3 = BertV8()
                for j in 0..<n {
                    let v = UnsafeRawPointer(value(j) + db)
                    let v0 = v.loadUnaligned(as: BertV8.self)
                    let v1 = v.loadUnaligned(fromByteOffset: 32, as: BertV8.self)
                    let v2 = v.loadUnaligned(fromByteOffset: 64, as: BertV8.self)
                    let v3 = v.loadUnaligned(fromByteOffset: 96, as: BertV8.self)
                    let x = BertV8(repeating: p0[j]), y = BertV8(repeating: p1[j])
                    a0 = a0.addingProduct(x, v0); a1 = a1.addingProduct(x, v1)
                    a2 = a2.addingProduct(x, v2); a3 = a3.addingProduct(x, v3)
                    b0 = b0.addingProduct(y, v0); b1 = b1.addingProduct(y, v1)
                    b2 = b2.addingProduct(y, v2); b3 = b3.addingProduct(y, v3)
                }
                o1.storeBytes(of: b0 * s1, toByteOffset: db * 4, as: BertV8.self)
                o1.storeBytes(of: b1 * s1, toByteOffset: db * 4 + 32, as: BertV8.self)
                o1.storeBytes(of: b2 * s1, toByteOffset: db * 4 + 64, as: BertV8.self)
                o1.storeBytes(of: b3 * s1, toByteOffset: db * 4 + 96, as: BertV8.self)
                o0.storeBytes(of: a0 * s0, toByteOffset: db * 4, as: BertV8.self)
                o0.storeBytes(of: a1 * s0, toByteOffset: db * 4 + 32, as: BertV8.self)
                o0.storeBytes(of: a2 * s0, toByteOffset: db * 4 + 64, as: BertV8.self)
                o0.storeBytes(of: a3 * s0, toByteOffset: db * 4 + 96, as: BertV8.self)
                db += 32
            }
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
