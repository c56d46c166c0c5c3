import Foundation
import Glibc
import Spawn

/// A real redis-server (Debian's `redis-server` package) of a test's own: 127.0.0.1 on a free port and a
/// Unix socket in a fresh directory, nothing persisted. Stopped (and its directory removed) by ``stop()``.
public final class RedisServer: @unchecked Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let port: Int
    public let directory: TemporaryDirectory
    public let extraArguments: [String]
    private var process: ChildProcess?

    public var socketPath: String { directory.file("redis.sock") }
    public var tcpURL: String { "redis://127.0.0.1:\(port)" }
    public var unixURL: String { "unix://\(socketPath)" }
    public var processIdentifier: Int32 { process?.pid ?? 0 }

    /// Starts a server.
    /// - Parameter arguments: More redis-server options ("--requirepass", "secret").
    public static func start(_ arguments: [String] = []) throws -> RedisServer {
        let server = try RedisServer(port: freeTCPPort(), extraArguments: arguments)
        try server.start()
        return server
    }

    private init(port: Int, extraArguments: [String]) throws {
        self.directory = try TemporaryDirectory()
        self.port = port
        self.extraArguments = extraArguments
    }

    /// Starts (or starts again, on the same port and socket) and waits until it accepts connections.
    public func start() throws {
        let binary = try Self.binary()
        let process = try ProcessSpawner.spawn(
            binary,
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--unixsocket", socketPath, "--unixsocketperm", "700", "--dir", directory.path,
                "--logfile", directory.file("redis.log"), "--daemonize", "no",
            ] + extraArguments,
            environment: ProcessInfo.processInfo.environment, standardOutput: .null, standardError: .null)
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if process.exitStatus != nil {
                throw StartError(description: "redis-server exited at start: \(logTail())")
            }
            if acceptsConnections(port: port) { return }
            usleep(10_000)
        }
        throw StartError(description: "redis-server did not accept connections within 10 s: \(logTail())")
    }

    /// SIGKILL: the server vanishes at once, as in a crash; its sockets are closed by the kernel.
    public func kill() {
        guard let process, process.signal(SIGKILL) else { return }
        _ = process.wait()
    }

    /// SIGSTOP: the server stops answering, but its sockets stay open.
    public func suspend() {
        process?.signal(SIGSTOP)
    }

    /// SIGCONT after ``suspend()``.
    public func resume() {
        process?.signal(SIGCONT)
    }

    /// Kills the server and removes its directory.
    public func stop() {
        resume()
        kill()
        directory.remove()
    }

    private func logTail() -> String {
        let log = (try? String(contentsOfFile: directory.file("redis.log"), encoding: .utf8)) ?? "(no log)"
        return String(log.suffix(600))
    }

    private static func binary() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        for directory in ["/usr/bin"] + path.split(separator: ":").map(String.init) {
            let candidate = directory + "/redis-server"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw StartError(
            description: "redis-server not found: install Debian's package (apt-get install -y redis-server; scripts/install-deps.sh does)")
    }
}
