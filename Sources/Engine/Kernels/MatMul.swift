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
        // Per-row block sums of x: the Q4 offsets (m, or -8d) then cost one multiply per block.
        let xsum = UnsafeMutablePointer<Float>.allocate(capacity: n * blocks)
        defer { xsum.deallocate() }
        for i in 0..<n * blocks {
            var s = SIMD8<Float>()
            for k in 0..<4 { s += UnsafeRawPointer(xp + i * 32 + 8 * k).load(as: SIMD8<Float>.self) }
            xsum[i] = s.sum()
        }
        let xs = UnsafePointer(xsum), xq = UnsafePointer(xp)
        // Every row goes through the same arithmetic whatever the batch size, so a sequence's
        // results do not depend on what else is in its batch.
        parallelChunks(w.rows, grain: n == 1 ? 32 : 8) { range in
            for r in range {
                var t0 = 0
                while t0 < n {
                    let count = min(tile, n - t0)
                    let out = y + t0 * w.rows + r
                    let xt = xq + t0 * cols, st = xs + t0 * blocks
                    if count == 1 {
                        // Same arithmetic as the tile kernels, with the accumulators in registers.
                        switch w.type {
                        case .q4_1: out.pointee = QuantDot.q4_1(w.row(r), xt, st, blocks: blocks)
                        case .q4_0: out.pointee = QuantDot.q4_0(w.row(r), xt, st, blocks: blocks)
                        case .q8_0: out.pointee = QuantDot.q8_0(w.row(r), xt, blocks: blocks)
                        case .f32, .f16: break
                        }
                        t0 += 1
                        continue
                    }
                    if count >= 4 && w.type == .q4_1 {
                        QuantTile.q4_1x4(w.row(r), xt, st, cols: cols, out, stride: w.rows)
                        t0 += 4
                        continue
                    }
                    switch w.type {
                    case .q4_1: QuantTile.q4_1(w.row(r), xt, st, cols: cols, count: count, out, stride: w.rows)
                    case .q4_0: QuantTile.q4_0(w.row(r), xt, st, cols: cols, count: count, out, stride: w.rows)
                    case .q8_0: QuantTile.q8_0(w.row(r), xt, cols: cols, count: count, out, stride: w.rows)
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

/// One weight row against up to `MatMul.tile` activation rows (in `ActivationLayout` order): each
/// block is decoded once, then multiplied with every row of the tile. A row's sum is formed the
/// same way for any tile size.
enum QuantTile {
    /// Q4_1 against exactly 4 activation rows, accumulators in registers. Same arithmetic per row as
    /// `QuantDot.q4_1`.
    @inline(__always)
    static func q4_1x4(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, cols: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        let blocks = cols / 32
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var o0: Float = 0, o1: Float = 0, o2: Float = 0, o3: Float = 0
        let xr = UnsafeRawPointer(x)
        let rs = cols * 4
        for b in 0..<blocks {
            let blk = row + b * 20
            let d = SIMD8<Float>(repeating: BlockDecoding.half(blk)), m = BlockDecoding.half(blk + 2)
            let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 4)
            @inline(__always) func dot(_ p: UnsafeRawPointer) -> SIMD8<Float> {
                var s = q0 * p.load(as: SIMD8<Float>.self)
                s.addProduct(q1, p.load(fromByteOffset: 32, as: SIMD8<Float>.self))
                s.addProduct(q2, p.load(fromByteOffset: 64, as: SIMD8<Float>.self))
                s.addProduct(q3, p.load(fromByteOffset: 96, as: SIMD8<Float>.self))
                return s
            }
            let p = xr + b * 128
            a0.addProduct(dot(p), d)
            a1.addProduct(dot(p + rs), d)
            a2.addProduct(dot(p + 2 * rs), d)
            a3.addProduct(dot(p + 3 * rs), d)
            o0 += m * xsum[b]
            o1 += m * xsum[blocks + b]
            o2 += m * xsum[2 * blocks + b]
            o3 += m * xsum[3 * blocks + b]
        }
        y[0] = a0.sum() + o0
        y[stride] = a1.sum() + o1
        y[2 * stride] = a2.sum() + o2
        y[3 * stride] = a3.sum() + o3
    }

    @inline(__always)
    static func q4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, cols: Int, count: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        let blocks = cols / 32
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: MatMul.tile) { acc in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: MatMul.tile) { off in
                for t in 0..<count { acc[t] = SIMD8(); off[t] = 0 }
                let xr = UnsafeRawPointer(x)
                for b in 0..<blocks {
                    let blk = row + b * 20
                    let d = SIMD8<Float>(repeating: BlockDecoding.half(blk)), m = BlockDecoding.half(blk + 2)
                    let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 4)
                    for t in 0..<count {
                        let p = xr + (t * cols + b * 32) * 4
                        var s = q0 * p.load(as: SIMD8<Float>.self)
                        s.addProduct(q1, p.load(fromByteOffset: 32, as: SIMD8<Float>.self))
                        s.addProduct(q2, p.load(fromByteOffset: 64, as: SIMD8<Float>.self))
                        s.addProduct(q3, p.load(fromByteOffset: 96, as: SIMD8<Float>.self))
                        acc[t].addProduct(s, d)
                        off[t] += m * xsum[t * blocks + b]
                    }
                }
                for t in 0..<count { y[t * stride] = acc[t].sum() + off[t] }
            }
        }
    }

    @inline(__always)
    static func q4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsum: UnsafePointer<Float>, cols: Int, count: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        let blocks = cols / 32
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: MatMul.tile) { acc in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: MatMul.tile) { off in
                for t in 0..<count { acc[t] = SIMD8(); off[t] = 0 }
                let xr = UnsafeRawPointer(x)
                for b in 0..<blocks {
                    let blk = row + b * 18
                    let dd = BlockDecoding.half(blk)
                    let d = SIMD8<Float>(repeating: dd), m = -8 * dd
                    let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 2)
                    for t in 0..<count {
                        let p = xr + (t * cols + b * 32) * 4
                        var s = q0 * p.load(as: SIMD8<Float>.self)
                        s.addProduct(q1, p.load(fromByteOffset: 32, as: SIMD8<Float>.self))
                        s.addProduct(q2, p.load(fromByteOffset: 64, as: SIMD8<Float>.self))
                        s.addProduct(q3, p.load(fromByteOffset: 96, as: SIMD8<Float>.self))
                        acc[t].addProduct(s, d)
                        off[t] += m * xsum[t * blocks + b]
                    }
                }
                for t in 0..<count { y[t * stride] = acc[t].sum() + off[t] }
            }
        }
    }

    @inline(__always)
    static func q8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, cols: Int, count: Int, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        let blocks = cols / 32
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: MatMul.tile) { acc in
            for t in 0..<count { acc[t] = SIMD8() }
            let xr = UnsafeRawPointer(x)
            for b in 0..<blocks {
                let blk = row + b * 34
                let d = SIMD8<Float>(repeating: BlockDecoding.half(blk))
                let (q0, q1, q2, q3) = QuantDot.bytes(blk + 2)
                for t in 0..<count {
                    let p = xr + (t * cols + b * 32) * 4
                    var s = q0 * p.load(as: SIMD8<Float>.self)
                    s.addProduct(q1, p.load(fromByteOffset: 32, as: SIMD8<Float>.self))
                    s.addProduct(q2, p.load(fromByteOffset: 64, as: SIMD8<Float>.self))
                    s.addProduct(q3, p.load(fromByteOffset: 96, as: SIMD8<Float>.self))
                    acc[t].addProduct(s, d)
                }
            }
            for t in 0..<count { y[t * stride] = acc[t].sum() }
        }
    }
}
