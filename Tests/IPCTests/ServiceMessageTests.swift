import Foundation
import Testing

@testable import IPC
import Metrics
import Services
import Wire

/// The messages metricsd and cached answer frontd with: exact bytes (as docs/PROTOCOL.md lists the
/// fields) and round trips.
@Suite struct ServiceMessageTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("metricsd Collect: two flags; CollectReply: optional text, then the families")
    func collect() throws {
        #expect(MetricsProtocol.Collect.type == 1)
        #expect(Self.hex(MetricsProtocol.Collect(text: true, families: false).encoded()) == "0100")
        #expect(try MetricsProtocol.Collect(decoding: [0, 1]) == MetricsProtocol.Collect(text: false, families: true))
        #expect(throws: WireError.self) { try MetricsProtocol.Collect(decoding: [2, 0]) }

        let textOnly = MetricsProtocol.CollectReply(text: "a 1\n", families: [])
        #expect(Self.hex(textOnly.encoded()) == "01" + "00000004" + "6120310a" + "00000000")
        let registry = MetricsRegistry()
        registry.counter("infer_x_total", help: "x").increment([MetricLabel("model", "m")], by: 3)
        registry.histogram("infer_y_seconds", help: "y", buckets: [0.1, 1]).observe(0.5)
        let full = MetricsProtocol.CollectReply(text: nil, families: registry.snapshot())
        #expect(Self.hex(Array(full.encoded().prefix(5))) == "0000000002")
        #expect(try MetricsProtocol.CollectReply(decoding: full.encoded()) == full)
        #expect(throws: WireError.self) { try MetricsProtocol.CollectReply(decoding: Array(full.encoded().dropLast())) }
    }

    @Test("cached Stats: empty request; StatsReply: seven u64 in order")
    func cacheStats() throws {
        #expect(CacheProtocol.Stats.type == 4)
        #expect(CacheProtocol.Stats().encoded().isEmpty)
        let reply = CacheProtocol.StatsReply(entries: 2, bytes: 300, maxEntries: 1000, maxBytes: 65536, hits: 5, misses: 1, evictions: 7)
        #expect(Self.hex(reply.encoded()) == [2, 300, 1000, 65536, 5, 1, 7].map { String(format: "%016llx", $0) }.joined())
        #expect(try CacheProtocol.StatsReply(decoding: reply.encoded()) == reply)
        #expect(throws: WireError.self) { try CacheProtocol.StatsReply(decoding: Array(reply.encoded().prefix(55))) }
    }

    @Test("modeld Health: empty request, type 3; HealthReply: ready, retry-after seconds, reason")
    func health() throws {
        #expect(GenerationProtocol.Health.type == 3)
        #expect(GenerationProtocol.Health().encoded().isEmpty)
        let reply = GenerationProtocol.HealthReply(ready: false, retryAfterSeconds: 9, reason: "down")
        #expect(Self.hex(reply.encoded()) == "00" + "00000009" + "00000004" + "646f776e")
        #expect(Self.hex(GenerationProtocol.HealthReply(ready: true).encoded()) == "01" + "00000000" + "00000000")
        #expect(try GenerationProtocol.HealthReply(decoding: reply.encoded()) == reply)
        #expect(throws: WireError.self) { try GenerationProtocol.HealthReply(decoding: Array(reply.encoded().dropLast())) }
        #expect(throws: WireError.self) { try GenerationProtocol.Health(decoding: [0]) }
    }

    @Test("cached Put with a semantic key, SemanticGet and Claim: exact bytes as docs/PROTOCOL.md shows them")
    func cacheSemanticAndClaim() throws {
        let key = CacheProtocol.SemanticKey(group: "g", vector: [1, 0])
        let put = CacheProtocol.Put(key: "k", model: "m", value: [7], ttlSeconds: 60, semantic: key)
        let plainPut = "00000001" + "6b" + "00000001" + "6d" + "00000001" + "07" + "0000003c"
        #expect(Self.hex(put.encoded()) == plainPut + "00000001" + "67" + "00000002" + "3f800000" + "00000000")
        // Without the semantic key a Put is the older layout, and both decode.
        #expect(Self.hex(CacheProtocol.Put(key: "k", model: "m", value: [7], ttlSeconds: 60).encoded()) == plainPut)
        #expect(try CacheProtocol.Put(decoding: put.encoded()) == put)

        #expect(CacheProtocol.SemanticGet.type == 5)
        let get = CacheProtocol.SemanticGet(key: key, threshold: 0.95, maxAgeMs: 60_000)
        #expect(Self.hex(get.encoded()) == "00000001" + "67" + "00000002" + "3f800000" + "00000000" + "3f733333" + "000000000000ea60")
        #expect(try CacheProtocol.SemanticGet(decoding: get.encoded()) == get)
        let miss = CacheProtocol.SemanticGetReply(value: nil, ageMs: 0, similarity: 0.5)
        #expect(Self.hex(miss.encoded()) == "00" + "0000000000000000" + "3f000000")
        let hit = CacheProtocol.SemanticGetReply(value: [0xAB], ageMs: 1500, similarity: 1)
        #expect(Self.hex(hit.encoded()) == "01" + "00000001" + "ab" + "00000000000005dc" + "3f800000")
        #expect(try CacheProtocol.SemanticGetReply(decoding: hit.encoded()) == hit)

        #expect(CacheProtocol.Claim.type == 6)
        #expect(Self.hex(CacheProtocol.Claim(key: "k", leaseMs: 5000).encoded()) == "00000001" + "6b" + "00001388")
        #expect(Self.hex(CacheProtocol.ClaimReply(granted: false, heldForMs: 1500).encoded()) == "00" + "000005dc")
        #expect(Self.hex(CacheProtocol.ClaimReply(granted: true, heldForMs: 0).encoded()) == "01" + "00000000")
        #expect(throws: WireError.self) { try CacheProtocol.ClaimReply(decoding: [2, 0, 0, 0, 0]) }

        // A Get miss says whether claims reach other hosts (a trailing bool); a hit, and an older cached's
        // miss, end after age_ms and decode with the field absent.
        let localMiss = CacheProtocol.GetReply(value: nil, ageMs: 0, claimsSpanHosts: false)
        #expect(Self.hex(localMiss.encoded()) == "00" + "0000000000000000" + "00")
        #expect(Self.hex(CacheProtocol.GetReply(value: nil, ageMs: 0, claimsSpanHosts: true).encoded()) == "00" + "0000000000000000" + "01")
        #expect(try CacheProtocol.GetReply(decoding: localMiss.encoded()) == localMiss)
        #expect(try CacheProtocol.GetReply(decoding: [0, 0, 0, 0, 0, 0, 0, 0, 0]).claimsSpanHosts == nil)
        #expect(Self.hex(CacheProtocol.GetReply(value: [0xAB], ageMs: 1500).encoded()) == "01" + "00000001" + "ab" + "00000000000005dc")
    }

    @Test("the context-length refusal has its own service code")
    func codes() {
        let codes = [ServiceErrorCode.unknownModel, ServiceErrorCode.invalidRequest, ServiceErrorCode.invalidParameter,
                     ServiceErrorCode.queueFull, ServiceErrorCode.backendUnavailable, ServiceErrorCode.contextLengthExceeded]
        #expect(Set(codes).count == codes.count)
        #expect(ServiceErrorCode.contextLengthExceeded == 261)
    }

    @Test("limitd Reserve, AdmitCached, ReserveReply and Commit: the bytes docs/PROTOCOL.md shows, and round trips")
    func limitReservations() throws {
        #expect([LimitProtocol.Reserve.type, LimitProtocol.Commit.type, LimitProtocol.Usage.type, LimitProtocol.SpendList.type] == [3, 4, 5, 6])
        let reserve = LimitProtocol.Reserve(
            reservation: 0x0102_0304_0506_0708, key: "key:k1", model: "m", route: "/", limits: LimitProtocol.Limits(requestsPerMinute: 60), tokens: 300, costNanoUSD: 1000,
            budget: LimitProtocol.Budget(maxNanoUSD: 5_000_000_000, period: "30d", anchor: 1_700_000_000), leaseMs: 330_000)
        #expect(Self.hex(reserve.encoded()) == "0102030405060708" + "00000006" + "6b65793a6b31" + "00000001" + "6d" + "00000001" + "2f"
            + "0000003c" + "00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "00000000"
            + "0000012c" + "00000000000003e8" + "000000012a05f200" + "00000003" + "333064" + "000000006553f100" + "00050910")
        #expect(try LimitProtocol.Reserve(decoding: reserve.encoded()) == reserve)
        // AdmitCached (type 7) carries a Reserve's payload, byte for byte.
        #expect(LimitProtocol.AdmitCached.type == 7)
        #expect(LimitProtocol.AdmitCached(reserve).encoded() == reserve.encoded())
        #expect(try LimitProtocol.AdmitCached(decoding: reserve.encoded()) == LimitProtocol.AdmitCached(reserve))

        let reply = LimitProtocol.ReserveReply(
            outcome: .budgetExceeded, refusedBy: "budget", retryAfterMs: 1500,
            requests: LimitProtocol.LimitStatus(limit: 60, remaining: 59, resetMs: 1000),
            budget: LimitProtocol.BudgetStatus(maxNanoUSD: 10, spentNanoUSD: 9, reservedNanoUSD: 1, periodEnd: 1_700_086_400))
        #expect(Self.hex(reply.encoded()) == "02" + "00000006" + "627564676574" + "0000000000000000" + "000005dc"
            + "0000003c" + "0000003b" + "000003e8" + "00000000" + "00000000" + "00000000"
            + "000000000000000a" + "0000000000000009" + "0000000000000001" + "0000000065554280")
        #expect(try LimitProtocol.ReserveReply(decoding: reply.encoded()) == reply)
        var badOutcome = reply.encoded()
        badOutcome[0] = 9
        #expect(throws: WireError.self) { try LimitProtocol.ReserveReply(decoding: badOutcome) }

        let commit = LimitProtocol.Commit(reservation: 0x0102_0304_0506_0708, promptTokens: 10, completionTokens: 20, costNanoUSD: 1500, final: true)
        #expect(Self.hex(commit.encoded()) == "0102030405060708" + "0000000a" + "00000014" + "00000000000005dc" + "01")
        #expect(try LimitProtocol.Commit(decoding: commit.encoded()) == commit)

        let usage = LimitProtocol.UsageReply(limits: LimitProtocol.Limits(requestsPerMinute: 1), requests: LimitProtocol.LimitStatus(),
                                             tokens: LimitProtocol.LimitStatus(limit: 5, remaining: 4, resetMs: 3), budget: LimitProtocol.BudgetStatus(),
                                             inFlight: 2, promptTokens: 7, completionTokens: 8, totalSpentNanoUSD: 9)
        #expect(try LimitProtocol.UsageReply(decoding: usage.encoded()) == usage)
        let list = LimitProtocol.SpendListReply(keys: [LimitProtocol.KeySpend(key: "key:a", periodStart: 1, periodEnd: 2, spentNanoUSD: 3,
                                                                               reservedNanoUSD: 4, totalSpentNanoUSD: 5)])
        #expect(try LimitProtocol.SpendListReply(decoding: list.encoded()) == list)
        #expect(LimitProtocol.SpendList().encoded().isEmpty)
    }
}
