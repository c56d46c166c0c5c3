import Foundation
import Glibc
import Synchronization
import Testing
import TestKit

@testable import Redis

extension RedisIntegration {
    @Suite("Failures: restart, stopped server, no server, garbage, close")
    struct Failures {
        @Test("after the server is killed and started again, the client reconnects, logging in and selecting again")
        func reconnect() async throws {
            let server = try RedisServer.start(["--requirepass", "pw"])
            defer { server.stop() }
            let states = Mutex<[RedisConnectionState]>([])
            let redis = try RedisIntegration.client(
                "redis://:pw@127.0.0.1:\(server.port)/2", observer: { state in states.withLock { $0.append(state) } })
            defer { redis.close() }
            try await redis.set("before", to: "restart")

            // A command in flight when the server dies fails with a retryable error. SIGSTOP first, so
            // that the command is surely sent and unanswered when SIGKILL closes the server's sockets.
            server.suspend()
            async let inFlight = redis.get("before")
            #expect(await eventually { redis.statistics.pending == 1 })
            server.kill()
            do {
                _ = try await inFlight
                Issue.record("a command in flight survived the server's death")
            } catch let error as RedisError {
                #expect(error.code == .connectionLost, "\(error)")
                #expect(error.isRetryable)
                #expect(error.mayHaveRun)
            }
            // While the server is down, commands fail at once (not after the command timeout).
            let clock = ContinuousClock()
            let started = clock.now
            do {
                try await redis.ping()
                Issue.record("PING succeeded with the server down")
            } catch let error as RedisError {
                #expect(error.isRetryable, "\(error)")
                #expect([.notConnected, .connectionLost].contains(error.code), "\(error)")
            }
            #expect(clock.now - started < .seconds(2))

            try server.start()
            try await RedisIntegration.retrying { try await redis.ping() }
            try await redis.set("after", to: "restart")
            #expect(try await redis.get("after")?.text == "restart")
            let info = try await redis.send("CLIENT", "INFO").string ?? ""
            #expect(info.contains(" db=2 "), "SELECT ran again: \(info)")
            #expect(info.contains("user=default"), "AUTH ran again: \(info)")
            let statistics = redis.statistics
            #expect(statistics.reconnects >= 1)
            #expect(statistics.connectionsLost == 1)
            #expect(statistics.isConnected)
            let seen = states.withLock { $0 }
            #expect(seen.first == .connecting)
            #expect(seen.contains(.connected))
            #expect(seen.contains { if case .disconnected = $0 { true } else { false } })
            #expect(seen.last == .connected)
        }

        @Test("a stopped server times commands out; when it resumes, late replies are dropped, not misdelivered")
        func stoppedServer() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL, commandTimeout: .milliseconds(300))
            defer { redis.close() }
            try await redis.set("a", to: "value-a")
            try await redis.set("b", to: "value-b")

            server.suspend()
            defer { server.resume() }
            let clock = ContinuousClock()
            let started = clock.now
            do {
                _ = try await redis.get("a")
                Issue.record("GET answered by a stopped server")
            } catch let error as RedisError {
                #expect(error.code == .timeout, "\(error)")
                #expect(error.isRetryable)
                #expect(error.mayHaveRun)
            }
            let waited = clock.now - started
            #expect(waited >= .milliseconds(290))
            #expect(waited < .seconds(3))
            await #expect(throws: RedisError.self) {
                try await redis.pipeline([RedisCommand("GET", "a"), RedisCommand("GET", "b")])
            }
            #expect(redis.statistics.timeouts == 3)
            #expect(redis.statistics.pending == 2)  // their replies are still due

            server.resume()
            // The three late replies (value-a, value-a, value-b) arrive first and must be dropped.
            #expect(try await redis.get("b")?.text == "value-b")
            #expect(try await redis.send("ECHO", "in step") == .bulk("in step"))
            #expect(redis.statistics.pending == 0)
            #expect(redis.statistics.connectionsLost == 0)
        }

        @Test("with no server, commands fail fast with a retryable error naming the address")
        func noServer() async throws {
            let server = try RedisServer.start()
            let port = server.port
            server.stop()
            let redis = try RedisIntegration.client("redis://127.0.0.1:\(port)")
            defer { redis.close() }
            do {
                try await redis.ping()
                Issue.record("PING succeeded with no server")
            } catch let error as RedisError {
                #expect(error.code == .notConnected, "\(error)")
                #expect(error.message.contains("127.0.0.1:\(port)"), "\(error)")
                #expect(error.message.contains("refused"), "\(error)")
                #expect(error.isRetryable)
                #expect(!error.mayHaveRun)
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(redis.statistics.failedConnects >= 2, "it keeps trying")
            if case .disconnected = redis.state {} else if redis.state != .connecting {
                Issue.record("state \(redis.state)")
            }

            let unix = try RedisIntegration.client("unix:///tmp/no-such-redis-\(getpid()).sock")
            defer { unix.close() }
            await #expect(throws: RedisError.self) { try await unix.ping() }
        }

        @Test("a server that speaks no RESP is a protocol violation, and the client survives it")
        func garbage() async throws {
            let liar = try GarbageServer(reply: Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
            defer { liar.stop() }
            let redis = try RedisIntegration.client("redis://127.0.0.1:\(liar.port)")
            defer { redis.close() }
            do {
                try await redis.ping()
                Issue.record("PING answered by garbage")
            } catch let error as RedisError {
                #expect(error.code == .protocolViolation, "\(error)")
                #expect(!error.isRetryable)
                #expect(error.message.contains("unknown RESP type byte 0x48 ('H')"), "\(error)")
            }

            let oversized = try GarbageServer(reply: Array("$99999999999\r\n".utf8))
            defer { oversized.stop() }
            let redis2 = try RedisIntegration.client("redis://127.0.0.1:\(oversized.port)")
            defer { redis2.close() }
            do {
                try await redis2.ping()
                Issue.record("PING answered by a huge declared bulk string")
            } catch let error as RedisError {
                #expect(error.message.contains("exceeds maximum"), "\(error)")
            }

            let unsolicited = try GarbageServer(reply: Array("+PONG\r\n+EXTRA\r\n".utf8))
            defer { unsolicited.stop() }
            let redis3 = try RedisIntegration.client("redis://127.0.0.1:\(unsolicited.port)")
            defer { redis3.close() }
            // The first PING gets its PONG; the extra reply answers no command and drops the connection.
            #expect(try await redis3.ping() == "PONG")
            #expect(await eventually { redis3.statistics.connectionsLost >= 1 })
        }

        @Test("a peer that accepts but never answers: the login times out at the connect timeout; commands at theirs")
        func silentPeer() async throws {
            let silent = try GarbageServer(reply: [])
            defer { silent.stop() }
            var configuration = try RedisConfiguration(url: "redis://:pw@127.0.0.1:\(silent.port)")
            configuration.connectTimeout = .milliseconds(300)
            configuration.commandTimeout = .seconds(5)
            let loggingIn = try RedisClient(configuration: configuration)
            defer { loggingIn.close() }
            let clock = ContinuousClock()
            var started = clock.now
            do {
                try await loggingIn.ping()
                Issue.record("PING answered by a silent peer")
            } catch let error as RedisError {
                #expect(error.code == .notConnected, "\(error)")
                #expect(error.message.contains("logging in to 127.0.0.1:\(silent.port) timed out"), "\(error)")
            }
            #expect(clock.now - started < .seconds(3))

            let plain = try RedisIntegration.client("redis://127.0.0.1:\(silent.port)", commandTimeout: .milliseconds(200))
            defer { plain.close() }
            started = clock.now
            await #expect(throws: RedisError.self) { try await plain.ping() }
            #expect(clock.now - started < .seconds(3))
            #expect(plain.statistics.timeouts == 1)
        }

        @Test("releasing the last reference to a client closes its connection")
        func releaseCloses() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let observer = try RedisIntegration.client(server.tcpURL)
            defer { observer.close() }
            func connectedClients() async throws -> Int {
                (try await observer.send("CLIENT", "LIST").string ?? "").split(separator: "\n").count
            }
            do {
                let temporary = try RedisIntegration.client(server.tcpURL)
                try await temporary.ping()
                #expect(try await connectedClients() == 2)
            }
            let deadline = ContinuousClock.now + .seconds(5)
            while try await connectedClients() != 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await connectedClients() == 1)
        }

        @Test("close fails pending and later commands with 'closed'")
        func close() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            try await redis.ping()
            server.suspend()
            defer { server.resume() }
            async let pending = redis.ping()
            #expect(await eventually { redis.statistics.pending == 1 })
            redis.close()
            do {
                _ = try await pending
                Issue.record("pending command survived close")
            } catch let error as RedisError {
                #expect(error.code == .closed)
            }
            do {
                _ = try await redis.get("x")
                Issue.record("command after close succeeded")
            } catch let error as RedisError {
                #expect(error.code == .closed)
                #expect(!error.isRetryable)
            }
            redis.close()
            #expect(redis.state == .closed)
        }

        @Test("past the pending limit commands fail at once as overloaded")
        func overloaded() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            var configuration = try RedisConfiguration(url: server.tcpURL)
            configuration.maxPendingCommands = 2
            configuration.commandTimeout = .seconds(5)
            let redis = try RedisClient(configuration: configuration)
            defer { redis.close() }
            try await redis.ping()
            server.suspend()
            async let first = redis.ping()
            async let second = redis.ping()
            #expect(await eventually { redis.statistics.pending == 2 })
            do {
                try await redis.ping()
                Issue.record("a third pending command was accepted")
            } catch let error as RedisError {
                #expect(error.code == .overloaded, "\(error)")
                #expect(error.message.contains("maximum 2"), "\(error)")
            }
            server.resume()
            #expect(try await first == "PONG")
            #expect(try await second == "PONG")
        }
    }
}

/// A TCP listener on 127.0.0.1 that answers whatever it reads with fixed bytes: a faulty peer for
/// protocol-violation tests, not a stand-in for Redis.
final class GarbageServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32

    init(reply: [UInt8]) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listener = self.listener
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && Glibc.listen(listener, 8) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard ok else { throw RedisServer.StartError(description: "garbage server: bind failed") }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while read(connection, &buffer, buffer.count) > 0 {
                        _ = reply.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    }
                    Glibc.close(connection)
                }
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }
}
