import CSystemd
import Foundation
import Glibc
import IPC
import Spawn
import TestKit

/// Starts `runtime-probe` (built beside the test bundle) as a real child process, the way systemd would,
/// and collects what it says: its exit status, its stderr lines, and its sd_notify datagrams.
final class ProbeRun {
    private let process: ProcessRun

    /// The running (or finished) probe.
    var child: ChildProcess { process.child }

    /// The probe executable: `RUNTIME_PROBE`, else the one in the build directory.
    static var executable: String {
        ProcessInfo.processInfo.environment["RUNTIME_PROBE"] ?? builtProduct("runtime-probe")
    }

    /// Starts the probe.
    /// - Parameters:
    ///   - environment: Variables besides PATH.
    ///   - descriptors: Child fd → parent fd (3... for socket activation).
    ///   - exportOwnPid: Variables to set to the child's own pid (LISTEN_PID, WATCHDOG_PID): the child is
    ///     started through `/bin/sh`, which exports them as `$$` and execs the probe under the same pid.
    ///   - arguments: The probe's arguments.
    init(
        environment: [String: String], descriptors: [Int32: Int32] = [:], exportOwnPid: [String] = [],
        arguments: [String] = []
    ) throws {
        var environment = environment
        environment["PATH"] = "/usr/bin:/bin"
        if exportOwnPid.isEmpty {
            process = try ProcessRun(Self.executable, arguments: arguments, environment: environment, descriptors: descriptors)
        } else {
            let exports = exportOwnPid.map { "export \($0)=$$; " }.joined()
            process = try ProcessRun(
                "/bin/sh", arguments: ["-c", exports + "exec \"$0\" \"$@\"", Self.executable] + arguments,
                environment: environment, descriptors: descriptors)
        }
    }

    /// Waits for the probe to exit (killing it after `timeout`) and reads all it wrote on stderr.
    /// - Returns: The exit status and the stderr lines.
    func finish(timeout: Duration = .seconds(15)) -> (status: TerminationStatus, lines: [String]) {
        let (status, stderr) = process.finish(timeout: timeout)
        return (status, stderr.split(separator: "\n").map(String.init))
    }
}

/// The JSON object of each line, or nil for a line that is not valid JSON.
func parseLogLines(_ lines: [String]) -> [[String: Any]?] {
    lines.map { line in
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
}

/// Socket helpers for the tests, on plain Glibc calls.
enum TestSockets {
    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8.prefix(107)) }
        return address
    }

    /// A Unix socket of `type` bound at `path` (listening when it is a stream socket).
    static func bound(_ path: String, type: Int32 = Int32(SOCK_STREAM.rawValue)) -> Int32 {
        let descriptor = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = address(path)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if type == Int32(SOCK_STREAM.rawValue) { listen(descriptor, 16) }
        return descriptor
    }

    /// Connects to `path` and reads until the peer closes; retries while the socket is not there yet.
    /// - Returns: What the peer wrote, or nil when nothing answered before `timeout`.
    static func request(_ path: String, timeout: Duration = .seconds(10)) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            defer { close(descriptor) }
            var address = address(path)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if connected != 0 {
                usleep(20_000)
                continue
            }
            var wait = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            return String(decoding: readToEnd(descriptor), as: UTF8.self)
        }
        return nil
    }

    /// Receives sd_notify datagrams until `done` holds for what arrived, or `timeout` passes.
    /// - Returns: Every datagram received, in order.
    static func receive(
        _ descriptor: Int32, timeout: Duration, until done: ([String]) -> Bool = { _ in false }
    ) -> [String] {
        var messages: [String] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !done(messages) {
            let left = deadline - ContinuousClock.now
            if left <= .zero { break }
            var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&waiting, 1, Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))) > 0 else { continue }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
        }
        return messages
    }
}
