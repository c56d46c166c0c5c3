import Foundation
import Glibc
import Spawn

/// Runs the built inferctl with `arguments` and `environment`, waiting for it to exit.
/// - Returns: Its exit status, stdout and stderr.
/// - Throws: ``HarnessError`` when it does not exit within 30 s (it is killed); `SpawnError` when it cannot start.
public func runInferctl(_ arguments: [String], environment: [String: String] = ["PATH": "/usr/bin:/bin"]) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let scratch = try TemporaryDirectory()
    let outPath = scratch.path + "/out", errPath = scratch.path + "/err"
    let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let child: ChildProcess
    do {
        defer {
            close(out)
            close(err)
        }
        child = try ProcessSpawner.spawn(builtProduct("inferctl"), arguments: arguments, environment: environment,
                                         standardOutput: .descriptor(out), standardError: .descriptor(err))
    }
    guard case .exited(let status)? = child.wait(timeout: .seconds(30)) else {
        child.signal(SIGKILL)
        throw HarnessError("inferctl \(arguments.joined(separator: " ")) did not exit")
    }
    return (status, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}
