import Foundation

// The non-GEMM pieces of a BERT encoder layer, vectorised with SIMD8 and split across threads:
// residual + LayerNorm, GELU (erf form) and per-sentence multi-head self-attention over a packed
// [tokens × 3·hidden] Q|K|V matrix.

typealias BertV8 = SIMD8<Float>

/// erf(x) for 8 lanes: the rational approximation Eigen and TensorFlow use for float (|error| about
/// 1e-7 in practice over the whole line; inputs are clamped to ±4, where erf is ±1 in float).
@inline(__always)
func bertErf(_ input: BertV8) -> BertV8 {
    let x = input.clamped(lowerBound: BertV8(repeating: -4), upperBound: BertV8(repeating: 4))
    let x2 = x * x
    // Horner steps p ← c + x²·p, fused.
    var p = BertV8(repeating: -2.72614225801306e-10)
    p = BertV8(repeating: 2.77068142495902e-08).addingProduct(x2, p)
    p = BertV8(repeating: -2.10102402082508e-06).addingProduct(x2, p)
    p = BertV8(repeating: -5.69250639462346e-05).addingProduct(x2, p)
    p = BertV8(repeating: -7.34990630326855e-04).addingProduct(x2, p)
    p = BertV8(repeating: -2.95459980854025e-03).addingProduct(x2, p)
    p = BertV8(repeating: -1.60960333262415e-02).addingProduct(x2, p)
    p = p * x
    var q = BertV8(repeating: -1.45660718464996e-05)
    q = BertV8(repeating: -2.13374055278905e-04).addingProduct(x2, q)
    q = BertV8(repeating: -1.68282697438203e-03).addingProduct(x2, q)
    q = BertV8(repeating: -7.37332916720468e-03).addingProduct(x2, q)
    q = BertV8(repeating: -1.42647390514189e-02).addingProduct(x2, q)
    return p / q
}

/// GELU, erf form: 0.5·x·(1 + erf(x/√2)), in place over `count` floats.
func bertGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let half = BertV8(repeating: 0.5)
    let invSqrt2 = BertV8(repeating: 0.7071067811865476)
    var i = 0
    let raw = UnsafeMutableRawPointer(x)
    while i + 8 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: BertV8.self)
        let g = half * v * (1 + bertErf(v * invSqrt2))
        raw.storeBytes(of: g, toByteOffset: i * 4, as: BertV8.self)
        i += 8
    }
    while i < count {
        let v = x[i]
        x[i] = 0.5 * v * (1 + Float(erf(Double(v) * 0.7071067811865476)))
        i += 1
    }
}

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

/// Multi-head self-attention for a batch of packed sentences.
/// - Parameters:
///   - qkv: [tokens × 3·hidden]: each row is Q | K | V, heads contiguous within each.
///   - out: [tokens × hidden], the heads' outputs side by side.
///   - starts/lengths: each sentence's first row and token count (no padding: attention stays within a sentence).
func bertAttention(qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, hidden: Int, heads: Int,
                   starts: [Int], lengths: [Int]) {
    let headDim = hidden / heads
    let stride = 3 * hidden
    let scale = 1 / Float(headDim).squareRoot()
    let maxLength = lengths.max() ?? 0
    let padded = (maxLength + 7) & ~7
    nonisolated(unsafe) let out = out
    parallelChunks(starts.count * heads, grain: 1) { range in
        // Kᵀ of one head, [headDim × padded] (so a query's scores are a row of SIMD FMAs), and one row of scores.
        let kt = UnsafeMutablePointer<Float>.allocate(capacity: max(1, headDim * padded))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(8, padded))
        defer { kt.deallocate(); scores.deallocate() }
        for item in range {
            let s = item / heads, h = item % heads
            let t0 = starts[s], n = lengths[s]
            let np = (n + 7) & ~7
            let qOff = h * headDim, kOff = hidden + h * headDim, vOff = 2 * hidden + h * headDim
            for d in 0..<headDim {
                let dst = kt + d * np
                for j in 0..<n { dst[j] = qkv[(t0 + j) * stride + kOff + d] }
                for j in n..<np { dst[j] = 0 }
            }
            let scoresRaw = UnsafeMutableRawPointer(scores)
            for i in 0..<n {
                let q = qkv + (t0 + i) * stride + qOff
                for j in 0..<np { scores[j] = 0 }
                for d in 0..<headDim {
                    let qd = BertV8(repeating: q[d] * scale)
                    let row = UnsafeRawPointer(kt + d * np)
                    var j = 0
                    while j < np {
                        let acc = scoresRaw.loadUnaligned(fromByteOffset: j * 4, as: BertV8.self)
                        let kv = row.loadUnaligned(fromByteOffset: j * 4, as: BertV8.self)
                        scoresRaw.storeBytes(of: acc.addingProduct(qd, kv), toByteOffset: j * 4, as: BertV8.self)
                        j += 8
                    }
                }
                var maxScore = -Float.infinity
                for j in 0..<n { maxScore = max(maxScore, scores[j]) }
                var total: Float = 0
                for j in 0..<n {
                    let e = expf(scores[j] - maxScore)
                    scores[j] = e
                    total += e
                }
                let inv = 1 / total
                let o = out + (t0 + i) * hidden + qOff
                for d in 0..<headDim { o[d] = 0 }
                for j in 0..<n {
                    let p = scores[j] * inv
                    let v = qkv + (t0 + j) * stride + vOff
                    for d in 0..<headDim { o[d] += p * v[d] }
                }
            }
        }
    }
}
