import EngineKernels
import Foundation

/// Which build of the engine's inner loops runs (the C target EngineKernels): the AVX-512 one where the
/// CPU has AVX-512 F and VL, else the AVX2/FMA/F16C one where it has those, else the x86-64 baseline
/// one — chosen once, at the first kernel call, from the CPU this process runs on, never from the
/// machine that built it. The AVX-512 and AVX2 sets give the same bits; the portable one may differ
/// in rounding (a multiply and an add where the others fuse them).
///
/// `INFER_ENGINE_KERNELS=portable` forces the baseline kernels and `avx2` caps the choice at the AVX2
/// set (the engine tests run once more with each, so those paths are checked on AVX-512 machines too);
/// unset or `auto` lets the CPU decide.
public enum KernelSet {
    /// The environment variable that picks the kernels: `portable`, `avx2` or `auto` (the default).
    public static let environmentVariable = "INFER_ENGINE_KERNELS"

    /// The most capable kernel set a value of `environmentVariable` allows.
    public enum Ceiling: Int32, Sendable {
        /// Whatever the CPU supports.
        case auto = 0
        /// The baseline kernels.
        case portable = 1
        /// The AVX2 kernels at most.
        case avx2 = 2
    }

    /// The ceiling `value` (of `environmentVariable`) sets; nil for a value that is none of `auto`,
    /// `avx2`, `portable` (the caller reports it; the engine then uses `auto`).
    public static func ceiling(_ value: String?) -> Ceiling? {
        switch value ?? "auto" {
        case "", "auto": .auto
        case "avx2": .avx2
        case "portable": .portable
        default: nil
        }
    }

    /// The kernels in use.
    static let active: Kernels = ek_select((ceiling(ProcessInfo.processInfo.environment[environmentVariable]) ?? .auto).rawValue).pointee

    /// "avx512", "avx2" or "portable": the kernels this process uses.
    public static var name: String { active.label }
}

/// One set of kernels: the C table, whose function pointers are never null.
typealias Kernels = ek_kernels

// A table of C functions and a static name, never written after it is made.
extension ek_kernels: @unchecked @retroactive Sendable {}

extension ek_kernels {
    /// The baseline x86-64 kernels.
    static var portable: ek_kernels { ek_portable().pointee }

    /// The AVX2 kernels, or nil on a CPU without AVX2, FMA or F16C.
    static var avx2: ek_kernels? { ek_avx2()?.pointee }

    /// The AVX-512 kernels, or nil on a CPU without AVX-512 F and VL (or without the AVX2 set).
    static var avx512: ek_kernels? { ek_avx512()?.pointee }

    /// "avx512", "avx2" or "portable".
    var label: String { String(cString: name) }
}
