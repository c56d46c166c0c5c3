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
        let kernels = KernelSet.active
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: n * cols)
        defer { xp.deallocate() }
        for t in 0..<n { kernels.permute(x + t * cols, cols, xp + t * cols, n == 1 ? 0 : kernels.batch_split) }
        let xq = UnsafePointer(xp)
        let type = Int32(first.type.rawValue)
        parallelChunks(ws.map(\.rows), grain: n == 1 ? 32 : 8, chunksPerThread: n == 1 ? 2 : 4, align: 4) { i, range in
            // Rows of two or more tokens are decoded once into this scratch, four at a time.
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: n == 1 ? 1 : 4 * cols)
            defer { scratch.deallocate() }
            let w = ws[i]
            kernels.quant_rows(type, w.base, w.rowBytes, cols, xq, n, ys[i], w.rows, range.lowerBound, range.upperBound, scratch)
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
