import Basics
import CLinux
import Glibc
import Synchronization

/// Starts child processes with an exact set of descriptors, environment and signal state: what the
/// supervisor (`inferctl up`) and the runtime's tests need to start daemons the way systemd does.
///
/// ```swift
/// let child = try ProcessSpawner.spawn(
///     "/usr/local/bin/limitd", arguments: [],
///     environment: ["LISTEN_FDS": "1", "LISTEN_FDNAMES": "limitd", ...],
///     descriptors: [3: listener], standardError: .descriptor(logPipe))
/// child.signal(SIGTERM)
/// let status = child.wait(timeout: .seconds(10))
/// ```
///
/// The child gets exactly: stdin, stdout and stderr as asked, and each descriptor of `descriptors` at its
/// number; every other descriptor is closed, whatever its close-on-exec flag. Its signal mask is empty and
/// every signal has its default action, so a daemon that ignores SIGPIPE or blocks signals does not pass
/// that on to what it starts (both survive exec(2) otherwise).
public enum ProcessSpawner {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// The parent's own stream.
        case inherit
        /// `/dev/null`.
        case null
        /// An open descriptor of the parent (a pipe's write end, a log file); the parent keeps its copy.
        case descriptor(Int32)
    }

    /// Starts a program.
    /// - Parameters:
    ///   - executable: The program's absolute path (no `PATH` search).
    ///   - arguments: The arguments after `argv[0]`.
    ///   - argumentZero: `argv[0]`; the executable's path when nil.
    ///   - environment: The child's whole environment (nothing is inherited implicitly).
    ///   - descriptors: Child descriptor number → parent descriptor, e.g. `[3: listener]` for socket
    ///     activation. Numbers 0–2 are taken by the standard streams below.
    ///   - standardInput: The child's stdin; `/dev/null` by default.
    ///   - standardOutput: The child's stdout.
    ///   - standardError: The child's stderr.
    ///   - newProcessGroup: Start the child in a process group of its own, so a terminal's Ctrl-C does not
    ///     reach it and ``ChildProcess/signalGroup(_:)`` reaches all it starts.
    /// - Returns: The running child.
    /// - Throws: ``SpawnError`` when the program cannot be started.
    public static func spawn(
        _ executable: String,
        arguments: [String] = [],
        argumentZero: String? = nil,
        environment: [String: String],
        descriptors: [Int32: Int32] = [:],
        standardInput: Stream = .null,
        standardOutput: Stream = .inherit,
        standardError: Stream = .inherit,
        newProcessGroup: Bool = false
    ) throws(SpawnError) -> ChildProcess {
        var mapping = descriptors
        for (number, stream) in [(Int32(0), standardInput), (1, standardOutput), (2, standardError)] {
            switch stream {
            case .inherit: mapping[number] = number
            case .descriptor(let parent): mapping[number] = parent
            case .null: break
            }
        }
        let highest = max(2, mapping.keys.max() ?? 2)

        // Copy every source above every target first: a plain dup2 sequence would overwrite a source that
        // is also a target (parent fd 3 going to 4 while parent fd 5 goes to 3). The copies are
        // close-on-exec, so only the dup2'd targets survive into the child.
        var copies: [Int32: Int32] = [:]
        defer { for copy in copies.values { close(copy) } }
        for (target, source) in mapping {
            let copy = fcntl(source, F_DUPFD_CLOEXEC, highest + 1)
            guard copy >= 0 else { throw SpawnError(executable, "descriptor \(source) for child fd \(target)", errno) }
            copies[target] = copy
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, copy) in copies.sorted(by: { $0.key < $1.key }) {
            posix_spawn_file_actions_adddup2(&actions, copy, target)
        }
        for number: Int32 in 0...2 where mapping[number] == nil {
            posix_spawn_file_actions_addopen(&actions, number, "/dev/null", number == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        // Close everything above the highest target, so descriptors another thread opens without
        // close-on-exec cannot leak into the child (and keep a pipe's write end open forever).
        clinux_spawn_addclosefrom(&actions, highest + 1)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        // strdup'd copies: posix_spawn wants mutable C strings that outlive the call.
        let argv: [UnsafeMutablePointer<CChar>?] = ([argumentZero ?? executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError(executable, "start", result) }
        return ChildProcess(pid: pid)
    }

    /// Makes a pipe whose ends are both close-on-exec, for a child's stdout or stderr.
    /// - Returns: The read end and the write end. Pass the write end to ``spawn(_:arguments:argumentZero:environment:descriptors:standardInput:standardOutput:standardError:newProcessGroup:)``, then close it, so
    ///   reading reaches end-of-file when the child exits.
    /// - Throws: ``SpawnError`` when the system has no descriptors left.
    public static func makePipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard clinux_pipe2(&ends, O_CLOEXEC) == 0 else { throw SpawnError("pipe", "create", errno) }
        return (ends[0], ends[1])
    }
}

/// How a child process ended.
public enum TerminationStatus: Sendable, Equatable, CustomStringConvertible {
    /// It called exit with this status.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// A process started by ``ProcessSpawner``: signal it and wait for it.
///
/// The process is reaped once, by ``wait()`` or ``wait(timeout:)``; after that signals are refused, so a
/// recycled process id never receives one.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    private let status = Mutex<TerminationStatus?>(nil)

    init(pid: pid_t) {
        self.pid = pid
    }

    /// Sends a signal to the child.
    /// - Parameter signal: The signal, e.g. `SIGTERM`.
    /// - Returns: False when the child was already reaped or the signal could not be sent.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        status.withLock { status in
            status == nil && kill(pid, signal) == 0
        }
    }

    /// Sends a signal to the child's process group (when it was started with `newProcessGroup`).
    /// - Parameter signal: The signal.
    /// - Returns: False when the child was already reaped or the signal could not be sent.
    @discardableResult
    public func signalGroup(_ signal: Int32) -> Bool {
        status.withLock { status in
            status == nil && kill(-pid, signal) == 0
        }
    }

    /// How the child ended, without waiting: nil while it runs.
    public var exitStatus: TerminationStatus? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            guard result == pid else { return nil }
            status = Self.decode(raw)
            return status
        }
    }

    /// Blocks until the child ends.
    /// - Returns: How it ended.
    public func wait() -> TerminationStatus {
        while true {
            if let done = exitStatus { return done }
            // Poll rather than block in waitpid, which would hold the lock that signal() needs.
            usleep(5_000)
        }
    }

    /// Blocks until the child ends or `timeout` passes.
    /// - Parameter timeout: The longest wait.
    /// - Returns: How it ended, or nil when it still runs.
    public func wait(timeout: Duration) -> TerminationStatus? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let done = exitStatus { return done }
            if ContinuousClock.now >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// Asks the child to stop with SIGTERM, then kills it with SIGKILL if it has not ended after `grace`.
    /// - Parameter grace: How long it may take to drain.
    /// - Returns: How it ended.
    @discardableResult
    public func terminate(grace: Duration) -> TerminationStatus {
        signal(SIGTERM)
        if let done = wait(timeout: grace) { return done }
        signal(SIGKILL)
        return wait()
    }

    private static func decode(_ raw: Int32) -> TerminationStatus {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let signal = raw & 0x7F
        return signal == 0 ? .exited((raw >> 8) & 0xFF) : .signaled(signal)
    }
}

/// A child process that could not be started.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    /// The program.
    public let executable: String
    /// What failed.
    public let operation: String
    /// The system's error number.
    public let errno: Int32

    init(_ executable: String, _ operation: String, _ errno: Int32) {
        self.executable = executable
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        "cannot \(operation) \(executable): \(errorText(errno))"
    }
}
