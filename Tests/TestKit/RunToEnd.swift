import Foundation
import Glibc
import Spawn

/// Runs a program (a script under bench/ or scripts/) to its end, or kills it, with everything it
/// started, after `timeout`.
/// - Parameters:
///   - program: Its path.
///   - arguments: Its arguments.
///   - environment: Its whole environment.
///   - timeout: How long it may run.
/// - Returns: Its exit status (nil when it was killed or died of a signal) and all it printed on stdout
///   and stderr together.
/// - Throws: When the output file cannot be made or the program cannot be started.
public func runToEnd(_ program: String, _ arguments: [String], environment: [String: String],
                     timeout: Duration) throws -> (status: Int32?, output: String) {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let outputPath = directory.path + "/output"
    let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    defer { close(output) }
    // A process group of its own, so a program that overruns is killed with everything it started.
    let child = try ProcessSpawner.spawn(program, arguments: arguments, environment: environment,
                                         standardOutput: .descriptor(output), standardError: .descriptor(output),
                                         newProcessGroup: true)
    let status = child.wait(timeout: timeout)
    if status == nil {
        _ = child.signalGroup(SIGTERM)
        _ = child.wait(timeout: .seconds(5)) ?? child.terminate(grace: .zero)
    }
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    if case .exited(let code) = status { return (code, text) }
    return (nil, text)
}
