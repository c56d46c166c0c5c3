import Foundation
import Glibc
import Spawn
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
        // A clean environment: nothing another test of this process set (keys files, auth, state) leaks in.
        let inherited = ProcessInfo.processInfo.environment
        var environment = ["PATH": inherited["PATH"] ?? "/usr/bin:/bin", "HOME": inherited["HOME"] ?? "/root"]
        environment["INFER_BIN_DIR"] = bin
        environment["SOAK_PORT"] = String(try freeTCPPort())
        environment["SOAK_METRICS_PORT"] = String(try freeTCPPort())
        environment["INFER_MODELS_DIR"] = try inherited["INFER_MODELS_DIR"] ?? ModelPaths.directory()
        // Spawned with an empty signal mask: a Swift test process blocks SIGTERM, and a child that inherits
        // that could never stop the stack it started (Foundation's Process passes the mask on).
        let scratch = try TemporaryDirectory()
        let logPath = scratch.path + "/soak.log"
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let child = try ProcessSpawner.spawn(packageRoot + "/bench/run-soak.sh", arguments: ["3", "45"], environment: environment,
                                             standardOutput: .descriptor(log), standardError: .descriptor(log))
        close(log)
        let ended = child.wait(timeout: Duration.seconds(360))
        if ended == nil { _ = child.signal(SIGKILL) }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        print(output)
        let succeeded: Bool = if case .exited(0)? = ended { true } else { false }
        #expect(succeeded, "the soak failed (\(String(describing: ended))):\n\(output.suffix(3000))")
        #expect(output.contains("soak: flat after warm-up, nothing failed"))
    }
}
