import Testing
import TestKit

@testable import Redis

extension RedisIntegration {
    @Suite("AUTH, SELECT and the Unix socket")
    struct Login {
        /// A password with every character a URL makes awkward.
        static let password = "p@ss:w/rd%"
        static let encodedPassword = "p%40ss%3Aw%2Frd%25"

        @Test("a password alone, percent-encoded in the URL, logs in")
        func password() async throws {
            let server = try RedisServer.start(["--requirepass", Self.password])
            defer { server.stop() }
            let redis = try RedisIntegration.client("redis://:\(Self.encodedPassword)@127.0.0.1:\(server.port)")
            defer { redis.close() }
            #expect(try await redis.ping() == "PONG")
            #expect(try await redis.send("ACL", "WHOAMI") == .bulk("default"))
        }

        @Test("a user and password log in as that ACL user")
        func aclUser() async throws {
            let server = try RedisServer.start(["--requirepass", Self.password])
            defer { server.stop() }
            let admin = try RedisIntegration.client("redis://:\(Self.encodedPassword)@127.0.0.1:\(server.port)")
            defer { admin.close() }
            _ = try await admin.send("ACL", "SETUSER", "limitd", "on", ">limitd-secret", "~*", "+@all")
            let redis = try RedisIntegration.client("redis://limitd:limitd-secret@127.0.0.1:\(server.port)")
            defer { redis.close() }
            #expect(try await redis.send("ACL", "WHOAMI") == .bulk("limitd"))
        }

        @Test("a wrong password fails every command with a clear, non-retryable handshake error")
        func wrongPassword() async throws {
            let server = try RedisServer.start(["--requirepass", Self.password])
            defer { server.stop() }
            let redis = try RedisIntegration.client("redis://:nope@127.0.0.1:\(server.port)")
            defer { redis.close() }
            for _ in 0..<3 {
                do {
                    try await redis.ping()
                    Issue.record("PING with a wrong password succeeded")
                } catch let error as RedisError {
                    #expect(error.code == .handshakeFailed)
                    #expect(error.message.contains("AUTH refused by 127.0.0.1:\(server.port)"), "\(error)")
                    #expect(error.message.contains("WRONGPASS"), "\(error)")
                    #expect(!error.isRetryable)
                }
            }
            #expect(redis.statistics.failedConnects >= 1)
            #expect(!redis.isConnected)

            // No password at all: the server's NOAUTH comes back as a server error.
            let anonymous = try RedisIntegration.client(server.tcpURL)
            defer { anonymous.close() }
            do {
                try await anonymous.ping()
                Issue.record("PING without a password succeeded")
            } catch let error as RedisError {
                #expect(error.serverErrorPrefix == "NOAUTH")
            }
        }

        @Test("the URL's database is selected; a database out of range is a handshake error")
        func select() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let three = try RedisIntegration.client(server.tcpURL + "/3")
            defer { three.close() }
            let zero = try RedisIntegration.client(server.tcpURL)
            defer { zero.close() }
            try await three.set("where", to: "db3")
            #expect(try await three.get("where")?.text == "db3")
            #expect(try await zero.get("where") == nil)
            #expect(try await three.send("CLIENT", "INFO").string?.contains(" db=3 ") == true)

            let outOfRange = try RedisIntegration.client(server.tcpURL + "/99")
            defer { outOfRange.close() }
            do {
                try await outOfRange.ping()
                Issue.record("SELECT 99 succeeded")
            } catch let error as RedisError {
                #expect(error.code == .handshakeFailed)
                #expect(error.message.contains("SELECT 99"), "\(error)")
            }
        }

        @Test("a Unix socket, with the database as ?db= and the password as unix://:password@/path")
        func unixSocket() async throws {
            let server = try RedisServer.start(["--requirepass", "sock-secret"])
            defer { server.stop() }
            let redis = try RedisIntegration.client("unix://:sock-secret@\(server.socketPath)?db=2")
            defer { redis.close() }
            try await redis.set("via", to: "unix")
            #expect(try await redis.get("via")?.text == "unix")
            let info = try await redis.send("CLIENT", "INFO").string ?? ""
            #expect(info.contains(" db=2 "), "\(info)")
            #expect(info.contains("addr=/") || info.contains("laddr=\(server.socketPath)") || info.contains("flags=U"), "\(info)")
            let tcp = try RedisIntegration.client("redis://:sock-secret@127.0.0.1:\(server.port)/2")
            defer { tcp.close() }
            #expect(try await tcp.get("via")?.text == "unix")
        }

        @Test("CLIENT SETNAME runs on connecting")
        func clientName() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            var configuration = try RedisConfiguration(url: server.tcpURL)
            configuration.clientName = "limitd-test"
            let redis = try RedisClient(configuration: configuration)
            defer { redis.close() }
            #expect(try await redis.send("CLIENT", "GETNAME") == .bulk("limitd-test"))
        }
    }
}
