import Testing
import TestKit

@testable import Redis

extension RedisIntegration {
    @Suite("Lua scripts")
    struct Scripts {
        static let reserve = RedisScript(
            """
            local current = tonumber(redis.call('GET', KEYS[1]) or '0')
            local wanted = tonumber(ARGV[1])
            if current + wanted > tonumber(ARGV[2]) then return {0, current} end
            redis.call('INCRBY', KEYS[1], wanted)
            return {1, current + wanted}
            """)

        @Test("our SHA-1 of a script is the one the server computes")
        func sha1MatchesServer() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }
            #expect(try await redis.load(Self.reserve) == Self.reserve.sha1)
            let unicode = RedisScript("return 'héllo ✓'")
            #expect(try await redis.load(unicode) == unicode.sha1)
        }

        @Test("EVALSHA falls back to EVAL after SCRIPT FLUSH, and is used again afterwards")
        func noScriptFallback() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }

            // Never loaded: the first call gets NOSCRIPT and sends the source.
            #expect(try await redis.evaluate(Self.reserve, keys: ["budget"], arguments: [3, 10]) == .array([.integer(1), .integer(3)]))
            #expect(redis.statistics.errorReplies == 1)
            #expect(try await redis.send("SCRIPT", "EXISTS", Self.reserve.sha1) == .array([.integer(1)]))
            // Cached now: EVALSHA alone, no error reply.
            #expect(try await redis.evaluate(Self.reserve, keys: ["budget"], arguments: [5, 10]) == .array([.integer(1), .integer(8)]))
            #expect(redis.statistics.errorReplies == 1)

            _ = try await redis.send("SCRIPT", "FLUSH")
            #expect(try await redis.send("SCRIPT", "EXISTS", Self.reserve.sha1) == .array([.integer(0)]))
            #expect(try await redis.evaluate(Self.reserve, keys: ["budget"], arguments: [5, 10]) == .array([.integer(0), .integer(8)]))
            #expect(redis.statistics.errorReplies == 2)
            #expect(try await redis.send("SCRIPT", "EXISTS", Self.reserve.sha1) == .array([.integer(1)]))
        }

        @Test("a script that fails is a server error with Redis's message")
        func failingScript() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }
            do {
                _ = try await redis.evaluate(RedisScript("return redis.call('NOPE')"))
                Issue.record("a failing script succeeded")
            } catch let error as RedisError {
                #expect(error.code == .serverError)
                #expect(error.message.contains("EVAL"), "\(error)")
            }
        }
    }
}
