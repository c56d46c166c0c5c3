import Foundation
import Services
import Testing
@testable import frontd

/// A request's cache controls, its scope, and the plan made of them.
@Suite("cache controls, scopes and plans")
struct CacheControlTests {
    /// The body's `cache` member.
    private func cache(_ json: String) -> JSONValue? {
        (try? JSONBody.object(Array(json.utf8)))?["cache"]
    }

    @Test("Cache-Control directives: no-cache, no-store, max-age; unknown and malformed ones ignored")
    func header() throws {
        let c = try CacheControl(header: "No-Cache, max-age=60, private, no-store", body: nil)
        #expect(c.noCache && c.noStore && c.maxAgeSeconds == 60)
        let odd = try CacheControl(header: "max-age=soon, max-stale, ,", body: nil)
        #expect(odd == .none)
        #expect(try CacheControl(header: #"max-age="5""#, body: nil).maxAgeSeconds == 5)
        #expect(try CacheControl(header: "max-age=-1", body: nil).maxAgeSeconds == nil)
    }

    @Test("the body's cache object: every member, both spellings; the body's numbers win over the header's")
    func bodyObject() throws {
        let c = try CacheControl(header: "max-age=5", body: cache(#"{"cache": {"no_cache": true, "no-store": false, "ttl": 600, "max-age": 60, "namespace": "team-a.v2", "semantic": true}}"#))
        #expect(c.noCache && !c.noStore && c.ttlSeconds == 600 && c.maxAgeSeconds == 60 && c.namespace == "team-a.v2" && c.semantic == true)
        // A false flag in the body does not undo the header's directive.
        let both = try CacheControl(header: "no-store", body: .object(JSONObject([("no-store", .bool(false))])))
        #expect(both.noStore)
    }

    @Test("bad cache members are refused with 400 naming the field", arguments: [
        (#"{"cache": 1}"#, "cache"),
        (#"{"cache": {"ttl": 0}}"#, "cache.ttl"),
        (#"{"cache": {"ttl": 2592001}}"#, "cache.ttl"),
        (#"{"cache": {"ttl": 1.5}}"#, "cache.ttl"),
        (#"{"cache": {"max-age": true}}"#, "cache.max-age"),
        (#"{"cache": {"no-cache": "yes"}}"#, "cache.no-cache"),
        (#"{"cache": {"namespace": "a/b"}}"#, "cache.namespace"),
        (#"{"cache": {"namespace": ""}}"#, "cache.namespace"),
        (#"{"cache": {"nocache": true}}"#, "cache.nocache"),
    ])
    func refused(json: String, param: String) {
        let member = cache(json)
        #expect(throws: APIError.self) { try CacheControl(header: nil, body: member) }
        do {
            _ = try CacheControl(header: nil, body: member)
        } catch {
            #expect(error.status.code == 400)
            #expect(error.param == param)
        }
    }

    @Test("scopes: one key's entries are its own unless the operator shares them")
    func scopes() {
        #expect(CacheScope.key.prefix(keyID: "k1", namespace: nil) == "key:k1")
        #expect(CacheScope.key.prefix(keyID: "k1", namespace: "x") == "key:k1/ns:x")
        #expect(CacheScope.key.prefix(keyID: "k1", namespace: "x") != CacheScope.key.prefix(keyID: "k2", namespace: "x"))
        #expect(CacheScope.namespace.prefix(keyID: "k1", namespace: "x") == CacheScope.namespace.prefix(keyID: "k2", namespace: "x"))
        #expect(CacheScope.namespace.prefix(keyID: "k1", namespace: nil) != CacheScope.namespace.prefix(keyID: "k2", namespace: nil))
        #expect(CacheScope.global.prefix(keyID: "k1", namespace: nil) == CacheScope.global.prefix(keyID: "k2", namespace: nil))
        #expect(CacheScope.key.prefix(keyID: nil, namespace: nil) == "key:anonymous")
        #expect(CacheScope.isValidNamespace(String(repeating: "a", count: 64)))
        #expect(!CacheScope.isValidNamespace(String(repeating: "a", count: 65)))
    }

    @Test("a plan: read and write by the controls; MISS or BYPASS; max-age in whole seconds of Age")
    func plan() throws {
        let generate = GenerationProtocol.Generate(requestID: "r", model: "m", messages: [.init(role: "user", content: "hi")],
                                                   parameters: .init(maxTokens: 4, temperature: 0))
        let a = generate.scopedCacheKey(scope: "key:a"), b = generate.scopedCacheKey(scope: "key:b")
        #expect(a != b && a.count == 64)
        let plain = CachePlan(key: a, model: "m", control: .none, semantic: nil)
        #expect(plain.reads && plain.writes && plain.missStatus == "MISS" && plain.maxAgeMs == 0 && plain.accepts(ageMs: .max))
        let noCache = CachePlan(key: a, model: "m", control: try CacheControl(header: "no-cache", body: nil), semantic: nil)
        #expect(!noCache.reads && noCache.writes && noCache.missStatus == "BYPASS")
        let young = CachePlan(key: a, model: "m", control: try CacheControl(header: "max-age=2", body: nil), semantic: nil)
        #expect(young.accepts(ageMs: 2_999) && !young.accepts(ageMs: 3_000))
        #expect(!CachePlan.bypass(model: "m").reads && !CachePlan.bypass(model: "m").writes)
        // Sampled requests are not cacheable; a seed makes them so.
        var sampled = generate
        sampled.parameters.temperature = 0.7
        #expect(!sampled.isDeterministic)
        sampled.parameters.seed = 7
        #expect(sampled.isDeterministic)
    }

    @Test("semantic groups: same history, parameters and scope agree; the last message must be the user's")
    func semanticGroups() {
        func chat(_ last: String, system: String = "be brief", scope: String = "key:a", temperature: Float = 0) -> SemanticProbe? {
            let g = GenerationProtocol.Generate(requestID: "r", model: "m",
                                                messages: [.init(role: "system", content: system), .init(role: "user", content: last)],
                                                parameters: .init(maxTokens: 4, temperature: temperature))
            return SemanticProbe.of(g, scope: scope, threshold: 0.9)
        }
        #expect(chat("What is the capital of France?")?.group == chat("Which city is France's capital?")?.group)
        #expect(chat("What is the capital of France?")?.text == "What is the capital of France?")
        #expect(chat("q")?.group != chat("q", system: "be long")?.group)
        #expect(chat("q")?.group != chat("q", scope: "key:b")?.group)
        #expect(chat("q")?.group != chat("q", temperature: 0.5)?.group)
        let assistantLast = GenerationProtocol.Generate(requestID: "r", model: "m", messages: [.init(role: "assistant", content: "x")],
                                                        parameters: .init(maxTokens: 4, temperature: 0))
        #expect(SemanticProbe.of(assistantLast, scope: "s", threshold: 0.9) == nil)
    }
}

/// Coalescing: identical requests in flight share one answer.
@Suite("in-flight fills")
struct InFlightFillsTests {
    @Test("the first leads; the others get its answer; a dropped fill frees them with nothing")
    func coalescing() async {
        let fills = InFlightFills()
        guard case .lead = await fills.join("k") else { Issue.record("the first request must lead"); return }
        async let second = fills.join("k")
        async let third = fills.join("k")
        while fills.waiterCount("k") < 2 { await Task.yield() }
        let answer = CachedCompletion(content: "Paris", finishReason: "stop", promptTokens: 3, completionTokens: 1)
        let plan = CachePlan(key: "k", model: "m", control: .none, semantic: nil)
        CacheFill(plan: plan, vector: nil, leading: fills).release(answer)
        for turn in await [second, third] {
            guard case .shared(let shared) = turn else { Issue.record("a follower led"); continue }
            #expect(shared == answer)
        }
        #expect(fills.count == 0)

        // A fill dropped without an answer (the generation failed) wakes its waiters with nil.
        guard case .lead = await fills.join("k") else { Issue.record("the key must be free again"); return }
        async let waiter = fills.join("k")
        while fills.waiterCount("k") < 1 { await Task.yield() }
        do { _ = CacheFill(plan: plan, vector: nil, leading: fills) }
        guard case .shared(nil) = await waiter else { Issue.record("the waiter must be freed with nothing"); return }
        #expect(fills.count == 0)
    }
}
