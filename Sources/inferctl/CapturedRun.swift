import Basics
import Glibc
import Spawn

/// A program inferctl runs to its end for what it prints (`systemctl show`, `DAEMON --check-config`),
/// through `Spawn` rather than Foundation's `Process`, whose pipe ends are closed with a `try!` that
/// stops the whole process on an EBADF.
enum CapturedRun {
    /// Runs `path` with `arguments` and reads its stdout (and its stderr too when `includeErrors`).
    /// - Parameters:
    ///   - path: The program's absolute path.
    ///   - arguments: Its arguments.
    ///   - environment: Its whole environment.
    ///   - includeErrors: Whether stderr goes into the same text; else to /dev/null.
    /// - Returns: Its exit code (-1 when a signal ended it) and what it printed.
    /// - Throws: `SpawnError` when it cannot be started.
    static func run(_ path: String, _ arguments: [String], environment: [String: String],
                    includeErrors: Bool) throws(SpawnError) -> (status: Int32, output: String) {
        let pipe = try ProcessSpawner.makePipe()
        let child: ChildProcess
        do {
            defer { close(pipe.write) }
            child = try ProcessSpawner.spawn(path, arguments: arguments, environment: environment,
                                             standardOutput: .descriptor(pipe.write),
                                             standardError: includeErrors ? .descriptor(pipe.write) : .null)
        } catch {
            close(pipe.read)
            throw error
        }
        // A read error ends the output where it is; the exit status still tells how the program ended.
        let bytes = (try? FileIO.readAll(pipe.read, path: path)) ?? []
        close(pipe.read)
        let status: Int32 = if case .exited(let code) = child.wait() { code } else { -1 }
        return (status, String(decoding: bytes, as: UTF8.self))
    }
}
