/// Products of a weight matrix with a batch of activation rows: Y[t] = W · X[t] for t in 0..<n.
///
/// One pass over the weights serves the whole batch. For one token, each weight row is decoded
/// block by block into registers (w = d·q + m, in `ActivationLayout` order) and multiplied with the
/// token as it goes. For two or more tokens, every row is decoded once per call into floats and
/// multiplied by several tokens per pass, so the cost of decoding is shared by every sequence in the
/// batch: with the AVX2 and portable kernels in a split layout (even quarter-blocks first), two rows ×
/// four tokens or four rows × one or two tokens per pass, eight (row, token) chains sharing each load;
/// with the AVX-512 kernels in block order, four rows × four tokens, sixteen 512-bit accumulators each
/// holding one (row, token)'s two chains (`ek_kernels.batch_split` says which layout). The loops
/// are C (Sources/EngineKernels, `KernelSet`); this type checks shapes and splits the work.
///
/// Every (weight row, activation row) pair is summed the same way whatever the kernel shape — two
/// accumulators, one for the even and one for the odd quarter-blocks, in block order, added at the
/// end — so a sequence's results are bit-for-bit the same alone or in any batch.
public enum MatMul {
    /// Computes `y[t * w.rows + r] = Σ_c w[r, c] * x[t * w.cols + c]` for `n` rows of `x`.
    /// - Parameters:
    ///   - w: the weights, `rows` outputs by `cols` inputs.
    ///   - x: `n` rows of `w.cols` floats.
    ///   - n: number of activation rows (tokens).
    ///   - y: `n` rows of `w.rows` floats, overwritten.
    ///   - finish: run on the thread that computed them, for each range of output rows (columns of
    ///     `y`) once all `n` tokens' values in it are written — elementwise work on the outputs (a
    ///     residual add) done inside the parallel pass instead of after it.
    public static func multiply(_ w: QuantMatrix, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>,
                                then finish: ((Range<Int>) -> Void)? = nil) {
        guard ActivationLayout.permutes(w.type) else {
            multiplyPlain(w, x, rows: n, into: y)
            finish?(0..<w.rows)
            return
        }
        multiply([w], x, rows: n, into: [y], then: finish.map { f in { _, range in f(range) } })
    }

    /// Several products of the same activations, `ys[i] = ws[i] · X` (e.g. a layer's Q, K and V), in
    /// one parallel pass: the activations are permuted once and the threads are waited for once.
    /// Matrices of different block types or widths are multiplied one after the other.
    /// `finish(i, range)` runs after rows `range` of product `i` are written for every token.
    public static func multiply(_ ws: [QuantMatrix], _ x: UnsafePointer<Float>, rows n: Int, into ys: [UnsafeMutablePointer<Float>],
                                then finish: ((Int, Range<Int>) -> Void)? = nil) {
        guard let first = ws.first, ws.count == ys.count, n > 0 else { return }
        let cols = first.cols
        guard ActivationLayout.permutes(first.type), ws.allSatisfy({ $0.type == first.type && $0.cols == cols }) else {
            for (i, (w, y)) in zip(ws, ys).enumerated() { multiply(w, x, rows: n, into: y, then: finish.map { f in { f(i, $0) } }) }
            return
        }
        let kernels = KernelSet.active
        withPermuted(x, cols: cols, rows: n) { xq in
            parallelChunks(ws.map(\.rows), grain: grain(n), chunksPerThread: chunksPerThread(n), align: 4) { i, range in
                withScratch(cols: cols, rows: n) { scratch in
                    let w = ws[i]
                    kernels.quant_rows(Int32(w.type.rawValue), w.base, w.rowBytes, cols, xq, n, ys[i], w.rows,
                                       range.lowerBound, range.upperBound, scratch)
                }
                finish?(i, range)
            }
        }
    }

    /// Two products of the same activations with the same number of rows, `ya = a · X` and `yb = b · X`,
    /// where each parallel chunk computes the same rows of both and then runs `finish(range)` — so an
    /// elementwise combination of the two (SwiGLU of gate and up) happens in the same pass.
    /// Falls back to one product after the other (then `finish(0..<rows)`) for unlike matrices.
    public static func multiplyPair(_ a: QuantMatrix, _ b: QuantMatrix, _ x: UnsafePointer<Float>, rows n: Int,
                                    into ya: UnsafeMutablePointer<Float>, _ yb: UnsafeMutablePointer<Float>,
                                    then finish: (Range<Int>) -> Void) {
        guard n > 0 else { return }
        let cols = a.cols
        guard ActivationLayout.permutes(a.type), a.type == b.type, a.cols == b.cols, a.rows == b.rows else {
            multiply(a, x, rows: n, into: ya)
            multiply(b, x, rows: n, into: yb)
            finish(0..<min(a.rows, b.rows))
            return
        }
        let kernels = KernelSet.active
        let type = Int32(a.type.rawValue)
        withPermuted(x, cols: cols, rows: n) { xq in
            // Half the rows of `multiply([a, b])` per chunk, each done twice, so the same chunk count.
            parallelChunks(a.rows, grain: max(1, grain(n) / 2), chunksPerThread: chunksPerThread(n), align: 4) { range in
                withScratch(cols: cols, rows: n) { scratch in
                    for (w, y) in [(a, ya), (b, yb)] {
                        kernels.quant_rows(type, w.base, w.rowBytes, cols, xq, n, y, w.rows, range.lowerBound, range.upperBound, scratch)
                    }
                }
                finish(range)
            }
        }
    }

    /// Rows per parallel chunk at least, for `n` tokens.
    private static func grain(_ n: Int) -> Int { n == 1 ? 32 : 8 }

    /// Chunks per thread for `n` tokens.
    private static func chunksPerThread(_ n: Int) -> Int { n == 1 ? 2 : 4 }

    /// Runs `body` with the `n` rows of `x` permuted into the order the block decoders produce.
    private static func withPermuted(_ x: UnsafePointer<Float>, cols: Int, rows n: Int, _ body: (UnsafePointer<Float>) -> Void) {
        let kernels = KernelSet.active
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: n * cols)
        defer { xp.deallocate() }
        for t in 0..<n { kernels.permute(x + t * cols, cols, xp + t * cols, n == 1 ? 0 : kernels.batch_split) }
        body(UnsafePointer(xp))
    }

    /// Runs `body` with the scratch `quant_rows` needs: rows of two or more tokens are decoded once
    /// into it, four at a time.
    private static func withScratch(cols: Int, rows n: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: n == 1 ? 1 : 4 * cols)
        defer { scratch.deallocate() }
        body(scratch)
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
