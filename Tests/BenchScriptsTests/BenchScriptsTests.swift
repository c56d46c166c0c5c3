import Foundation
import Glibc
import Spawn
import Testing
import TestKit

/// Every benchmark under bench/ run for about a second in its shortest mode, on the daemons the tests
/// were built with (`INFER_BIN_DIR`, so no release build), so that none of them can stop working
/// unnoticed: a script that exits non-zero (it does when a request is refused) fails the test. The
/// figures mean nothing here; performance claims come from full runs (docs/PERFORMANCE.md).
@Suite("the benchmarks under bench/ run", .serialized, .timeLimit(.minutes(10)))
struct BenchScriptsTests {
    /// Each script with the arguments of its shortest run, and how long that may take.
    static let runs: [(script: String, arguments: [String], timeout: Duration)] = [
        ("run-http-bench.sh", ["1s", "4", "1"], .seconds(90)),
        ("run-gateway-bench.sh", ["1s", "4", "1"], .seconds(90)),
        ("run-upstream-bench.sh", ["1s", "2", "2"], .seconds(90)),
        ("run-engine-bench.sh", ["--smoke"], .seconds(90)),
        ("run-cache-bench.sh", ["0.2", "100"], .seconds(90)),
        ("run-tracing-bench.sh", ["1s", "2"], .seconds(90)),
        ("run-serving-bench.sh", ["1s", "2", "4"], .seconds(90)),
        // LiteLLM's proxy alone takes tens of seconds to start on a loaded machine, and the script makes
        // twelve wrk runs (two upstreams, three ways, two connection counts).
        ("run-gateway-overhead-bench.sh", ["1s", "4", "2"], .seconds(240)),
        ("run-growth-curves.sh", ["--quick"], .seconds(150)),
    ]
    /// Scripts not run here, and why.
    static let notRun = [
        // It only installs the engine benchmark's peers (llama-cpp-python, PyTorch, sentence-transformers:
        // about a gigabyte); run-engine-bench.sh runs it when it measures the peers, which --smoke skips.
        "setup-peers.sh",
        // Its own test runs it for 3 minutes (Tests/StackTests/SoakTests.swift): a second here proves nothing more.
        "run-soak.sh",
    ]

    /// Runs a program to its end, or kills it after `timeout` (TestKit's ``runToEnd(_:_:environment:timeout:)``).
    static func run(_ program: String, _ arguments: [String], environment: [String: String],
                    timeout: Duration) throws -> (status: Int32?, output: String) {
        try runToEnd(program, arguments, environment: environment, timeout: timeout)
    }

    @Test("each bench/ script, ipc-bench and limit-bench run to their end in their shortest mode")
    func scriptsRun() throws {
        let bench = packageRoot + "/bench"
        let scripts = try FileManager.default.contentsOfDirectory(atPath: bench).filter { $0.hasSuffix(".sh") }
        #expect(Set(scripts) == Set(Self.runs.map(\.script) + Self.notRun),
                "a script under bench/ is neither run here nor listed as not run, with the reason")
        var environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": NSHomeDirectory(), "LANG": "C.UTF-8",
            "INFER_BIN_DIR": buildDirectory,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        ]
        // The scripts' fixed default ports could be taken by another run on this machine.
        for variable in ["HTTP_BENCH_PORT", "NGINX_BENCH_PORT", "GATEWAY_BENCH_PORT", "GATEWAY_BENCH_METRICS_PORT",
                         "CACHE_BENCH_REDIS_PORT", "TRACING_BENCH_PORT", "TRACING_BENCH_METRICS_PORT"] {
            environment[variable] = String(try freeTCPPort())
        }
        if let models = ProcessInfo.processInfo.environment["INFER_MODELS_DIR"] { environment["INFER_MODELS_DIR"] = models }
        // llama.cpp's threads spin at their barriers: on a loaded 2-core machine two of them can take seconds
        // a token, one does not (run-serving-bench.sh; its figures come from full runs).
        environment["LLAMA_THREADS"] = "1"
        for (script, arguments, timeout) in Self.runs {
            let started = ContinuousClock.now
            let (status, output) = try Self.run(bench + "/" + script, arguments, environment: environment, timeout: timeout)
            #expect(status == 0, "bench/\(script) \(arguments.joined(separator: " ")) ended with \(status.map(String.init) ?? "a timeout") after \(ContinuousClock.now - started):\n\(output.suffix(3000))")
        }
        let (status, output) = try Self.run(builtProduct("ipc-bench"), ["0.2", "64"], environment: environment, timeout: .seconds(30))
        #expect(status == 0 && output.contains("calls/s"), "ipc-bench: \(output.suffix(2000))")
        let limits = try Self.run(builtProduct("limit-bench"), [builtProduct("limitd"), "0.2"], environment: environment, timeout: .seconds(30))
        #expect(limits.0 == 0 && limits.1.contains("admissions/s") && limits.1.contains("redis vs memory"), "limit-bench: \(limits.1.suffix(2000))")
    }
}
