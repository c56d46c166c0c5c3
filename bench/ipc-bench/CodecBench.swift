import Foundation
import Services
import Wire

/// The payload codec on its own, in this process: each message of a request's path encoded and decoded
/// in a loop, so that a change to how messages are declared shows in nanoseconds per message, without the
/// socket round trip (tens of microseconds, and noisy) around it.
enum CodecBench {
    /// One message to time: its name and one encode-then-decode of it, returning the bytes encoded.
    struct Case: Sendable {
        var name: String
        var roundTrip: @Sendable () throws -> Int
    }

    /// A message as it travels: `encoded()` by the sender, `init(decoding:)` by the receiver.
    static func roundTrip<M: WireCodable>(_ message: M) -> @Sendable () throws -> Int {
        {
            let bytes = message.encoded()
            _ = try M(decoding: bytes)
            return bytes.count
        }
    }

    /// The messages on one generation's path (limitd, cached, batchd, modeld), at realistic sizes.
    static let cases: [Case] = {
        let messages = [
            GenerationProtocol.Message(role: "system", content: "You are a helpful assistant."),
            GenerationProtocol.Message(role: "user", content: String(repeating: "What is the capital of France? ", count: 8)),
        ]
        let parameters = GenerationProtocol.Parameters(maxTokens: 256, temperature: 0.7, topP: 0.95, topK: 40, seed: 42, stop: ["\n\n"])
        let limits = LimitProtocol.Limits(requestsPerMinute: 600, requestsPerHour: 10_000, tokensPerMinute: 100_000, maxParallel: 8)
        let status = LimitProtocol.LimitStatus(limit: 600, remaining: 599, resetMs: 100)
        let vector = (0..<384).map { Float($0) / 384 }
        return [
            Case(name: "Reserve", roundTrip: roundTrip(LimitProtocol.Reserve(
                reservation: 0x1234_5678_9ABC, key: "key:k_3f9a2c", model: "smollm2", route: "/v1/chat/completions",
                limits: limits, tokens: 512, costNanoUSD: 1_200, budget: LimitProtocol.Budget(maxNanoUSD: 5_000_000_000, period: "30d"),
                leaseMs: 60_000))),
            Case(name: "ReserveReply", roundTrip: roundTrip(LimitProtocol.ReserveReply(
                outcome: .allowed, reservation: 0x1234_5678_9ABC, requests: status, tokens: status,
                budget: LimitProtocol.BudgetStatus(maxNanoUSD: 5_000_000_000, spentNanoUSD: 1_000)))),
            Case(name: "Get", roundTrip: roundTrip(CacheProtocol.Get(key: "chat/smollm2/" + String(repeating: "ab", count: 32)))),
            Case(name: "Put", roundTrip: roundTrip(CacheProtocol.Put(
                key: "chat/smollm2/" + String(repeating: "ab", count: 32), model: "smollm2",
                value: [UInt8](repeating: 0x41, count: 1024), ttlSeconds: 300,
                semantic: CacheProtocol.SemanticKey(group: "g", vector: vector)))),
            Case(name: "Generate", roundTrip: roundTrip(GenerationProtocol.Generate(
                requestID: "req_0123456789abcdef", model: "smollm2", messages: messages, parameters: parameters))),
            Case(name: "Chunk", roundTrip: roundTrip(GenerationProtocol.Chunk(text: " Paris", completionTokens: 7))),
            Case(name: "Done", roundTrip: roundTrip(GenerationProtocol.Done(
                finishReason: "stop", promptTokens: 120, completionTokens: 64, batchSize: 4))),
            Case(name: "EmbedReply", roundTrip: roundTrip(GenerationProtocol.EmbedReply(
                vectors: Array(repeating: vector, count: 4), promptTokens: 40))),
        ]
    }()

    /// This thread's CPU time in nanoseconds: on a shared machine, time spent preempted is not the codec's.
    static func threadCPUNanoseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) * 1e9 + Double(now.tv_nsec)
    }

    /// Runs each case for `seconds` of CPU time divided among them and prints CPU nanoseconds per
    /// encode-and-decode (thread CPU time, so a loaded machine slows the run, not the figure).
    static func run(seconds: Double, say: (String) -> Void) throws {
        let perCase = max(1e6, seconds * 1e9 / Double(cases.count))
        say(String(format: "codec: encode + decode of each message, in process, %.0f ms of CPU each", perCase / 1e6))
        for item in cases {
            var rounds = 0, bytes = 0
            let start = threadCPUNanoseconds()
            var elapsed = 0.0
            // Batches of 64 between clock reads, so the clock costs little beside a message of ~100 ns.
            while elapsed < perCase {
                for _ in 0..<64 { bytes &+= try item.roundTrip() }
                rounds += 64
                elapsed = threadCPUNanoseconds() - start
            }
            let name = item.name.padding(toLength: 12, withPad: " ", startingAt: 0)
            say(String(format: "codec %@ %6d bytes  %9.1f ns per encode + decode", name, bytes / max(rounds, 1), elapsed / Double(rounds)))
        }
    }
}
