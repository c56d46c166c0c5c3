import Foundation
import Glibc
import Spawn
import TestKit

/// Debian's haproxy terminating TLS in front of a plain HTTP server on 127.0.0.1: one listener per
/// certificate (each on a free port), all relaying to the same backend, streams included. Installed by
/// `scripts/install-deps.sh haproxy` when missing; stopped by ``stop()`` or at deinit.
final class TLSProxy: @unchecked Sendable {
    /// The listening port of each certificate, in the order given.
    let ports: [Int]
    private let process: PipedProgram
    private let directory: TemporaryDirectory

    /// Starts haproxy and waits (up to 10 s) until every listener accepts connections.
    /// - Parameters:
    ///   - certificates: PEM files holding a certificate and its key (``TLSFixture/issue(_:subjectAltName:)``).
    ///   - backendPort: The HTTP server's port on 127.0.0.1.
    /// - Throws: ``HarnessError`` when haproxy cannot be installed or does not start.
    init(certificates: [String], backendPort: Int) async throws {
        let (installed, output) = try await runProgram(packageRoot + "/scripts/install-deps.sh", ["haproxy"])
        guard installed == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else {
            throw HarnessError("scripts/install-deps.sh haproxy failed (\(installed)): \(output)")
        }
        directory = try TemporaryDirectory()
        ports = try certificates.map { _ in try freeTCPPort() }
        // http mode relays SSE as it comes (no buffering of responses); the timeouts only bound a stuck test.
        var config = """
            global
                maxconn 256
            defaults
                mode http
                timeout connect 5s
                timeout client 120s
                timeout server 120s
            backend upstream
                server upstream 127.0.0.1:\(backendPort)

            """
        for (index, (certificate, port)) in zip(certificates, ports).enumerated() {
            config += """
                frontend tls\(index)
                    bind 127.0.0.1:\(port) ssl crt \(certificate)
                    default_backend upstream

                """
        }
        let configFile = directory.path + "/haproxy.cfg"
        try config.write(toFile: configFile, atomically: true, encoding: .utf8)
        process = try PipedProgram("/usr/sbin/haproxy", ["-db", "-f", configFile], output: .null)
        let deadline = ContinuousClock.now + .seconds(10)
        while !ports.allSatisfy(acceptsConnections(port:)) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                stop()
                throw HarnessError("haproxy did not listen on \(ports) within 10 s (config \(config))")
            }
            usleep(20_000)
        }
    }

    deinit { stop() }

    /// Stops haproxy and removes its directory.
    func stop() {
        _ = process.child.terminate(grace: .seconds(10))
        directory.remove()
    }
}
