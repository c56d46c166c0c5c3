import Basics
import Foundation
import Glibc
import Spawn
import Synchronization

/// A program a test starts with pipes to its stdin and stdout, on `Spawn`.
///
/// Tests use this, never Foundation's `Process`. Under parallel tests, corelibs Foundation's `Process`
/// could close a pipe end that another thread had just been given (swiftlang/swift#57827). A `try!` in
/// its `closeFile()` then stopped the whole StackTests process on EBADF. Here every descriptor has one
/// owner and is closed exactly once, under a lock.
public final class PipedProgram: Sendable {
    /// Where one of the child's output streams goes.
    public enum Destination: Sendable {
        /// /dev/null.
        case null
        /// A pipe the test reads (``readOutput()``, ``readOutputLine(timeout:)``, ``readError()``).
        case pipe
        /// Standard error only: into the same pipe as standard output.
        case output
    }

    /// The running (or finished) child.
    public let child: ChildProcess
    /// Pipe ends the parent holds: stdin's write end, stdout's and stderr's read ends (-1: none or closed).
    private let ends: Mutex<(input: Int32, output: Int32, error: Int32)>

    /// Starts `executable` (an absolute path; no PATH search).
    /// - Parameters:
    ///   - executable: The program.
    ///   - arguments: Its arguments.
    ///   - environment: Its whole environment; nil passes this process's on.
    ///   - input: Whether the test writes its stdin (``write(_:)``, ``closeInput()``); else /dev/null.
    ///   - output: Where its stdout goes (`.output` is taken as `.pipe`).
    ///   - error: Where its stderr goes.
    ///   - newProcessGroup: Whether it leads a process group of its own (for ``ChildProcess/signalGroup(_:)``).
    /// - Throws: `SpawnError` when a pipe cannot be made or the program cannot be started.
    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
        input: Bool = false, output: Destination = .pipe, error: Destination = .null, newProcessGroup: Bool = false
    ) throws {
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        // The child's ends are closed here once it has its copies; the parent's only on failure (else
        // they are the object's).
        defer { childEnds.forEach { _ = Glibc.close($0) } }
        do {
            var stdin: ProcessSpawner.Stream = .null, stdout: ProcessSpawner.Stream = .null, stderr: ProcessSpawner.Stream = .null
            var inputEnd: Int32 = -1, outputEnd: Int32 = -1, errorEnd: Int32 = -1
            if input {
                let made = try ProcessSpawner.makePipe()
                inputEnd = made.write
                parentEnds.append(made.write)
                childEnds.append(made.read)
                stdin = .descriptor(made.read)
            }
            if output != .null || error == .output {
                let made = try ProcessSpawner.makePipe()
                outputEnd = made.read
                parentEnds.append(made.read)
                childEnds.append(made.write)
                stdout = .descriptor(made.write)
                if error == .output { stderr = .descriptor(made.write) }
            }
            if error == .pipe {
                let made = try ProcessSpawner.makePipe()
                errorEnd = made.read
                parentEnds.append(made.read)
                childEnds.append(made.write)
                stderr = .descriptor(made.write)
            }
            child = try ProcessSpawner.spawn(
                executable, arguments: arguments, environment: environment ?? ProcessInfo.processInfo.environment,
                standardInput: stdin, standardOutput: stdout, standardError: stderr, newProcessGroup: newProcessGroup)
            ends = Mutex((inputEnd, outputEnd, errorEnd))
        } catch {
            parentEnds.forEach { _ = Glibc.close($0) }
            throw error
        }
    }

    deinit {
        if child.exitStatus == nil { _ = child.terminate(grace: .milliseconds(100)) }
        ends.withLock { ends in
            for end in [ends.input, ends.output, ends.error] where end >= 0 { _ = Glibc.close(end) }
            ends = (-1, -1, -1)
        }
    }

    /// Whether the child has not exited yet.
    public var isRunning: Bool { child.exitStatus == nil }

    /// Writes every byte to its stdin; false when it has closed it (or the test did).
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        ends.withLock { ends in
            ends.input >= 0 && (try? FileIO.writeAll(ends.input, bytes, path: "stdin")) != nil
        }
    }

    /// Closes its stdin (a peer started with `--exit-with-stdin` then ends).
    public func closeInput() { close(\.input) }

    /// Reads its stdout to end of file and closes the pipe.
    public func readOutput() -> [UInt8] { readToEnd(\.output) }

    /// Reads its separate stderr to end of file and closes the pipe.
    public func readError() -> [UInt8] { readToEnd(\.error) }

    /// Reads what its stdout has now, waiting for at least one byte.
    /// - Returns: The bytes; empty at end of file or on an error.
    public func readOutputChunk() -> [UInt8] {
        let descriptor = ends.withLock { $0.output }
        guard descriptor >= 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            return count > 0 ? Array(buffer[..<count]) : []
        }
    }

    /// Reads one line of its stdout (without the newline), byte by byte so nothing after it is consumed.
    /// - Returns: The line; nil at end of file, on an error or when `timeout` passes first.
    public func readOutputLine(timeout: Duration) -> String? {
        let descriptor = ends.withLock { $0.output }
        guard descriptor >= 0 else { return nil }
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0, errno == EINTR { continue }
            guard ready >= 0 else { return nil }
            guard ready > 0 else { continue }
            var byte: UInt8 = 0
            guard read(descriptor, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    /// Waits for it to exit, killing it (SIGTERM, then SIGKILL after a second) when `timeout` passes first.
    public func finish(timeout: Duration = .seconds(120)) -> TerminationStatus {
        child.wait(timeout: timeout) ?? child.terminate(grace: .seconds(1))
    }

    /// Its exit code, or nil when a signal ended it; waits as ``finish(timeout:)`` does.
    public func exitCode(timeout: Duration = .seconds(120)) -> Int32? {
        if case .exited(let code) = finish(timeout: timeout) { return code }
        return nil
    }

    private func readToEnd(_ end: WritableKeyPath<(input: Int32, output: Int32, error: Int32), Int32>) -> [UInt8] {
        let descriptor = ends.withLock { $0[keyPath: end] }
        guard descriptor >= 0 else { return [] }
        let bytes = TestKit.readToEnd(descriptor)
        close(end)
        return bytes
    }

    private func close(_ end: WritableKeyPath<(input: Int32, output: Int32, error: Int32), Int32>) {
        ends.withLock { ends in
            if ends[keyPath: end] >= 0 { _ = Glibc.close(ends[keyPath: end]) }
            ends[keyPath: end] = -1
        }
    }
}

/// Runs a program to its end with its stdout and stderr in pipes, killing it with everything it started
/// when `timeout` passes first.
/// - Parameters:
///   - program: Its absolute path.
///   - arguments: Its arguments.
///   - environment: Its whole environment; nil passes this process's on.
///   - input: What it reads on stdin (keep it below a pipe's 64 KiB: it is written before anything is
///     read); nil for /dev/null.
///   - separateError: Whether stderr is kept apart (returned in `error`) rather than merged into `output`.
///   - timeout: How long it may run.
/// - Returns: Its exit code (nil when a signal ended it), its stdout (with stderr unless kept apart), and
///   its stderr when kept apart.
/// - Throws: `SpawnError` when it cannot be started.
public func runCapturing(
    _ program: String, _ arguments: [String], environment: [String: String]? = nil, input: [UInt8]? = nil,
    separateError: Bool = false, timeout: Duration = .seconds(120)
) throws -> (status: Int32?, output: String, error: String) {
    let run = try PipedProgram(program, arguments, environment: environment, input: input != nil,
                               output: .pipe, error: separateError ? .pipe : .output, newProcessGroup: true)
    // The watchdog: a program that overruns is killed with its children, which closes the pipes.
    Thread.detachNewThread {
        if run.child.wait(timeout: timeout) == nil { _ = run.child.signalGroup(SIGKILL) }
    }
    if let input {
        run.write(input)
        run.closeInput()
    }
    // stderr is drained on a thread of its own so neither pipe can fill and stall the child.
    let error = SharedValue([UInt8]())
    let errorDone = DispatchSemaphore(value: 0)
    if separateError {
        Thread.detachNewThread {
            let bytes = run.readError()
            error.update { $0 = bytes }
            errorDone.signal()
        }
    }
    let output = run.readOutput()
    if separateError { errorDone.wait() }
    let status = run.exitCode(timeout: timeout + .seconds(5))
    return (status, String(decoding: output, as: UTF8.self), String(decoding: error.value, as: UTF8.self))
}

/// ``runCapturing(_:_:environment:input:separateError:timeout:)`` on a thread of its own, never a
/// cooperative one, with stdout and stderr merged.
/// - Returns: Its exit code (-1 when a signal ended it) and all it printed.
public func runProgram(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
                       timeout: Duration = .seconds(600)) async throws -> (Int32, String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do {
                let result = try runCapturing(program, arguments, environment: environment, timeout: timeout)
                continuation.resume(returning: (result.status ?? -1, result.output))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
