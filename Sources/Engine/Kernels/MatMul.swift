/// Products of a weight matrix with a batch of activation rows: Y[t] = W · X[t] for t in 0..<n.
///
/// One pass over the weights serves the whole batch: each weight block is decoded once into
/// registers (w = d·q + m, in `ActivationLayout` order) and multiplied with up to four activation
/// rows before the next block is read, so the cost of streaming and decoding the weights is shared
/// by every sequence in the batch.
///
/// Every (weight row, activation row) pair is summed the same way whatever the kernel shape — two
/// accumulators, one for the even and one for the odd quarter-blocks, added at the end — so a
/// sequence's results are bit-for-bit the same alone or in any batch. Two accumulators also halve
/// the chain of dependent FMAs per block, which is what bounds a dot product's speed.
public enum MatMul {
    /// Computes `y[t * w.rows + r] = Σ_c w[r, c] * x[t * w.cols + c]` for `n` rows of `x`.
    /// - Parameters:
    ///   - w: the weights, `rows` outputs by `cols` inputs.
    ///   - x: `n` rows of `w.cols` floats.
    ///   - n: number of activation rows (tokens).
    ///   - y: `n` rows of `w.rows` floats, overwritten.
    public static func multiply(_ w: QuantMatrix, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        let cols = w.cols
        guard let order = ActivationLayout.order(for: w.type) else {
            multiplyPlain(w, x, rows: n, into: y)
            return
        }
        // Permute activations into the order the block decoders produce.
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: n * cols)
        defer { xp.deallocate() }
        order.withUnsafeBufferPointer { o in
            for t in 0..<n { ActivationLayout.permute(x + t * cols, count: cols, order: o.baseAddress!, into: xp + t * cols) }
        }
        let xq = UnsafePointer(xp)
        switch w.type {
        case .q4_1: run(Q4_1Blocks.self, w, xq, n, y)
        case .q4_0: run(Q4_0Blocks.self, w, xq, n, y)
        case .q8_0: run(Q8_0Blocks.self, w, xq, n, y)
        case .f32, .f16: break
        }
    }

    @inline(__always)
    static func run<B: WeightBlocks>(_: B.Type, _ w: QuantMatrix, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        let cols = w.cols, rows = w.rows
        parallelChunks(rows, grain: n == 1 ? 32 : 8) { range in
            if n == 1 {
                for r in range { y[r] = RowKernels.oneRow(B.self, w.row(r), x, cols: cols) }
                return
            }
            if n >= 8 {
                // Two or more 4-token groups: decode each row once into floats and let every group
                // read those, instead of decoding the row again per group. Same values, same sums.
                let decoded = UnsafeMutablePointer<Float>.allocate(capacity: cols)
                defer { decoded.deallocate() }
                for r in range {
                    RowKernels.decodeRow(B.self, w.row(r), cols: cols, into: decoded)
                    var t = 0
                    while t + 4 <= n {
                        RowKernels.fourTokensDecoded(decoded, x + t * cols, cols: cols, y + t * rows + r, stride: rows)
                        t += 4
                    }
                    while t < n {
                        y[t * rows + r] = RowKernels.oneRowDecoded(decoded, x + t * cols, cols: cols)
                        t += 1
                    }
                }
                return
            }
            for r in range {
                var t = 0
                while t + 4 <= n {
                    RowKernels.fourTokens(B.self, w.row(r), x + t * cols, cols: cols, y + t * rows + r, stride: rows)
                    t += 4
                }
                while t < n {
                    y[t * rows + r] = RowKernels.oneRow(B.self, w.row(r), x + t * cols, cols: cols)
                    t += 1
                }
            }
        }
    }

    /// F32/F16 weights (small matrices such as norms are never multiplied; this keeps every type usable).
    static func multiplyPlain(_ w: QuantMatrix, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        let cols = w.cols
        parallelChunks(w.rows, grain: 16) { range in
            let buf = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            defer { buf.deallocate() }
            for r in range {
                w.dequantizeRow(r, into: buf)
                for t in 0..<n { y[t * w.rows + r] = VectorOps.dot(buf, x + t * cols, count: cols) }
            }
        }
    }
}

/// A block format the kernels can decode to 32 weights in registers (in `ActivationLayout` order).
protocol WeightBlocks {
    static var blockBytes: Int { get }
    static func decode(_ block: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
}

enum Q4_1Blocks: WeightBlocks {
    static var blockBytes: Int { 20 }
    @inline(__always) static func decode(_ blk: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let d = SIMD8<Float>(repeating: BlockDecoding.half(blk)), m = SIMD8<Float>(repeating: BlockDecoding.half(blk + 2))
        let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 4)
        return (q0 * d + m, q1 * d + m, q2 * d + m, q3 * d + m)
    }
}

enum Q4_0Blocks: WeightBlocks {
    static var blockBytes: Int { 18 }
    @inline(__always) static func decode(_ blk: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let d = SIMD8<Float>(repeating: BlockDecoding.half(blk))
        let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 2)
        let eight = SIMD8<Float>(repeating: 8)
        return ((q0 - eight) * d, (q1 - eight) * d, (q2 - eight) * d, (q3 - eight) * d)
    }
}

enum Q8_0Blocks: WeightBlocks {
    static var blockBytes: Int { 34 }
    @inline(__always) static func decode(_ blk: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let d = SIMD8<Float>(repeating: BlockDecoding.half(blk))
        let (q0, q1, q2, q3) = QuantDot.bytes(blk + 2)
        return (q0 * d, q1 * d, q2 * d, q3 * d)
    }
}

/// The kernel shapes. Each (row, token) pair: a += w0·x0, b += w1·x1, a += w2·x2, b += w3·x3 per
/// block, result (a + b).sum().
enum RowKernels {
    @inline(__always)
    static func load(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> { p.load(fromByteOffset: 32 * i, as: SIMD8<Float>.self) }

    @inline(__always)
    static func oneRow<B: WeightBlocks>(_: B.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int) -> Float {
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        var blk = row, xp = UnsafeRawPointer(x)
        for _ in 0..<cols / 32 {
            let (w0, w1, w2, w3) = B.decode(blk)
            a.addProduct(w0, load(xp, 0)); b.addProduct(w1, load(xp, 1))
            a.addProduct(w2, load(xp, 2)); b.addProduct(w3, load(xp, 3))
            blk += B.blockBytes
            xp += 128
        }
        return (a + b).sum()
    }

    /// Decodes a whole row into `out` (in `ActivationLayout` order), for kernels that reuse it.
    @inline(__always)
    static func decodeRow<B: WeightBlocks>(_: B.Type, _ row: UnsafeRawPointer, cols: Int, into out: UnsafeMutablePointer<Float>) {
        var blk = row, op = UnsafeMutableRawPointer(out)
        for _ in 0..<cols / 32 {
            let (w0, w1, w2, w3) = B.decode(blk)
            op.storeBytes(of: w0, toByteOffset: 0, as: SIMD8<Float>.self)
            op.storeBytes(of: w1, toByteOffset: 32, as: SIMD8<Float>.self)
            op.storeBytes(of: w2, toByteOffset: 64, as: SIMD8<Float>.self)
            op.storeBytes(of: w3, toByteOffset: 96, as: SIMD8<Float>.self)
            blk += B.blockBytes
            op += 128
        }
    }

    /// `oneRow` on a row already decoded by `decodeRow`: the same sums.
    @inline(__always)
    static func oneRowDecoded(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, cols: Int) -> Float {
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        var wp = UnsafeRawPointer(w), xp = UnsafeRawPointer(x)
        for _ in 0..<cols / 32 {
            a.addProduct(load(wp, 0), load(xp, 0)); b.addProduct(load(wp, 1), load(xp, 1))
            a.addProduct(load(wp, 2), load(xp, 2)); b.addProduct(load(wp, 3), load(xp, 3))
            wp += 128
            xp += 128
        }
        return (a + b).sum()
    }

    /// `fourTokens` on a row already decoded by `decodeRow`: the same sums.
    @inline(__always)
    static func fourTokensDecoded(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, cols: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
        var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
        let rs = cols * 4
        var wp = UnsafeRawPointer(w), xp = UnsafeRawPointer(x)
        for _ in 0..<cols / 32 {
            let w0 = load(wp, 0), w1 = load(wp, 1), w2 = load(wp, 2), w3 = load(wp, 3)
            a0.addProduct(w0, load(xp, 0)); b0.addProduct(w1, load(xp, 1)); a0.addProduct(w2, load(xp, 2)); b0.addProduct(w3, load(xp, 3))
            let p1 = xp + rs
            a1.addProduct(w0, load(p1, 0)); b1.addProduct(w1, load(p1, 1)); a1.addProduct(w2, load(p1, 2)); b1.addProduct(w3, load(p1, 3))
            let p2 = p1 + rs
            a2.addProduct(w0, load(p2, 0)); b2.addProduct(w1, load(p2, 1)); a2.addProduct(w2, load(p2, 2)); b2.addProduct(w3, load(p2, 3))
            let p3 = p2 + rs
            a3.addProduct(w0, load(p3, 0)); b3.addProduct(w1, load(p3, 1)); a3.addProduct(w2, load(p3, 2)); b3.addProduct(w3, load(p3, 3))
            wp += 128
            xp += 128
        }
        y[0] = (a0 + b0).sum()
        y[stride] = (a1 + b1).sum()
        y[2 * stride] = (a2 + b2).sum()
        y[3 * stride] = (a3 + b3).sum()
    }

    @inline(__always)
    static func fourTokens<B: WeightBlocks>(_: B.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
        var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
        let rs = cols * 4
        var blk = row, xp = UnsafeRawPointer(x)
        for _ in 0..<cols / 32 {
            let (w0, w1, w2, w3) = B.decode(blk)
            a0.addProduct(w0, load(xp, 0)); b0.addProduct(w1, load(xp, 1)); a0.addProduct(w2, load(xp, 2)); b0.addProduct(w3, load(xp, 3))
            let p1 = xp + rs
            a1.addProduct(w0, load(p1, 0)); b1.addProduct(w1, load(p1, 1)); a1.addProduct(w2, load(p1, 2)); b1.addProduct(w3, load(p1, 3))
            let p2 = p1 + rs
            a2.addProduct(w0, load(p2, 0)); b2.addProduct(w1, load(p2, 1)); a2.addProduct(w2, load(p2, 2)); b2.addProduct(w3, load(p2, 3))
            let p3 = p2 + rs
            a3.addProduct(w0, load(p3, 0)); b3.addProduct(w1, load(p3, 1)); a3.addProduct(w2, load(p3, 2)); b3.addProduct(w3, load(p3, 3))
            blk += B.blockBytes
            xp += 128
        }
        y[0] = (a0 + b0).sum()
        y[stride] = (a1 + b1).sum()
        y[2 * stride] = (a2 + b2).sum()
        y[3 * stride] = (a3 + b3).sum()
    }
}
