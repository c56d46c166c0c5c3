import Dispatch
import Foundation
import Synchronization
import Testing
import TestKit

/// The response cache as a client sees it, on the native-routes stack: scopes per key and namespace,
/// Cache-Control and the body's `cache` controls, X-Cache and Age, streams replayed from the cache, and
/// identical requests in flight coalesced into one model run.
extension NativeRoutesTests {
    /// A greedy chat completion body (`extra` is spliced in as more top-level members).
    static func chatBody(_ prompt: String, tokens: Int = 6, extra: String = "") -> String {
        #"{"model":"smollm2","messages":[{"role":"user","content":"\#(prompt)"}],"max_tokens":\#(tokens),"temperature":0\#(extra)}"#
    }

    func cacheControls(_ s: Stack) throws {
        let ask = { (key: String, headers: [String]) in
            s.post("/v1/chat/completions", Self.chatBody("Name a color."), key: key, headers: headers)
        }
        // Scoped per key: the second key misses where the first hits.
        let first = ask("test", [])
        #expect(first.status == 200 && first.headers["x-cache"] == "MISS", "\(first.headers) \(first.body)")
        let again = ask("test", [])
        #expect(again.headers["x-cache"] == "HIT" && again.headers["age"] != nil)
        #expect(Self.object(again)["choices"] as? NSArray == Self.object(first)["choices"] as? NSArray)
        #expect(ask("someone-else", []).headers["x-cache"] == "MISS", "another key must not read this key's entry")
        #expect(ask("someone-else", []).headers["x-cache"] == "HIT")

        // no-cache: not read (BYPASS), though the entry is there.
        #expect(ask("test", ["Cache-Control: no-cache"]).headers["x-cache"] == "BYPASS")
        // max-age: an entry older than asked for is not served.
        Thread.sleep(forTimeInterval: 1.1)
        #expect(ask("test", ["Cache-Control: max-age=0"]).headers["x-cache"] == "MISS")
        let fresh = ask("test", ["Cache-Control: max-age=3600"])
        #expect(fresh.headers["x-cache"] == "HIT")

        // no-store: looked up, answered, not kept.
        let body = Self.chatBody("Name a fruit.", extra: #","cache":{"no-store":true}"#)
        #expect(s.post("/v1/chat/completions", body).headers["x-cache"] == "MISS")
        #expect(s.post("/v1/chat/completions", Self.chatBody("Name a fruit.")).headers["x-cache"] == "MISS")
        #expect(s.post("/v1/chat/completions", Self.chatBody("Name a fruit.")).headers["x-cache"] == "HIT")

        // Namespaces partition one key's entries.
        let inN1 = Self.chatBody("Name a color.", extra: #","cache":{"namespace":"n1","ttl":60}"#)
        #expect(s.post("/v1/chat/completions", inN1).headers["x-cache"] == "MISS")
        #expect(s.post("/v1/chat/completions", inN1).headers["x-cache"] == "HIT")
        let inN2 = Self.chatBody("Name a color.", extra: #","cache":{"namespace":"n2"}"#)
        #expect(s.post("/v1/chat/completions", inN2).headers["x-cache"] == "MISS")

        // A bad control is refused, naming the field.
        let bad = s.post("/v1/chat/completions", Self.chatBody("x", extra: #","cache":{"ttl":0}"#))
        #expect(bad.status == 400 && Self.error(bad)["param"] as? String == "cache.ttl", "\(bad.body)")

        try streamsFromCache(s)
        try coalescing(s)
    }

    /// A stream answered from the cache has a live stream's event shapes, usage included.
    func streamsFromCache(_ s: Stack) throws {
        let stream = Self.chatBody("Name a shape.", extra: #","stream":true,"stream_options":{"include_usage":true}"#)
        let live = s.post("/v1/chat/completions", stream)
        let replay = s.post("/v1/chat/completions", stream)
        #expect(live.headers["x-cache"] == "MISS" && replay.headers["x-cache"] == "HIT", "\(live.headers) \(replay.headers)")
        func shapes(_ r: CurlResult) -> [String] {
            Self.events(r.body).map { event in
                guard event.data != "[DONE]" else { return "[DONE]" }
                let o = Self.json(event.data)
                let choice = (o["choices"] as? [[String: Any]])?.first
                let delta = (choice?["delta"] as? [String: Any]).map { $0.keys.sorted().joined(separator: "+") } ?? "-"
                return "\(o["object"] ?? "?")/\(delta)/\(choice?["finish_reason"] is String ? "finish" : "")/\(o["usage"] != nil ? "usage" : "")"
            }
        }
        let liveShapes = shapes(live), replayShapes = shapes(replay)
        // The live stream sends the text in several chunks, the replay in one: compare with repeats folded.
        func folded(_ a: [String]) -> [String] { a.reduce(into: []) { if $0.last != $1 { $0.append($1) } } }
        #expect(folded(liveShapes) == folded(replayShapes), "live \(liveShapes) replay \(replayShapes)")
        #expect(replayShapes.first == "chat.completion.chunk/content+role//" && replayShapes.last == "[DONE]")
        let usage = { (r: CurlResult) in
            Self.events(r.body).compactMap { Self.json($0.data)["usage"] as? [String: Any] }.first.map {
                $0.filter { $0.key != "cost" }.compactMapValues { $0 as? Int }
            }
        }
        #expect(usage(live) != nil && usage(live) == usage(replay))
        let text = { (r: CurlResult) in
            Self.events(r.body).compactMap {
                ((Self.json($0.data)["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
        }
        #expect(!text(live).isEmpty && text(live) == text(replay))
    }

    /// Four identical requests at once: the model runs for one, the others share its answer.
    func coalescing(_ s: Stack) throws {
        let before = s.metric(#"infer_frontd_cache_lookups_total{result="coalesced"}"#)
        let claims = #"infer_cached_claims_total{result="granted"}"#
        let claimsBefore = s.metric(claims)
        let body = Self.chatBody("Count from one to ten.", tokens: 40)
        let results = Mutex<[CurlResult]>([])
        // Threads of their own: concurrentPerform would run only as many at once as there are cores.
        let done = DispatchGroup()
        for _ in 0..<4 {
            done.enter()
            Thread.detachNewThread {
                let r = s.post("/v1/chat/completions", body)
                results.withLock { $0.append(r) }
                done.leave()
            }
        }
        done.wait()
        let all = results.withLock { $0 }
        #expect(all.allSatisfy { $0.status == 200 })
        let statuses = all.map { $0.headers["x-cache"] ?? "?" }
        #expect(statuses.filter { $0 == "MISS" }.count == 1, "one model run for four identical requests: \(statuses)")
        #expect(Set(all.map { Self.object($0)["choices"] as? NSArray ?? [] }).count == 1, "one answer for all")
        let coalesced = s.metric(#"infer_frontd_cache_lookups_total{result="coalesced"}"#) - before
        #expect(coalesced >= 1, "at least one request waited for the other's answer (the rest may have found it stored)")
        // cached with memory alone says its claims are this host's: the fill ran without a Claim round trip.
        #expect(s.metric(claims) == claimsBefore, "no Claim with the memory backend")
    }
}

extension NativeRoutesTests {
    /// The serving metrics after known traffic: one plain and one streamed generation of `tiny`, and a hit.
    func servingMetrics(_ s: Stack) throws {
        let ttft = #"infer_frontd_time_to_first_token_seconds_count{model="tiny"}"#
        let e2e = #"infer_frontd_generation_duration_seconds_count{model="tiny"}"#
        let itl = #"infer_frontd_inter_token_latency_seconds_count{model="tiny"}"#
        let length = #"infer_frontd_finish_reasons_total{model="tiny",reason="length"}"#
        let before = [ttft, e2e, itl, length].map { s.metric($0) }
        let body = #"{"model":"tiny","messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":5,"temperature":0"#
        let plain = s.post("/v1/chat/completions", body + "}")
        let streamed = s.post("/v1/chat/completions", body + #","seed":3,"stream":true}"#)
        let hit = s.post("/v1/chat/completions", body + "}")
        #expect(plain.headers["x-cache"] == "MISS" && streamed.headers["x-cache"] == "MISS" && hit.headers["x-cache"] == "HIT")
        let after = [ttft, e2e, itl, length].map { s.metric($0) }
        #expect(after[0] - before[0] == 2, "time to first token: one per generation, streamed or not; none for the hit")
        #expect(after[1] - before[1] == 2)
        #expect(after[3] - before[3] == 2, "both stopped at max_tokens 5")
        // Five tokens make at most four gaps per generation (fewer when pieces arrive together).
        #expect((1...8).contains(after[2] - before[2]), "inter-token gaps: \(after[2] - before[2])")
    }
}
