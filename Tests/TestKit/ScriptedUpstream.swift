#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation
import Glibc

/// tests-python/scripted_upstream.py running as a child process on 127.0.0.1 (a free port), with its
/// control API. One per test, so tests running in parallel never share scripts or statistics.
public final class ScriptedUpstream: Sendable {
    public let port: Int
    private let program: PipedProgram

    private init(port: Int, program: PipedProgram) {
        self.port = port
        self.program = program
    }

    /// Starts the server and waits (off the cooperative pool) for it to print its port.
    /// - Parameter arguments: extra options (`--api-key`, `--tls-cert`, `--tls-key`, `--model`).
    public static func start(_ arguments: [String] = []) async throws -> ScriptedUpstream {
        let peer = try await PythonPeer.start(python: "python3", script: "scripted_upstream.py", arguments: arguments)
        return ScriptedUpstream(port: peer.port, program: peer.program)
    }

    deinit {
        stop()
    }

    /// Stops the server (closing its stdin ends it too, should the signal be missed).
    public func stop() {
        PythonPeer.stop(program)
    }

    /// Stops the server and waits until its process has exited (its port is closed then).
    public func stopAndWait() async {
        stop()
        let program = self.program
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                _ = program.child.wait()
                continuation.resume()
            }
        }
    }

    /// The OpenAI base URL of the server.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// `GET /control/stats`, decoded.
    public func stats(scheme: String = "http") async throws -> Stats {
        let data = try await Self.call("\(scheme)://127.0.0.1:\(port)/control/stats", method: "GET", body: nil)
        return try JSONDecoder().decode(Stats.self, from: data)
    }

    /// Sets what every request gets from now on, unless a queued script comes first
    /// (`POST /control {"default": script}`): e.g. `["behaviour": "error", "status": 500]`.
    public func setDefault(_ script: [String: any Sendable]) async throws {
        _ = try await Self.call("http://127.0.0.1:\(port)/control", method: "POST",
                                body: try JSONSerialization.data(withJSONObject: ["default": script]))
    }

    /// Sets what `GET /v1/models` (a health probe) gets from now on; it never takes the queue or the
    /// default (`POST /control {"models": script}`).
    public func setModels(_ script: [String: any Sendable]) async throws {
        _ = try await Self.call("http://127.0.0.1:\(port)/control", method: "POST",
                                body: try JSONSerialization.data(withJSONObject: ["models": script]))
    }

    /// Queues scripts for the next requests, one each, in order (`POST /control {"next": [...]}`).
    public func enqueue(_ scripts: [[String: any Sendable]]) async throws {
        _ = try await Self.call("http://127.0.0.1:\(port)/control", method: "POST",
                                body: try JSONSerialization.data(withJSONObject: ["next": scripts]))
    }

    /// Statistics to zero, the queue emptied, the default back to "ok" (`POST /control/reset`).
    public func reset() async throws {
        _ = try await Self.call("http://127.0.0.1:\(port)/control/reset", method: "POST", body: Data())
    }

    /// Lets streams waiting at their gate go on (`POST /control/open-gate`).
    public func openGate() async throws {
        _ = try await Self.call("http://127.0.0.1:\(port)/control/open-gate", method: "POST", body: Data())
    }

    /// The body of the last request the server received, as a JSON object.
    public func lastRequestBody() async throws -> [String: Any] {
        let data = try await Self.call("http://127.0.0.1:\(port)/control/stats", method: "GET", body: nil)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let last = object?["last_request"] as? [String: Any]
        return last?["body"] as? [String: Any] ?? [:]
    }

    /// Polls the statistics until `condition` holds or `timeout` seconds pass; returns the last ones.
    public func waitForStats(timeout: Double = 10, _ condition: (Stats) -> Bool) async throws -> Stats {
        let end = Date().addingTimeInterval(timeout)
        var stats = try await self.stats()
        while !condition(stats) && Date() < end {
            try await Task.sleep(for: .milliseconds(50))
            stats = try await self.stats()
        }
        return stats
    }

    public struct Stats: Decodable, Sendable {
        public let requests: Int
        public let active: Int
        public let max_active: Int
        public let connections: Int
        public let disconnects: Int
        public let completed: Int
        /// Requests per path (`/v1/chat/completions`, `/v1/models`, ...).
        public let by_path: [String: Int]

        /// Requests to `path`.
        public func requests(to path: String) -> Int { by_path[path] ?? 0 }
        /// Chat completion requests: what a client's chat request costs, unlike a probe.
        public var chats: Int { requests(to: "/v1/chat/completions") }
        /// Model-list requests: health probes.
        public var probes: Int { requests(to: "/v1/models") }
    }

    private static func call(_ url: String, method: String, body: Data?) async throws -> Data {
        guard let target = URL(string: url) else { throw ScriptedUpstreamError(message: "bad URL \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.httpBody = body
        let (data, _) = try await URLSession.shared.data(for: request)
        return data
    }
}

/// The scripted upstream could not be started or asked.
public struct ScriptedUpstreamError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A server of tests-python/ run as a child process on 127.0.0.1: started with `--port 0
/// --exit-with-stdin`, it prints its port first; closing its stdin (or the test process dying) ends it.
public enum PythonPeer {
    /// Starts `script` and waits (off the cooperative pool) for its port.
    /// - Parameters:
    ///   - python: The interpreter: `python3` from PATH, or a venv's absolute path.
    ///   - script: The file under tests-python/.
    ///   - arguments: Its options after `--port 0 --exit-with-stdin`.
    ///   - portTimeout: How long it may take to print its port (a peer that loads a model first needs more).
    public static func start(python: String, script: String, arguments: [String],
                             portTimeout: Duration = .seconds(30)) async throws -> (port: Int, program: PipedProgram) {
        let program = try PipedProgram(
            python.hasPrefix("/") ? python : "/usr/bin/env",
            (python.hasPrefix("/") ? [] : [python])
                + [packageRoot + "/tests-python/" + script, "--port", "0", "--exit-with-stdin"] + arguments,
            input: true)
        // The first line is the port; python starts in well under a second, so 30 s allows a busy machine.
        // Read on a thread of its own: blocking a cooperative thread would starve the other tests.
        let line = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: program.readOutputLine(timeout: portTimeout)) }
        }
        guard let line, let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            stop(program)
            throw ScriptedUpstreamError(message: "\(script) printed no port (got \(line ?? "nothing"))")
        }
        return (port, program)
    }

    /// Stops a peer: SIGTERM, and its stdin closed should the signal be missed.
    public static func stop(_ program: PipedProgram) {
        program.child.signal(SIGTERM)
        program.closeInput()
    }
}
