/// Products of a weight matrix with a batch of activation rows: Y[t] = W · X[t] for t in 0..<n.
///
/// One pass over the weights serves the whole batch: each weight block is decoded once into
/// registers and multiplied with up to `tile` activation rows before the next block is read, so the
/// cost of streaming and decoding the weights is shared by every sequence in the batch.
public enum MatMul {
    /// Activation rows multiplied per decoded block (8 accumulators + 4 weight vectors fit in the
    /// 16 vector registers of AVX2).
    static let tile = 8

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
        let blocks = cols / 32
        if n == 1 {
            let xsum = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
            defer { xsum.deallocate() }
            for b in 0..<blocks {
                var s = SIMD8<Float>()
                for k in 0..<4 { s += UnsafeRawPointer(xp + b * 32 + 8 * k).load(as: SIMD8<Float>.self) }
                xsum[b] = s.sum()
            }
            let xs = UnsafePointer(xsum), xq = UnsafePointer(xp)
            parallelChunks(w.rows, grain: 32) { range in
                switch w.type {
                case .q4_1: for r in range { y[r] = QuantDot.q4_1(w.row(r), xq, xs, blocks: blocks) }
                case .q4_0: for r in range { y[r] = QuantDot.q4_0(w.row(r), xq, xs, blocks: blocks) }
                case .q8_0: for r in range { y[r] = QuantDot.q8_0(w.row(r), xq, blocks: blocks) }
                case .f32, .f16: break
                }
            }
            return
        }
        let xq = UnsafePointer(xp)
        parallelChunks(w.rows, grain: 8) { range in
            for r in range {
                var t0 = 0
                while t0 < n {
                    let count = min(tile, n - t0)
                    switch w.type {
                    case .q4_1: QuantTile.q4_1(w.row(r), xq + t0 * cols, cols: cols, count: count, y + t0 * w.rows + r, stride: w.rows)
                    case .q4_0: QuantTile.q4_0(w.row(r), xq + t0 * cols, cols: cols, count: count, y + t0 * w.rows + r, stride: w.rows)
                    case .q8_0: QuantTile.q8_0(w.row(r), xq + t0 * cols, cols: cols, count: count, y + t0 * w.rows + r, stride: w.rows)
                    case .f32, .f16: break
                    }
                    t0 += count
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

/// One weight row against up to `MatMul.tile` activation rows, decoding each block once.
enum QuantTile {
    @inline(__always)
    static func run(_ count: Int, _ x: UnsafePointer<Float>, cols: Int, blocks: Int,
                    _ y: UnsafeMutablePointer<Float>, stride: Int,
                    decode: (Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
        var acc = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(),
                   SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        let xr = UnsafeRawPointer(x)
        let rowStride = cols * 4
        for b in 0..<blocks {
            let (w0, w1, w2, w3) = decode(b)
            let base = xr + b * 128
            @inline(__always) func fma(_ a: inout SIMD8<Float>, _ t: Int) {
                let p = base + t * rowStride
                a.addProduct(w0, p.load(as: SIMD8<Float>.self))
                a.addProduct(w1, p.load(fromByteOffset: 32, as: SIMD8<Float>.self))
                a.addProduct(w2, p.load(fromByteOffset: 64, as: SIMD8<Float>.self))
                a.addProduct(w3, p.load(fromByteOffset: 96, as: SIMD8<Float>.self))
            }
            fma(&acc.0, 0)
            if count > 1 { fma(&acc.1, 1) }
            if count > 2 { fma(&acc.2, 2) }
            if count > 3 { fma(&acc.3, 3) }
            if count > 4 { fma(&acc.4, 4) }
            if count > 5 { fma(&acc.5, 5) }
            if count > 6 { fma(&acc.6, 6) }
            if count > 7 { fma(&acc.7, 7) }
        }
        y[0] = acc.0.sum()
        if count > 1 { y[stride] = acc.1.sum() }
        if count > 2 { y[2 * stride] = acc.2.sum() }
        if count > 3 { y[3 * stride] = acc.3.sum() }
        if count > 4 { y[4 * stride] = acc.4.sum() }
        if count > 5 { y[5 * stride] = acc.5.sum() }
        if count > 6 { y[6 * stride] = acc.6.sum() }
        if count > 7 { y[7 * stride] = acc.7.sum() }
    }

    @inline(__always)
    static func q4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int, count: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        run(count, x, cols: cols, blocks: cols / 32, y, stride: stride) { b in
            let blk = row + b * 20
            let d = SIMD8<Float>(repeating: BlockDecoding.half(blk)), m = SIMD8<Float>(repeating: BlockDecoding.half(blk + 2))
            let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 4)
            return (q0 * d + m, q1 * d + m, q2 * d + m, q3 * d + m)
        }
    }

    @inline(__always)
    static func q4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int, count: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        run(count, x, cols: cols, blocks: cols / 32, y, stride: stride) { b in
            let blk = row + b * 18
            let d = SIMD8<Float>(repeating: BlockDecoding.half(blk)), m = -8 * d
            let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 2)
            return (q0 * d + m, q1 * d + m, q2 * d + m, q3 * d + m)
        }
    }

    @inline(__always)
    static func q8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int, count: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        run(count, x, cols: cols, blocks: cols / 32, y, stride: stride) { b in
            let blk = row + b * 34
            let d = SIMD8<Float>(repeating: BlockDecoding.half(blk))
            let (q0, q1, q2, q3) = QuantDot.bytes(blk + 2)
            return (q0 * d, q1 * d, q2 * d, q3 * d)
        }
    }
}
