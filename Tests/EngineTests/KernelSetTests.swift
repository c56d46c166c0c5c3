import Foundation
import Testing
@testable import Engine

/// The two builds of the kernels (Sources/EngineKernels): the one in use is the one the environment and
/// the CPU ask for, and the portable one computes what the AVX2 one does, up to rounding.
@Suite struct KernelSetTests {
    @Test func activeSetIsWhatTheEnvironmentAndTheCPUAskFor() {
        let value = ProcessInfo.processInfo.environment[KernelSet.environmentVariable]
        let forced = KernelSet.forcesPortable(value) == true
        #expect(KernelSet.name == (forced || Kernels.avx2 == nil ? "portable" : "avx2"))
    }

    @Test func environmentValues() {
        #expect(KernelSet.forcesPortable(nil) == false)
        #expect(KernelSet.forcesPortable("auto") == false)
        #expect(KernelSet.forcesPortable("") == false)
        #expect(KernelSet.forcesPortable("portable") == true)
        #expect(KernelSet.forcesPortable("avx512") == nil)
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
            var permuted = [Float](repeating: 0, count: n * cols)
            var y = [Float](repeating: .nan, count: n * rows)
            var scratch = [Float](repeating: 0, count: 4 * cols)
            for t in 0..<n {
                x.withUnsafeBufferPointer { xp in
                    permuted.withUnsafeMutableBufferPointer { kernels.permute(xp.baseAddress! + t * cols, cols, $0.baseAddress! + t * cols, n == 1 ? 0 : 1) }
                }
            }
            data.withUnsafeBytes { w in
                kernels.quant_rows(Int32(type.rawValue), w.baseAddress!, w.count / rows, cols, permuted, n, &y, rows, 0, rows, &scratch)
            }
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
