import Foundation
import Glibc
import Testing
import TestKit

// Nested in PipelineTests (a serialized suite) so that no other real stacks run beside these two.
extension PipelineTests {
    /// Two full stacks (two runtime directories and ports, one keys file) sharing one real redis-server
    /// through `LIMITS_BACKEND=redis`, as two hosts behind a balancer would: one combined limit, one
    /// token allowance, one spend; and each host's `LIMITS_REDIS_FAILURE` policy while Redis is away.
    @Suite("limits shared by two stacks through Redis")
    struct SharedLimitsStackTests {
        typealias Limits = LimitsStackTests

        /// Two stacks on `redis`, the second using the first's keys file; both ready.
        static func twoStacks(_ redis: RedisServer, keys: [HarnessKey], environment: [[String]] = [[], []],
                              prices: [String: (input: Double, output: Double)] = [:]) throws -> (StackRun, StackRun) {
            // Generous timeouts: on a loaded machine a Redis call can take longer than the default 150 ms,
            // and a request then decided under the failure policy would make these counts inexact (the
            // policies have a test of their own below, with Redis really gone).
            let shared = ["LIMITS_BACKEND=redis", "REDIS_URL=\(redis.tcpURL)", "LIMITS_REDIS_TIMEOUT_MS=2000", "DEPENDENCY_TIMEOUT_MS=5000"]
            let first = try StackRun(models: [("smollm2", "chat")], environmentFile: shared + environment[0], realDaemons: true,
                                     apiKeys: keys, prices: prices)
            let second = try StackRun(models: [("smollm2", "chat")], environmentFile: shared + environment[1], realDaemons: true,
                                      prices: prices, keysFrom: first)
            for run in [first, second] {
                #expect(run.wait(.seconds(120)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
            }
            return (first, second)
        }

        static func httpPort(_ run: StackRun) throws -> Int { try #require(run.port("http")) }

        @Test("a key of 10 requests a minute gets exactly 10 of 20 requests sent to two stacks at once")
        func oneCombinedLimit() throws {
            let redis = try RedisServer.start()
            defer { redis.stop() }
            let (a, b) = try Self.twoStacks(redis, keys: [HarnessKey(name: "ten", scopes: "infer", rpm: 10)])
            let key = try a.key("ten")
            let (portA, portB) = (try Self.httpPort(a), try Self.httpPort(b))
            let requests = (0..<20).map { i in Limits.postArguments(i % 2 == 0 ? portA : portB, key, Limits.chatBody(maxTokens: 2)) }
            let replies = curlConcurrently(requests, timeout: 120)
            let admitted = replies.filter { $0.status == 200 }.count
            let refused = replies.filter { $0.status == 429 }
            #expect(admitted == 10 && refused.count == 10, "\(replies.map(\.status))")
            // Each stack admitted some: the limit is one, not one per stack that happened to get all.
            let admittedA = replies.enumerated().filter { $0.offset % 2 == 0 && $0.element.status == 200 }.count
            print("RPM 10 across two stacks: \(admitted) admitted (\(admittedA) by the first, \(admitted - admittedA) by the second), \(refused.count) refused")
            for reply in refused { #expect((1...6).contains(Int(reply.headers["retry-after"] ?? "") ?? 0), "\(reply.headers)") }
            #expect(a.stop() == 0 && b.stop() == 0)
        }

        @Test("32 concurrent streams over two stacks against one 1200-token limit never take more than it allows")
        func tokensAcrossStacks() throws {
            let redis = try RedisServer.start()
            defer { redis.stop() }
            let (a, b) = try Self.twoStacks(redis, keys: [HarnessKey(name: "tpm", scopes: "infer", rpm: 1000, flags: ["--tpm", "1200"]),
                                                          HarnessKey(name: "half", scopes: "infer", rpm: 1000, flags: ["--tpm", "1200"])])
            let key = try a.key("tpm")
            let (portA, portB) = (try Self.httpPort(a), try Self.httpPort(b))
            let started = ContinuousClock.now
            let replies = curlConcurrently((0..<32).map { i in
                Limits.postArguments(i % 2 == 0 ? portA : portB, key, Limits.chatBody(maxTokens: 16, stream: true))
            }, timeout: 180)
            let elapsed = started.duration(to: .now)
            let admitted = replies.filter { $0.status == 200 }
            #expect(admitted.count + replies.filter { $0.status == 429 }.count == 32, "\(replies.map(\.status))")
            var used = 0
            for reply in admitted {
                used += Limits.streamedTotals(reply.body).first ?? 0
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            // GCRA: at most the burst plus the refill (20 tokens a second) over the run, for both stacks together.
            let allowed = 1200 + Int((seconds * 20).rounded(.up))
            #expect(!admitted.isEmpty && used <= allowed, "\(admitted.count) streams used \(used) tokens in \(seconds) s; allowed \(allowed)")
            // (More than the 7 reservations of 171 tokens that fit in 1200 at once may be admitted over the run:
            // a stream that ends gives back what it held beyond what it used.)
            for reply in admitted { #expect(reply.headers["x-ratelimit-limit-tokens"] == "1200") }

            // Two streams at once, one to each stack, each holding more than half the limit (its prompt
            // bound + 600): one limit admits one of them, two limits would admit both.
            let half = try a.key("half")
            let halves = curlConcurrently([portA, portB].map { Limits.postArguments($0, half, Limits.chatBody(maxTokens: 600, stream: true)) },
                                          timeout: 120)
            #expect(halves.filter { $0.status == 429 && $0.body.contains("tokens per minute") }.count == 1, "\(halves.map { ($0.status, $0.body.prefix(200)) })")
            print("32 streams over two stacks vs TPM 1200: \(admitted.count) admitted using \(used) tokens in \(seconds) s")
            #expect(a.stop() == 0 && b.stop() == 0)
        }

        @Test("spend charged on either stack is one spend: /v1/usage on each shows what every answer cost")
        func spendShared() throws {
            let redis = try RedisServer.start()
            defer { redis.stop() }
            let (a, b) = try Self.twoStacks(redis, keys: [HarnessKey(name: "payer", scopes: "infer", rpm: 1000, flags: ["--max-budget", "100"])],
                                            prices: Limits.prices)
            let key = try a.key("payer")
            let (portA, portB) = (try Self.httpPort(a), try Self.httpPort(b))
            let replies = curlConcurrently((0..<6).map { i in Limits.postArguments(i % 2 == 0 ? portA : portB, key, Limits.chatBody(maxTokens: 4 + i)) },
                                           timeout: 120)
            #expect(replies.allSatisfy { $0.status == 200 }, "\(replies.map(\.status))")
            let paid = replies.compactMap { Double($0.headers["x-infer-cost"] ?? "") }.reduce(0, +)
            #expect(paid > 0)
            for port in [portA, portB] {
                let spend = Limits.spend(try Limits.usage(port, key))
                #expect(abs(spend - paid) < 1e-8 * 7, "stack on \(port) says \(spend), the answers cost \(paid)")
            }
            // inferctl keys list asks the second stack's limitd, which reads every key's spend from Redis.
            let list = try runInferctl(["keys", "list", "--json", "--file", b.keysFile, "--runtime-dir", b.runtimeDirectory])
            #expect(list.status == 0, "\(list.stderr)")
            let listed = try #require((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["keys"] as? [[String: Any]])
            let entry = try #require(listed.first { $0["name"] as? String == "payer" })
            #expect(abs((entry["spend_usd"] as? Double ?? -1) - paid) < 1e-8 * 7, "\(entry)")
            #expect(a.stop() == 0 && b.stop() == 0)
        }

        @Test("Redis killed and restarted mid-load: the open stack serves on its own limits, the closed one answers 503; both decide in Redis again after, and the open one's spend is replayed")
        func redisAwayAndBack() throws {
            let redis = try RedisServer.start()
            defer { redis.stop() }
            let (open, closed) = try Self.twoStacks(
                redis, keys: [HarnessKey(name: "k", scopes: "infer", rpm: 1000, flags: ["--max-budget", "100"])],
                environment: [["LIMITS_REDIS_FAILURE=open"], ["LIMITS_REDIS_FAILURE=closed"]], prices: Limits.prices)
            let key = try open.key("k")
            let (portOpen, portClosed) = (try Self.httpPort(open), try Self.httpPort(closed))
            let before = curlConcurrently([portOpen, portClosed].map { Limits.postArguments($0, key, Limits.chatBody(maxTokens: 2)) })
            #expect(before.allSatisfy { $0.status == 200 }, "\(before.map(\.status))")

            redis.kill()
            var away: [(port: Int, reply: CurlResult)] = []
            for i in 0..<6 {
                let port = i % 2 == 0 ? portOpen : portClosed
                away.append((port, Limits.post(port, key, Limits.chatBody(maxTokens: 3))))
            }
            let servedOpen = away.filter { $0.port == portOpen }
            let servedClosed = away.filter { $0.port == portClosed }
            #expect(servedOpen.allSatisfy { $0.reply.status == 200 }, "open: \(servedOpen.map(\.reply.status))")
            #expect(servedClosed.allSatisfy { $0.reply.status == 503 && $0.reply.headers["retry-after"] == "1" },
                    "closed: \(servedClosed.map { ($0.reply.status, $0.reply.body) })")
            for run in [open, closed] {
                let lines = run.logLines().filter { $0["daemon"] as? String == "limitd" && ($0["msg"] as? String ?? "").hasPrefix("Redis does not answer") }
                #expect(lines.count == 1, "one log line per change: \(lines)")
            }
            let metrics = curl(["http://127.0.0.1:\(try #require(open.port("metrics-http")))/metrics"])
            #expect(metrics.body.split(separator: "\n").contains { $0.hasPrefix("infer_limitd_redis_up") && $0.hasSuffix(" 0") }, "\(metrics.body.suffix(500))")
            #expect(metrics.body.split(separator: "\n").contains { $0.hasPrefix("infer_limitd_redis_unavailable_total ") && !$0.hasSuffix(" 0") })

            // Redis back (empty: it kept nothing): both stacks decide there again within a few seconds.
            try redis.start()
            #expect(closed.wait(.seconds(20)) { Limits.post(portClosed, key, Limits.chatBody(maxTokens: 2)).status == 200 }, "the closed stack never admitted again")
            // The open stack's spend while Redis was away reaches Redis (the next housekeeping, once a second).
            let paidAway = servedOpen.compactMap { Double($0.reply.headers["x-infer-cost"] ?? "") }.reduce(0, +)
            #expect(paidAway > 0)
            #expect(closed.wait(.seconds(10)) { Limits.spend((try? Limits.usage(portClosed, key)) ?? [:]) >= paidAway - 1e-8 },
                    "the spend made while Redis was away did not reach it")
            let afterReplay = Limits.spend(try Limits.usage(portClosed, key))
            // Redis restarted empty: what it holds is the replay, plus the closed stack's one request since.
            let oneMore = afterReplay - paidAway
            #expect(oneMore > 0 && oneMore < 0.01, "Redis holds \(afterReplay), the open stack charged \(paidAway) while it was away")
            // A replay is counted once: another housekeeping later adds nothing.
            Thread.sleep(forTimeInterval: 2.5)
            #expect(abs(Limits.spend(try Limits.usage(portClosed, key)) - afterReplay) < 1e-9)
            #expect(open.stop() == 0 && closed.stop() == 0)
        }
    }
}
