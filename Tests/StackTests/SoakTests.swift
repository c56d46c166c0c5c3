import Foundation
import Testing
import TestKit
import TestModels

/// The short soak of the suite: bench/run-soak.sh for 3 minutes on the debug build (the 30-minute run on
/// a release build is recorded in docs/PERFORMANCE.md). It fails when a well-formed request fails or
/// when any daemon's descriptors or memory grow after the first minute.
@Suite("a 3-minute soak")
struct SoakTests {
    @Test("3 minutes of mixed and hostile load: nothing fails, every daemon flat after warm-up")
    func soak() throws {
        let bin = (builtProduct("frontd") as NSString).deletingLastPathComponent
        let process = Process()
        process.executableURL = URL(fileURLWithPath: packageRoot + "/bench/run-soak.sh")
        process.arguments = ["3", "45"]
        // A clean environment: nothing another test of this process set (keys files, auth, state) leaks in.
        let inherited = ProcessInfo.processInfo.environment
        var environment = ["PATH": inherited["PATH"] ?? "/usr/bin:/bin", "HOME": inherited["HOME"] ?? "/root"]
        environment["INFER_BIN_DIR"] = bin
        environment["SOAK_PORT"] = String(try freeTCPPort())
        environment["SOAK_METRICS_PORT"] = String(try freeTCPPort())
        if environment["INFER_MODELS_DIR"] == nil { environment["INFER_MODELS_DIR"] = try ModelPaths.directory() }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(output)
        #expect(process.terminationStatus == 0, "the soak failed:\n\(output.suffix(3000))")
        #expect(output.contains("soak: flat after warm-up, nothing failed"))
    }
}
