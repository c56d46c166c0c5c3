import EngineKernels
import Foundation

/// Which build of the engine's inner loops runs (the C target EngineKernels): the AVX2/FMA/F16C one
/// where the CPU has those, the x86-64 baseline one elsewhere — chosen once, at the first kernel call,
/// from the CPU this process runs on, never from the machine that built it.
///
/// `INFER_ENGINE_KERNELS=portable` forces the baseline kernels (the engine tests run once more with it,
/// so that path is checked on AVX2 machines too); unset or `auto` lets the CPU decide.
public enum KernelSet {
    /// The environment variable that picks the kernels: `portable` or `auto` (the default).
    public static let environmentVariable = "INFER_ENGINE_KERNELS"

    /// Whether `value` (of `environmentVariable`) forces the portable kernels; nil for a value that
    /// is neither `portable` nor `auto` (the caller reports it; the engine then uses `auto`).
    public static func forcesPortable(_ value: String?) -> Bool? {
        switch value ?? "auto" {
        case "", "auto": false
        case "portable": true
        default: nil
        }
    }

    /// The kernels in use.
    static let active: Kernels = ek_select(forcesPortable(ProcessInfo.processInfo.environment[environmentVariable]) == true ? 1 : 0).pointee

    /// "avx2" or "portable": the kernels this process uses.
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

    /// "avx2" or "portable".
    var label: String { String(cString: name) }
}
