import Basics
import CLinux
import Glibc

/// The write end of the self-pipe, for the signal handler (a C function cannot capture context).
/// Written once before any handler is installed; read only by the handler afterwards.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Turns SIGINT, SIGTERM, SIGHUP and SIGCHLD into bytes on a pipe the supervisor's poll loop reads
/// (the self-pipe trick; Swift's Glibc module has no signalfd), so every event is handled on one thread.
final class SignalPipe {
    /// The read end, to poll for POLLIN.
    let descriptor: Int32
    private let writeEnd: Int32

    /// The signals it catches: the three that ask the stack to stop, and SIGCHLD.
    static let stopSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Creates the pipe and installs the handlers; SIGPIPE is ignored (a daemon's closed socket must cost
    /// an EPIPE, not inferctl).
    /// - Throws: ``InferctlError`` (`.system`) when no pipe can be made.
    init() throws(InferctlError) {
        var ends: [Int32] = [-1, -1]
        guard clinux_pipe2(&ends, O_CLOEXEC | O_NONBLOCK) == 0 else {
            throw .system("cannot create the signal pipe: \(errorText(errno))")
        }
        descriptor = ends[0]
        writeEnd = ends[1]
        signalPipeWriteEnd = writeEnd
        signal(SIGPIPE, SIG_IGN)
        for number in Self.stopSignals + [SIGCHLD] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                let saved = errno
                // The pipe is non-blocking: when it is full, the loop has wake-ups pending anyway.
                _ = write(signalPipeWriteEnd, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART | (number == SIGCHLD ? SA_NOCLDSTOP : 0)
            sigaction(number, &action, nil)
        }
    }

    /// Reads the signals that arrived since the last call.
    /// - Returns: Their numbers, in order, repeated as they arrived.
    func drain() -> [Int32] {
        var signals: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 {
                signals.append(contentsOf: buffer[0..<count].map { Int32($0) })
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return signals
            }
        }
    }
}
