import Foundation
import Glibc
import Spawn

/// Runs the built inferctl with `arguments` and `environment`, waiting for it to exit.
/// - Parameters:
///   - arguments: Its arguments.
///   - environment: Its whole environment.
///   - standardInput: What it reads on stdin (a file, so not a terminal); `/dev/null` when nil.
///   - timeout: How long it may run before it is killed.
/// - Returns: Its exit status, stdout and stderr.
/// - Throws: ``HarnessError`` when it does not exit within `timeout` (it is killed); `SpawnError` when it cannot start.
public func runInferctl(_ arguments: [String], environment: [String: String] = ["PATH": "/usr/bin:/bin"],
                        standardInput: String? = nil, timeout: Duration = .seconds(30)) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let scratch = try TemporaryDirectory()
    let outPath = scratch.path + "/out", errPath = scratch.path + "/err", inPath = scratch.path + "/in"
    if let standardInput { try Data(standardInput.utf8).write(to: URL(fileURLWithPath: inPath)) }
    let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let input = standardInput == nil ? -1 : open(inPath, O_RDONLY | O_CLOEXEC)
    let child: ChildProcess
    do {
        defer {
            close(out)
            close(err)
            if input >= 0 { close(input) }
        }
        child = try ProcessSpawner.spawn(builtProduct("inferctl"), arguments: arguments, environment: environment,
                                         standardInput: input >= 0 ? .descriptor(input) : .null,
                                         standardOutput: .descriptor(out), standardError: .descriptor(err))
    }
    guard case .exited(let status)? = child.wait(timeout: timeout) else {
        child.signal(SIGKILL)
        throw HarnessError("inferctl \(arguments.joined(separator: " ")) did not exit")
    }
    return (status, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}
