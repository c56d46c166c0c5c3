import Foundation

// A blocked, packed, multi-threaded F32 matrix multiply for the embedding model's linear layers:
// C[m×n] = A[m×k] · Wᵀ + bias, with W in PyTorch's Linear layout [n×k].
//
// The layout follows the usual BLIS/GotoBLAS scheme. W is packed once, at load, into panels of
// `bertNR` (16) output columns stored k-major (16 consecutive floats per k), so the micro-kernel reads
// it with two aligned 8-lane loads per k. A is packed per call into micro-panels of `bertMR` (6) rows,
// also k-major, so each k needs six scalar broadcasts. The 6×16 micro-kernel keeps its 12 accumulators
// in registers (12 of the 16 AVX2 registers, leaving room for the two W vectors and a broadcast) and
// does 12 FMAs per k. K is cut into blocks of at most `bertKC` so one W panel block (kc×16 floats,
// 16 KB) stays in L1 while it is reused against every A micro-panel of an `bertMC`-row A block (in L2).
// The micro-kernel and its GELU are C (`ek_kernels.gemm6x16`, Sources/EngineKernels); the packing
// and the blocking stay here.

/// Rows per micro-kernel tile.
let bertMR = 6
/// Output columns per micro-kernel tile (two 8-lane vectors).
let bertNR = 16
/// Largest K block: a 256×16 W panel block is 16 KB, half of L1d.
let bertKC = 256
/// Rows of A packed per block: 96×256 floats = 96 KB, well inside L2 (512 KB per core here).
let bertMC = 96

/// A weight matrix packed for `bertGEMM`, with its bias; owns 64-byte aligned memory.
final class BertPackedMatrix: @unchecked Sendable {
    // Written only in init, then read-only: safe to share between threads.
    /// Output features (rows of the original W).
    let n: Int
    /// Input features (columns of the original W).
    let k: Int
    /// Number of 16-column panels (n rounded up).
    let panels: Int
    /// panels × k × 16 floats; padding columns are zero.
    let data: UnsafeMutablePointer<Float>
    /// panels × 16 floats; padding is zero.
    let bias: UnsafeMutablePointer<Float>

    /// Packs `weight` ([n×k], row-major) and `bias` ([n]).
    init(weight: [Float], bias: [Float], n: Int, k: Int) {
        precondition(weight.count == n * k && bias.count == n, "BertPackedMatrix: sizes do not match n×k")
        self.n = n
        self.k = k
        self.panels = (n + bertNR - 1) / bertNR
        let count = panels * k * bertNR
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
        data = raw.bindMemory(to: Float.self, capacity: max(1, count))
        data.initialize(repeating: 0, count: max(1, count))
        let rawBias = UnsafeMutableRawPointer.allocate(byteCount: panels * bertNR * 4 + 64, alignment: 64)
        self.bias = rawBias.bindMemory(to: Float.self, capacity: panels * bertNR + 16)
        self.bias.initialize(repeating: 0, count: panels * bertNR + 16)
        weight.withUnsafeBufferPointer { w in
            guard let base = w.baseAddress else { return }
            for p in 0..<panels {
                let dst = data + p * k * bertNR
                for j in 0..<bertNR {
                    let row = p * bertNR + j
                    if row >= n { break }
                    let src = base + row * k
                    for kk in 0..<k { dst[kk * bertNR + j] = src[kk] }
                }
            }
        }
        for i in 0..<n { self.bias[i] = bias[i] }
    }

    deinit {
        UnsafeMutableRawPointer(data).deallocate()
        UnsafeMutableRawPointer(bias).deallocate()
    }
}

/// C[m×n] = A[m×k] · Wᵀ + bias, optionally followed by GELU, on `EngineThreads.count` threads.
/// - Parameters:
///   - a: m rows of `w.k` floats, row stride `lda`.
///   - c: m rows of `w.n` floats, row stride `ldc`; overwritten.
///   - gelu: Apply GELU (erf form) to each result as its tile is stored, saving a pass over C.
func bertGEMM(m: Int, a: UnsafePointer<Float>, lda: Int, w: BertPackedMatrix, c: UnsafeMutablePointer<Float>, ldc: Int,
              gelu: Bool = false) {
    if m <= 0 || w.n == 0 { return }
    let microPanels = (m + bertMR - 1) / bertMR
    let threads = EngineThreads.count
    // Many rows: split the rows (each thread reads all of W, but compute dominates). Few rows (one
    // short sentence): split the output columns instead, so each thread reads only its share of W,
    // which is then what bounds the time.
    nonisolated(unsafe) let c = c
    if microPanels >= 4 * threads || w.panels < 2 * threads {
        parallelChunks(microPanels, grain: 2) { range in
            let rows = (range.lowerBound * bertMR)..<min(m, range.upperBound * bertMR)
            bertGEMMBlock(a: a, lda: lda, rows: rows, panels: 0..<w.panels, w: w, c: c, ldc: ldc, gelu: gelu)
        }
    } else {
        parallelChunks(w.panels, grain: 4) { range in
            bertGEMMBlock(a: a, lda: lda, rows: 0..<m, panels: range, w: w, c: c, ldc: ldc, gelu: gelu)
        }
    }
}

/// One thread's share: the given rows of C restricted to the given column panels.
private func bertGEMMBlock(a: UnsafePointer<Float>, lda: Int, rows: Range<Int>, panels: Range<Int>,
                           w: BertPackedMatrix, c: UnsafeMutablePointer<Float>, ldc: Int, gelu: Bool) {
    let k = w.k
    let kBlocks = (k + bertKC - 1) / bertKC
    // Equal K blocks (384 → 2×192, not 256 + 128) keep every block's loop the same length.
    let kcMax = (k + kBlocks - 1) / kBlocks
    let packed = UnsafeMutablePointer<Float>.allocate(capacity: bertMC * kcMax)
    defer { packed.deallocate() }
    var pc = 0
    while pc < k {
        let kc = min(kcMax, k - pc)
        var ic = rows.lowerBound
        while ic < rows.upperBound {
            let mc = min(bertMC, rows.upperBound - ic)
            bertPackA(a: a + ic * lda + pc, lda: lda, rows: mc, kc: kc, into: packed)
            let tiles = (mc + bertMR - 1) / bertMR
            for jp in panels {
                let bp = UnsafePointer(w.data + jp * k * bertNR + pc * bertNR)
                let col = jp * bertNR
                let cols = min(bertNR, w.n - col)
                let bias: UnsafePointer<Float>? = pc == 0 ? UnsafePointer(w.bias + col) : nil
                let activate = gelu && pc + kc == k
                for t in 0..<tiles {
                    let row = ic + t * bertMR
                    bertKernel6x16(kc: kc, a: packed + t * bertMR * kc, b: bp,
                                   c: c + row * ldc + col, ldc: ldc,
                                   rows: min(bertMR, rows.upperBound - row), cols: cols, bias: bias,
                                   gelu: activate)
                }
            }
            ic += mc
        }
        pc += kc
    }
}

/// Packs `rows` rows × `kc` columns of A into micro-panels of 6 rows, k-major, zero-padding the last.
@inline(__always)
private func bertPackA(a: UnsafePointer<Float>, lda: Int, rows: Int, kc: Int, into dst: UnsafeMutablePointer<Float>) {
    var r0 = 0
    while r0 < rows {
        let panel = dst + r0 * kc
        let valid = min(bertMR, rows - r0)
        for r in 0..<bertMR {
            if r < valid {
                let src = a + (r0 + r) * lda
                for kk in 0..<kc { panel[kk * bertMR + r] = src[kk] }
            } else {
                for kk in 0..<kc { panel[kk * bertMR + r] = 0 }
            }
        }
        r0 += bertMR
    }
}

/// The 6×16 micro-kernel: C tile (+)= Apanel · Bpanel over `kc`; starts from `bias` when given (the
/// first K block), else from C; applies GELU before storing when `gelu` (the last K block). Only
/// the `rows`×`cols` valid part of the tile is read and written.
@inline(__always)
private func bertKernel6x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                            bias: UnsafePointer<Float>?, gelu: Bool) {
    if rows == bertMR && cols == bertNR {
        bertKernelCore(kc: kc, a: a, b: b, c: c, ldc: ldc, bias: bias, gelu: gelu)
        return
    }
    // Edge tile: compute into a zeroed stack tile so the kernel never touches memory outside C.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: bertMR * bertNR) { buffer in
        guard let tile = buffer.baseAddress else { return }
        tile.initialize(repeating: 0, count: bertMR * bertNR)
        if bias == nil {
            for r in 0..<rows { for j in 0..<cols { tile[r * bertNR + j] = c[r * ldc + j] } }
        }
        bertKernelCore(kc: kc, a: a, b: b, c: tile, ldc: bertNR, bias: bias, gelu: gelu)
        for r in 0..<rows { for j in 0..<cols { c[r * ldc + j] = tile[r * bertNR + j] } }
    }
}

@inline(__always)
private func bertKernelCore(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, gelu: Bool) {
    KernelSet.active.gemm6x16(kc, a, b, c, ldc, bias, gelu ? 1 : 0)
}
