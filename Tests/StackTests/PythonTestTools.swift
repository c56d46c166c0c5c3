import Foundation
import Glibc
import Spawn
import TestKit

/// The Python test tools that `scripts/install-test-tools.sh` (run by `make test`) installs into
/// `.venv-test` at the package root: the official `openai` client and schemathesis, pinned in
/// tests-python/requirements.txt, and the scripts in tests-python/ that drive them.
struct PythonTestTools {
    var python: String { packageRoot + "/.venv-test/bin/python" }
    var schemathesis: String { packageRoot + "/.venv-test/bin/schemathesis" }
    /// The API's contract.
    var openAPISpec: String { packageRoot + "/docs/openapi.yaml" }

    /// A script of tests-python/.
    func script(_ name: String) -> String { packageRoot + "/tests-python/" + name }

    /// Checks the venv is there, in the package root (``packageRoot``).
    /// - Throws: `HarnessError` saying how to install the tools when they are missing.
    init() throws {
        for tool in [python, schemathesis] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw HarnessError("\(tool) is missing: run scripts/install-test-tools.sh (make test does) to install the pinned "
                + "Python test tools (openai, schemathesis) into .venv-test")
        }
    }

    /// Runs a tool to its end, or until `timeout`, in `directory` (where its working files land:
    /// schemathesis writes .hypothesis/ and .schemathesis/ into its working directory).
    /// - Parameters:
    ///   - executable: The program.
    ///   - arguments: Its arguments.
    ///   - environment: Added to a minimal environment (PATH, HOME in `directory`, UTF-8, no proxy for loopback).
    ///   - directory: The working directory.
    ///   - timeout: The longest the tool may run; it is terminated after that.
    /// - Returns: How it ended and all it printed.
    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: String,
             timeout: Duration) throws -> ToolRun {
        let outputPath = directory + "/tool-output-\(UUID().uuidString).txt"
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw HarnessError("cannot create \(outputPath): errno \(errno)") }
        defer { close(output) }
        let environment = ["PATH": "/usr/bin:/bin", "HOME": directory, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
                           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"]
            .merging(environment) { $1 }
        // Spawn has no working-directory action: a shell changes to it and execs the tool.
        let child = try ProcessSpawner.spawn(
            "/bin/sh", arguments: ["-c", #"cd "$0" && exec "$@""#, directory, executable] + arguments,
            environment: environment, standardOutput: .descriptor(output), standardError: .descriptor(output))
        let ended = child.wait(timeout: timeout)
        let timedOut = ended == nil
        let status = ended ?? child.terminate(grace: .seconds(5))
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let code: Int32? = if case .exited(let code) = status { code } else { nil }
        return ToolRun(exitCode: timedOut ? nil : code, timedOut: timedOut, output: text)
    }
}

/// One finished run of a tool.
struct ToolRun {
    /// The exit status; nil when a signal or the timeout ended it.
    let exitCode: Int32?
    let timedOut: Bool
    /// Everything it wrote on stdout and stderr, interleaved.
    let output: String

    var succeeded: Bool { exitCode == 0 }
}
