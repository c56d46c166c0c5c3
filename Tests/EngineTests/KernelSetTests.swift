import Foundation
import Testing
@testable import Engine

/// The builds of the kernels (Sources/EngineKernels): the one in use is the one the environment and
/// the CPU ask for, the portable one computes what the AVX2 one does, up to rounding, and the AVX-512
/// one exactly what the AVX2 one does.
@Suite struct KernelSetTests {
    @Test func activeSetIsWhatTheEnvironmentAndTheCPUAskFor() {
        let value = ProcessInfo.processInfo.environment[KernelSet.environmentVariable]
        let want = switch KernelSet.ceiling(value) ?? .auto {
        case .portable: "portable"
        case .avx2: Kernels.avx2 != nil ? "avx2" : "portable"
        case .auto: Kernels.avx512 != nil ? "avx512" : Kernels.avx2 != nil ? "avx2" : "portable"
        }
        #expect(KernelSet.name == want)
    }

    @Test func environmentValues() {
        #expect(KernelSet.ceiling(nil) == .auto)
        #expect(KernelSet.ceiling("auto") == .auto)
        #expect(KernelSet.ceiling("") == .auto)
        #expect(KernelSet.ceiling("portable") == .portable)
        #expect(KernelSet.ceiling("avx2") == .avx2)
        #expect(KernelSet.ceiling("avx512") == nil)
    }

    /// Quantized products of both sets against a float64 product of the decoded weights, for one token
    /// and for a batch (each kernel shape: one row, two rows × four tokens, four rows × one or two).
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0], [1, 7])
    func quantizedProductsOfBothSetsMatchAPlainProduct(type: GGMLType, n: Int) throws {
        let rows = 9, cols = 128
        var rng = SplitMix64(seed: 3)
        let data = GGUFTests().randomBlocks(type, count: rows * cols / 32, &rng)
        let weights = GGUFTests().decode(type, data, rows * cols)
        let x = (0..<(n * cols)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        for kernels in EmbeddingTests.kernelSets {
            let y = Self.product(kernels, type, data, rows: rows, cols: cols, x, n: n, 0..<rows)
            for t in 0..<n {
                for r in 0..<rows {
                    var want = 0.0
                    for c in 0..<cols { want += Double(weights[r * cols + c]) * Double(x[t * cols + c]) }
                    #expect(abs(Double(y[t * rows + r]) - want) < 1e-4 * max(1, abs(want)),
                            "\(kernels.label) \(type) token \(t) row \(r): \(y[t * rows + r]) vs \(want)")
                }
            }
        }
    }

    /// The AVX-512 set against the AVX2 set, bit for bit: every batch size from 1 to 9 (each tile shape
    /// and remainder), row ranges that start and end off a multiple of four, each block type.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0])
    func avx512ProductsAreTheAVX2Bits(type: GGMLType) throws {
        guard let wide = Kernels.avx512, let avx2 = Kernels.avx2 else { return }
        let rows = 11, cols = 96
        var rng = SplitMix64(seed: 17)
        let data = GGUFTests().randomBlocks(type, count: rows * cols / 32, &rng)
        for n in 1...9 {
            let x = (0..<(n * cols)).map { _ in Float(rng.nextDouble() * 8 - 4) }
            for (r0, r1) in [(0, rows), (1, 10), (4, 7), (3, 4)] {
                var results: [[Float]] = []
                for kernels in [avx2, wide] {
                    let y = Self.product(kernels, type, data, rows: rows, cols: cols, x, n: n, r0..<r1)
                    results.append((0..<n).flatMap { t in y[(t * rows + r0)..<(t * rows + r1)] })
                }
                #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern), "\(type) n \(n) rows \(r0)..<\(r1)")
            }
        }
    }

    /// Grouped attention against what one head alone computes (`dot`·scale for each score, `axpy` value
    /// by value from zero for each output), bit for bit, in every set; head sizes with and without a
    /// remainder of 32 and of 8.
    @Test(arguments: [64, 40, 12])
    func groupedAttentionIsEachHeadAlone(headDim hd: Int) {
        let group = 3, len = 37, kvStride = 2 * hd + 5
        var rng = SplitMix64(seed: UInt64(hd))
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) } }
        let q = random(group * hd), keys = random(len * kvStride), values = random(len * kvStride), p = random(group * len)
        for kernels in EmbeddingTests.kernelSets {
            var scores = [Float](repeating: .nan, count: group * len), out = [Float](repeating: .nan, count: group * hd)
            kernels.gqa_scores(q, group, hd, keys, kvStride, len, hd, 0.125, &scores, len)
            kernels.gqa_values(p, group, len, values, kvStride, len, hd, &out, hd)
            for h in 0..<group {
                for j in 0..<len {
                    let want = q.withUnsafeBufferPointer { q in keys.withUnsafeBufferPointer { k in
                        kernels.dot(q.baseAddress! + h * hd, k.baseAddress! + j * kvStride, hd) * 0.125
                    } }
                    #expect(scores[h * len + j].bitPattern == want.bitPattern, "\(kernels.label) head \(h) key \(j)")
                }
                var o = [Float](repeating: 0, count: hd)
                values.withUnsafeBufferPointer { v in
                    for j in 0..<len { kernels.axpy(p[h * len + j], v.baseAddress! + j * kvStride, &o, hd) }
                }
                #expect(Array(out[(h * hd)..<((h + 1) * hd)]).map(\.bitPattern) == o.map(\.bitPattern), "\(kernels.label) head \(h)")
            }
        }
    }

    /// Rows `range` of W·X with one set's kernels, as MatMul calls them (activations permuted into the
    /// layout the set reads); the other rows are NaN.
    static func product(_ kernels: Kernels, _ type: GGMLType, _ data: [UInt8], rows: Int, cols: Int, _ x: [Float], n: Int,
                        _ range: Range<Int>) -> [Float] {
        var permuted = [Float](repeating: 0, count: n * cols)
        var y = [Float](repeating: .nan, count: n * rows)
        var scratch = [Float](repeating: 0, count: 4 * cols)
        for t in 0..<n {
            x.withUnsafeBufferPointer { xp in
                permuted.withUnsafeMutableBufferPointer { kernels.permute(xp.baseAddress! + t * cols, cols, $0.baseAddress! + t * cols, n == 1 ? 0 : kernels.batch_split) }
            }
        }
        data.withUnsafeBytes { w in
            kernels.quant_rows(Int32(type.rawValue), w.baseAddress!, w.count / rows, cols, permuted, n, &y, rows, range.lowerBound, range.upperBound, &scratch)
        }
        return y
    }

    @Test func dotAndAxpyOfBothSets() {
        let a = (0..<37).map { Float($0) / 7 - 2 }, b = (0..<37).map { Float(($0 * 13) % 11) / 5 }
        let want = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        for kernels in EmbeddingTests.kernelSets {
            #expect(abs(Double(kernels.dot(a, b, 37)) - want) < 1e-4, "\(kernels.label)")
            var y = b
            kernels.axpy(2, a, &y, 37)
            for i in 0..<37 { #expect(abs(y[i] - (b[i] + 2 * a[i])) < 1e-5, "\(kernels.label) \(i)") }
        }
    }
}
