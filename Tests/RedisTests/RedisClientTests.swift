import Glibc
import Testing
import TestKit

@testable import Redis

extension RedisIntegration {
    @Suite("Commands")
    struct Commands {
        @Test("GET, SET with PX and NX, DEL, INCRBY, EXPIRE, TTL, PTTL")
        func strings() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }

            #expect(try await redis.ping() == "PONG")
            #expect(try await redis.get("missing") == nil)
            #expect(try await redis.set("k", to: "v1"))
            #expect(try await redis.get("k")?.text == "v1")
            #expect(try await redis.set("k", to: "v2", condition: .ifNotExists) == false)
            #expect(try await redis.get("k")?.text == "v1")
            #expect(try await redis.set("absent", to: "x", condition: .ifExists) == false)
            #expect(try await redis.set("k", to: "v3", condition: .ifExists))
            #expect(try await redis.ttl("k") == .persistent)
            #expect(try await redis.ttl("missing") == .keyMissing)

            #expect(try await redis.set("lease", to: "owner-1", expireAfterMilliseconds: 60_000, condition: .ifNotExists))
            guard case .expiresIn(let milliseconds) = try await redis.pttl("lease") else {
                Issue.record("no PTTL")
                return
            }
            #expect((59_000...60_000).contains(milliseconds))

            #expect(try await redis.incrBy("n", by: 5) == 5)
            #expect(try await redis.incrBy("n", by: -7) == -2)
            #expect(try await redis.expire("n", seconds: 100))
            #expect(try await redis.ttl("n") == .expiresIn(100))
            #expect(try await redis.pexpire("n", milliseconds: 5_000))
            #expect(try await redis.expire("missing", seconds: 1) == false)
            #expect(try await redis.del("k", "n", "missing") == 2)
            #expect(try await redis.get("k") == nil)
        }

        @Test("keys and values are binary-safe")
        func binary() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }
            let key: [UInt8] = [0, 13, 10, 255, 42, 36]
            let value: [UInt8] = (0...255).map { UInt8($0) } + [13, 10, 13, 10]
            #expect(try await redis.set(key, to: value))
            #expect(try await redis.get(key) == value)
            #expect(try await redis.get([0, 13, 10, 255, 42]) == nil)
            #expect(try await redis.hset([UInt8]([1, 0, 13]), field: value, to: key))
            #expect(try await redis.hget([UInt8]([1, 0, 13]), field: value) == key)
            #expect(try await redis.del(key) == 1)
            #expect(try await redis.get(key) == nil)
            let big = [UInt8](repeating: 7, count: 3 << 20)
            #expect(try await redis.set("big", to: big))
            #expect(try await redis.get("big") == big)
        }

        @Test("hashes: HSET, HGET, HINCRBY, HINCRBYFLOAT; PUBLISH")
        func hashes() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }
            #expect(try await redis.hset("spend", field: "key-1", to: "1.5"))
            #expect(try await redis.hset("spend", fields: [("key-1", "2"), ("key-2", [UInt8]([0, 1]))]) == 1)
            #expect(try await redis.hget("spend", field: "key-1")?.text == "2")
            #expect(try await redis.hget("spend", field: "key-2") == [0, 1])
            #expect(try await redis.hget("spend", field: "nope") == nil)
            #expect(try await redis.hincrBy("counts", field: "a", by: 3) == 3)
            #expect(try await redis.hincrByFloat("spend", field: "key-1", by: 0.25) == 2.25)
            #expect(try await redis.publish("events", message: "hello") == 0)
        }

        @Test("server errors are thrown with the server's message; pipelines keep them in place")
        func errors() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }
            try await redis.set("s", to: "text")
            do {
                _ = try await redis.incrBy("s")
                Issue.record("INCRBY of text succeeded")
            } catch let error as RedisError {
                #expect(error.code == .serverError)
                #expect(error.serverErrorPrefix == "ERR")
                #expect(error.message.hasPrefix("INCRBY: ERR value is not an integer"))
                #expect(!error.isRetryable)
            }
            await #expect(throws: RedisError.self) { try await redis.send("NOSUCHCOMMAND") }
            let replies = try await redis.pipeline([
                RedisCommand("SET", "a", "1"), RedisCommand("INCR", "s"), RedisCommand("GET", "a"),
            ])
            #expect(replies.count == 3)
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1].errorMessage?.hasPrefix("ERR") == true)
            #expect(replies[2] == .bulk("1"))
            #expect(try await redis.pipeline([]) == [])
            let statistics = redis.statistics
            #expect(statistics.errorReplies == 3)
            #expect(statistics.failures == 0)
            #expect(statistics.isConnected)
        }

        @Test("concurrent callers share one connection and each gets its own reply")
        func concurrency() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL)
            defer { redis.close() }
            let tasks = 8
            let perTask = 1000
            // INCRs: the total is exact, and every value 1...8000 is handed out exactly once.
            let seen = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        var values: [Int64] = []
                        for _ in 0..<perTask { values.append(try await redis.incrBy("counter")) }
                        return values
                    }
                }
                var all: [Int64] = []
                for try await values in group {
                    #expect(values == values.sorted(), "one caller's INCRs come back in order")
                    all += values
                }
                return all
            }
            #expect(try await redis.get("counter")?.text == String(tasks * perTask))
            #expect(seen.sorted() == Array(1...Int64(tasks * perTask)))

            // ECHO with distinct payloads, single commands and pipelines mixed: each caller gets exactly
            // its own replies, so FIFO matching holds under interleaving.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for round in 0..<200 {
                            if round % 5 == 0 {
                                let payloads = (0..<7).map { "t\(task)-r\(round)-p\($0)" }
                                let replies = try await redis.pipeline(payloads.map { RedisCommand("ECHO", $0) })
                                #expect(replies == payloads.map { .bulk($0) })
                            } else {
                                let payload = "t\(task)-r\(round)"
                                #expect(try await redis.send("ECHO", payload) == .bulk(payload))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let statistics = redis.statistics
            #expect(statistics.commands == statistics.replies)
            #expect(statistics.pending == 0)
            #expect(statistics.connects == 1)
        }

        @Test("measurement (not asserted): 100k pipelined INCRs, and 100k INCRs from 64 concurrent callers")
        func throughput() async throws {
            let server = try RedisServer.start()
            defer { server.stop() }
            let redis = try RedisIntegration.client(server.tcpURL, commandTimeout: .seconds(30))
            defer { redis.close() }
            try await redis.ping()
            let count = 100_000
            let clock = ContinuousClock()

            let pipelined = try await clock.measure {
                let replies = try await redis.pipeline(Array(repeating: RedisCommand("INCR", "bench:pipeline"), count: count))
                #expect(replies.last == .integer(Int64(count)))
            }
            let callers = 64
            let concurrent = try await clock.measure {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<callers {
                        group.addTask {
                            for _ in 0..<(count / callers + 1) { try await redis.incrBy("bench:concurrent") }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            func rate(_ duration: Duration, _ operations: Int) -> Int {
                let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
                return Int(Double(operations) / seconds)
            }
            print(
                "Redis throughput (loopback, this build's optimisation level): one pipeline of \(count) INCRs in \(pipelined) = \(rate(pipelined, count)) ops/s; \(callers) concurrent callers, \(callers * (count / callers + 1)) INCRs in \(concurrent) = \(rate(concurrent, callers * (count / callers + 1))) ops/s"
            )
        }
    }
}
