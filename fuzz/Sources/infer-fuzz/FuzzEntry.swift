import Foundation

/// The target FUZZ_TARGET names (run-fuzzers.sh sets it), looked up at the first input.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = FuzzHarness.target(named: name) else {
        let names = FuzzHarness.targets.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("FUZZ_TARGET must be one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

/// libFuzzer's entry point. Whichever `main` the link keeps — libFuzzer's own, or main.swift's (SwiftPM
/// renames an executable's main and points `main` at it) — inputs arrive here.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
