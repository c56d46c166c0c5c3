import Foundation
import Glibc
import Spawn

/// A child process a test starts (a built daemon, a fixture, a tool), with its standard error in a pipe
/// read once it has exited; killed at deinit if it is still running.
public final class ProcessRun {
    /// The running (or finished) child.
    public let child: ChildProcess
    private let stderrRead: Int32

    /// Starts `executable`.
    /// - Parameters:
    ///   - executable: The program's path.
    ///   - arguments: Its arguments.
    ///   - environment: Its whole environment, with `PATH=/usr/bin:/bin` added unless it names a PATH.
    ///   - descriptors: Child fd → parent fd (3... for socket activation).
    /// - Throws: `SpawnError` when it cannot be started.
    public init(
        _ executable: String, arguments: [String] = [], environment: [String: String],
        descriptors: [Int32: Int32] = [:]
    ) throws {
        let pipe = try ProcessSpawner.makePipe()
        defer { close(pipe.write) }
        stderrRead = pipe.read
        var environment = environment
        environment["PATH"] = environment["PATH"] ?? "/usr/bin:/bin"
        do {
            child = try ProcessSpawner.spawn(
                executable, arguments: arguments, environment: environment, descriptors: descriptors,
                standardError: .descriptor(pipe.write))
        } catch {
            close(pipe.read)
            throw error
        }
    }

    /// Starts the executable `name` of the build directory (``builtProduct(_:)``).
    /// - Throws: ``MissingProduct`` when it is not built; `SpawnError` when it cannot be started.
    public convenience init(product name: String, arguments: [String] = [], environment: [String: String]) throws {
        let executable = builtProduct(name)
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw MissingProduct(path: executable) }
        try self.init(executable, arguments: arguments, environment: environment)
    }

    deinit {
        if child.exitStatus == nil { child.terminate(grace: .milliseconds(100)) }
        close(stderrRead)
    }

    /// Waits for the child to exit (terminating it after `timeout`) and reads all it wrote on stderr.
    /// - Returns: How it ended, and its stderr.
    public func finish(timeout: Duration = .seconds(15)) -> (status: TerminationStatus, stderr: String) {
        let status = child.wait(timeout: timeout) ?? child.terminate(grace: .zero)
        return (status, String(decoding: readToEnd(stderrRead), as: UTF8.self))
    }
}

/// Reads `descriptor` until end of file (or an error); what came is returned.
public func readToEnd(_ descriptor: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        if count <= 0 { break }
        bytes.append(contentsOf: buffer[0..<count])
    }
    return bytes
}
