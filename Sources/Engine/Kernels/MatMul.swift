/// Products of a weight matrix with a batch of activation rows: Y[t] = W · X[t] for t in 0..<n.
///
/// One pass over the weights serves the whole batch. For one token, each weight row is decoded
/// block by block into registers (w = d·q + m, in `ActivationLayout` order) and multiplied with the
/// token as it goes. For two or more tokens, every row is decoded once per call into floats (the
/// split layout of `RowKernels.decodeRowSplit`) and multiplied by two rows × four tokens, or four
/// rows × one or two tokens, per pass: eight (row, token) chains share each load of a weight vector
/// and of an activation vector, and the cost of decoding is shared by every sequence in the batch.
///
/// Every (weight row, activation row) pair is summed the same way whatever the kernel shape — two
/// accumulators, one for the even and one for the odd quarter-blocks, in block order, added at the
/// end (see `RowKernels`) — so a sequence's results are bit-for-bit the same alone or in any batch.
public enum MatMul {
    /// Computes `y[t * w.rows + r] = Σ_c w[r, c] * x[t * w.cols + c]` for `n` rows of `x`.
    /// - Parameters:
    ///   - w: the weights, `rows` outputs by `cols` inputs.
    ///   - x: `n` rows of `w.cols` floats.
    ///   - n: number of activation rows (tokens).
    ///   - y: `n` rows of `w.rows` floats, overwritten.
    public static func multiply(_ w: QuantMatrix, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        guard ActivationLayout.permutes(w.type) else {
            multiplyPlain(w, x, rows: n, into: y)
            return
        }
        multiply([w], x, rows: n, into: [y])
    }

    /// Several products of the same activations, `ys[i] = ws[i] · X` (e.g. a layer's Q, K and V), in
    /// one parallel pass: the activations are permuted once and the threads are waited for once.
    /// Matrices of different block types or widths are multiplied one after the other.
    public static func multiply(_ ws: [QuantMatrix], _ x: UnsafePointer<Float>, rows n: Int, into ys: [UnsafeMutablePointer<Float>]) {
        guard let first = ws.first, ws.count == ys.count, n > 0 else { return }
        let cols = first.cols
        guard ActivationLayout.permutes(first.type), ws.allSatisfy({ $0.type == first.type && $0.cols == cols }) else {
            for (w, y) in zip(ws, ys) { multiply(w, x, rows: n, into: y) }
            return
        }
        // Permute activations into the order the block decoders produce.
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: n * cols)
        defer { xp.deallocate() }
        for t in 0..<n {
            if n == 1 {
                ActivationLayout.permute(x + t * cols, count: cols, into: xp + t * cols)
            } else {
                ActivationLayout.permuteSplit(x + t * cols, count: cols, into: xp + t * cols)
            }
        }
        let xq = UnsafePointer(xp)
        switch first.type {
        case .q4_1: run(Q4_1Blocks.self, ws, xq, n, ys)
        case .q4_0: run(Q4_0Blocks.self, ws, xq, n, ys)
        case .q8_0: run(Q8_0Blocks.self, ws, xq, n, ys)
        case .f32, .f16: break
        }
    }

    @inline(__always)
    static func run<B: WeightBlocks>(_: B.Type, _ ws: [QuantMatrix], _ x: UnsafePointer<Float>, _ n: Int, _ ys: [UnsafeMutablePointer<Float>]) {
        parallelChunks(ws.map(\.rows), grain: n == 1 ? 32 : 8, chunksPerThread: n == 1 ? 2 : 4, align: 4) { i, range in
            rows(B.self, ws[i], x, n, ys[i], range)
        }
    }

    /// Rows `range` of `w · X` into `y`.
    @inline(__always)
    static func rows<B: WeightBlocks>(_: B.Type, _ w: QuantMatrix, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
                                      _ range: Range<Int>) {
        let cols = w.cols, rows = w.rows
        var r = range.lowerBound
        if n == 1 {
            for r in range { y[r] = RowKernels.oneRow(B.self, w.row(r), x, cols: cols) }
            return
        }
        // Two or more tokens: rows decoded once, in the split layout (see `ActivationLayout`), four at a
        // time: four tokens go through two-row passes, a remaining pair or single token through a
        // four-row pass, so every pass keeps up to eight accumulator chains going.
        let decoded = UnsafeMutablePointer<Float>.allocate(capacity: 4 * cols)
        let partial = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 16)
        defer {
            decoded.deallocate()
            partial.deallocate()
        }
        while r + 4 <= range.upperBound {
            for i in 0..<4 { RowKernels.decodeRowSplit(B.self, w.row(r + i), cols: cols, into: decoded + i * cols) }
            var t = 0
            while t + 4 <= n {
                let xt = x + t * cols, yt = y + t * rows + r
                RowKernels.twoRows(decoded, decoded + cols, xt, cols: cols, partial, yt, stride: rows)
                RowKernels.twoRows(decoded + 2 * cols, decoded + 3 * cols, xt, cols: cols, partial, yt + 2, stride: rows)
                t += 4
            }
            while t < n {
                let m = n - t >= 2 ? 2 : 1
                RowKernels.fourRows(decoded, x + t * cols, tokens: m, cols: cols, partial, y + t * rows + r, stride: rows)
                t += m
            }
            r += 4
        }
        while r < range.upperBound {
            RowKernels.decodeRowSplit(B.self, w.row(r), cols: cols, into: decoded)
            for t in 0..<n { y[t * rows + r] = RowKernels.oneRowSplit(decoded, x + t * cols, cols: cols) }
            r += 1
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
        let dm = BlockDecoding.scales(blk)
        let d = SIMD8<Float>(repeating: dm[0]), m = SIMD8<Float>(repeating: dm[1])
        let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 4)
        return (m.addingProduct(q0, d), m.addingProduct(q1, d), m.addingProduct(q2, d), m.addingProduct(q3, d))
    }
}

enum Q4_0Blocks: WeightBlocks {
    static var blockBytes: Int { 18 }
    @inline(__always) static func decode(_ blk: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let d = SIMD8<Float>(repeating: BlockDecoding.scales(blk)[0])
        let (q0, q1, q2, q3) = QuantDot.nibbles(blk + 2)
        // (q - 8)·d as one FMA: -8·d is exact, so the result is the same rounding of the same value.
        let c = d * -8
        return (c.addingProduct(q0, d), c.addingProduct(q1, d), c.addingProduct(q2, d), c.addingProduct(q3, d))
    }
}

enum Q8_0Blocks: WeightBlocks {
    static var blockBytes: Int { 34 }
    @inline(__always) static func decode(_ blk: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let d = SIMD8<Float>(repeating: BlockDecoding.scales(blk)[0])
        let (q0, q1, q2, q3) = QuantDot.bytes(blk + 2)
        return (q0 * d, q1 * d, q2 * d, q3 * d)
    }
}

/// The kernel shapes. Each (row, token) pair: two accumulators, a for the even and b for the odd
/// quarters of each block (a += w0·x0, b += w1·x1, a += w2·x2, b += w3·x3 per block), result
/// (a + b).sum(). Two chains halve the run of dependent FMAs, which is what bounds one dot product.
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

    /// Decodes a whole row into `out` in the split layout: the even quarters of every block (in
    /// block order) in the first half, the odd quarters in the second — each chain's operands are
    /// then contiguous.
    @inline(__always)
    static func decodeRowSplit<B: WeightBlocks>(_: B.Type, _ row: UnsafeRawPointer, cols: Int, into out: UnsafeMutablePointer<Float>) {
        var blk = row, even = UnsafeMutableRawPointer(out), odd = UnsafeMutableRawPointer(out + cols / 2)
        for _ in 0..<cols / 32 {
            let (w0, w1, w2, w3) = B.decode(blk)
            even.storeBytes(of: w0, toByteOffset: 0, as: SIMD8<Float>.self)
            even.storeBytes(of: w2, toByteOffset: 32, as: SIMD8<Float>.self)
            odd.storeBytes(of: w1, toByteOffset: 0, as: SIMD8<Float>.self)
            odd.storeBytes(of: w3, toByteOffset: 32, as: SIMD8<Float>.self)
            blk += B.blockBytes
            even += 64
            odd += 64
        }
    }

    /// `oneRow` on a row and a token both in the split layout: the same sums.
    @inline(__always)
    static func oneRowSplit(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, cols: Int) -> Float {
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        let half = cols / 2
        var i = 0
        while i < half {
            a.addProduct(UnsafeRawPointer(w + i).load(as: SIMD8<Float>.self), UnsafeRawPointer(x + i).load(as: SIMD8<Float>.self))
            b.addProduct(UnsafeRawPointer(w + half + i).load(as: SIMD8<Float>.self), UnsafeRawPointer(x + half + i).load(as: SIMD8<Float>.self))
            i += 8
        }
        return (a + b).sum()
    }

    /// Two rows times four tokens, all in the split layout: the even-quarter chains of all eight
    /// pairs in one pass over the first halves, then the odd-quarter chains over the second — eight
    /// accumulators per pass (sixteen would not fit the registers), so each vector step's two weight
    /// loads and four activation loads feed eight FMAs. Same sums as `oneRow`.
    @inline(__always)
    static func twoRows(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ x: UnsafePointer<Float>, cols: Int,
                        _ partial: UnsafeMutablePointer<SIMD8<Float>>, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        let half = cols / 2
        fourTokenChains(w0, w1, x, count: half, tokenStride: cols, into: partial)
        fourTokenChains(w0 + half, w1 + half, x + half, count: half, tokenStride: cols, into: partial + 8)
        for t in 0..<4 {
            y[t * stride] = (partial[t] + partial[8 + t]).sum()
            y[t * stride + 1] = (partial[4 + t] + partial[12 + t]).sum()
        }
    }

    /// Four rows (`cols` apart from `w`) times one or two tokens, split layout, two passes as in
    /// `twoRows`: up to eight chains per pass. Same sums as `oneRow`.
    @inline(__always)
    static func fourRows(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, tokens: Int, cols: Int,
                         _ partial: UnsafeMutablePointer<SIMD8<Float>>, _ y: UnsafeMutablePointer<Float>, stride: Int) {
        let half = cols / 2
        for pass in 0..<2 {
            let o = pass * half
            if tokens == 2 {
                // Four rows × two tokens is two-row × four-token work with the roles swapped (w·x = x·w,
                // and each chain's FMAs run in the same order): out[4·t + i] for token t, row i.
                fourTokenChains(x + o, x + o + cols, w + o, count: half, tokenStride: cols, into: partial + pass * 8)
            } else {
                fourRowOneTokenChains(w + o, x + o, count: half, stride: cols, into: partial + pass * 8)
            }
        }
        for t in 0..<tokens {
            for i in 0..<4 { y[t * stride + i] = (partial[4 * t + i] + partial[8 + 4 * t + i]).sum() }
        }
    }

    /// Σ w0·x_t and Σ w1·x_t over `count` floats as eight vector chains, for the four tokens at
    /// x, x + tokenStride, ...: out[t] for w0, out[4 + t] for w1.
    @inline(__always)
    static func fourTokenChains(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int,
                                tokenStride: Int, into out: UnsafeMutablePointer<SIMD8<Float>>) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
        let rs = tokenStride * 4
        var p0 = UnsafeRawPointer(w0), p1 = UnsafeRawPointer(w1), xp = UnsafeRawPointer(x)
        for _ in 0..<count / 8 {
            let u = p0.load(as: SIMD8<Float>.self), v = p1.load(as: SIMD8<Float>.self)
            let x0 = xp.load(as: SIMD8<Float>.self)
            a0.addProduct(u, x0); b0.addProduct(v, x0)
            let x1 = xp.load(fromByteOffset: rs, as: SIMD8<Float>.self)
            a1.addProduct(u, x1); b1.addProduct(v, x1)
            let x2 = xp.load(fromByteOffset: 2 * rs, as: SIMD8<Float>.self)
            a2.addProduct(u, x2); b2.addProduct(v, x2)
            let x3 = xp.load(fromByteOffset: 3 * rs, as: SIMD8<Float>.self)
            a3.addProduct(u, x3); b3.addProduct(v, x3)
            p0 += 32
            p1 += 32
            xp += 32
        }
        out[0] = a0; out[1] = a1; out[2] = a2; out[3] = a3
        out[4] = b0; out[5] = b1; out[6] = b2; out[7] = b3
    }

    /// Σ w_i·x over `count` floats for the four rows w, w + stride, ... and one token: out[i].
    @inline(__always)
    static func fourRowOneTokenChains(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, stride: Int,
                                      into out: UnsafeMutablePointer<SIMD8<Float>>) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        let rs = stride * 4
        var wp = UnsafeRawPointer(w), xp = UnsafeRawPointer(x)
        for _ in 0..<count / 8 {
            let x0 = xp.load(as: SIMD8<Float>.self)
            a0.addProduct(wp.load(as: SIMD8<Float>.self), x0)
            a1.addProduct(wp.load(fromByteOffset: rs, as: SIMD8<Float>.self), x0)
            a2.addProduct(wp.load(fromByteOffset: 2 * rs, as: SIMD8<Float>.self), x0)
            a3.addProduct(wp.load(fromByteOffset: 3 * rs, as: SIMD8<Float>.self), x0)
            wp += 32
            xp += 32
        }
        out[0] = a0; out[1] = a1; out[2] = a2; out[3] = a3
    }
}
