import Foundation
import Glibc
import IPC
import Services
import Spawn
import Testing
import TestKit

@Suite("Limit: the limitd executable")
struct LimitdProcessTests {
    /// Starts the built `limitd` with `environment` (and PATH), its stderr in a pipe.
    final class LimitdProcess {
        let child: ChildProcess
        private let stderrRead: Int32

        init(environment: [String: String]) throws {
            let executable = builtProduct("limitd")
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw MissingProduct(path: executable)
            }
            let pipe = try ProcessSpawner.makePipe()
            defer { close(pipe.write) }
            stderrRead = pipe.read
            var env = environment
            env["PATH"] = "/usr/bin:/bin"
            child = try ProcessSpawner.spawn(executable, environment: env, standardError: .descriptor(pipe.write))
        }

        deinit {
            if child.exitStatus == nil { _ = child.terminate(grace: .milliseconds(100)) }
            close(stderrRead)
        }

        /// Waits for the exit (killing after `timeout`) and returns the status and all of stderr.
        func finish(timeout: Duration = .seconds(15)) -> (status: TerminationStatus, stderr: String) {
            let status = child.wait(timeout: timeout) ?? child.terminate(grace: .zero)
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(stderrRead, &buffer, buffer.count)
                if count <= 0 { break }
                bytes.append(contentsOf: buffer[0..<count])
            }
            return (status, String(decoding: bytes, as: UTF8.self))
        }
    }

    @Test("a bad RATE_LIMIT_RPM stops it at start with status 78, naming the variable")
    func badSetting() throws {
        let directory = try TemporaryDirectory()
        let process = try LimitdProcess(environment: ["INFER_RUNTIME_DIR": directory.path, "RATE_LIMIT_RPM": "abc"])
        let (status, stderr) = process.finish()
        #expect(status == .exited(78))
        #expect(stderr.contains("RATE_LIMIT_RPM=abc"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("limitd.sock")))
    }

    @Test("with valid settings it binds $INFER_RUNTIME_DIR/limitd.sock, answers Admit, and drains on SIGTERM")
    func servesAdmit() async throws {
        let directory = try TemporaryDirectory()
        let process = try LimitdProcess(environment: [
            "INFER_RUNTIME_DIR": directory.path, "RATE_LIMIT_RPM": "2", "RATE_LIMIT_WINDOW_SEC": "30",
        ])
        let path = ServicePaths.socket("limitd", environment: ["INFER_RUNTIME_DIR": directory.path])
        let client = LimitClient(path: path)
        // The client retries connecting within the timeout while the daemon starts.
        let first = try await client.admit(.init(key: "k", route: "/v1/infer"), timeout: .seconds(10))
        #expect(first == .init(allowed: true, limit: 1, remaining: 0, retryAfterMs: 0))
        let second = try await client.admit(.init(key: "k", route: "/v1/infer"), timeout: .seconds(5))
        #expect(!second.allowed)
        #expect(second.retryAfterMs > 29_000 && second.retryAfterMs <= 30_000)
        client.client.close()

        _ = process.child.signal(SIGTERM)
        let (status, stderr) = process.finish()
        #expect(status == .exited(0))
        #expect(stderr.contains("drained"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
