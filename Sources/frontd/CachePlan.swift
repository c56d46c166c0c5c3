import Crypto
import HTTP
import Services
import Wire

/// How one generation uses the response cache, decided before it runs from the request's determinism,
/// its ``CacheControl`` and the caller's ``CacheScope``.
struct CachePlan: Sendable {
    /// The scoped exact-match key; nil when the request is not cacheable (its output is sampled).
    let key: String?
    /// The model, so that clearing one model's entries finds these.
    let model: String
    let control: CacheControl
    /// The semantic lookup, when it applies (a chat whose last message is the user's, semantic on).
    let semantic: SemanticProbe?
    /// The exact lookup's answer when it was made before the admission (``Frontend/prepareGeneration``).
    var exact: ExactLookup = .notMade

    /// A plan that never touches the cache (X-Cache: BYPASS).
    static func bypass(model: String) -> CachePlan {
        CachePlan(key: nil, model: model, control: .none, semantic: nil)
    }

    /// Whether the cache is read before the model runs.
    var reads: Bool { key != nil && !control.noCache }
    /// Whether the answer is stored.
    var writes: Bool { key != nil && !control.noStore }
    /// X-Cache of an answer the model produced: MISS when the cache was read, BYPASS when it was not.
    var missStatus: String { reads ? "MISS" : "BYPASS" }
    /// The oldest entry this request accepts, in ms, for cached's `maxAgeMs` (0: any): `max-age=N` takes
    /// an entry whose `Age` (whole seconds) is at most N.
    var maxAgeMs: UInt64 { control.maxAgeSeconds.map { UInt64($0) * 1000 + 999 } ?? 0 }
    /// The TTL sent with the answer (0: cached's default).
    var ttlSeconds: UInt32 { UInt32(clamping: control.ttlSeconds ?? 0) }

    /// Whether an entry `ageMs` old satisfies the request's `max-age`.
    func accepts(ageMs: UInt64) -> Bool { maxAgeMs == 0 || ageMs <= maxAgeMs }
}

/// An exact lookup made ahead of ``Frontend/lookup(_:)``.
enum ExactLookup: Sendable {
    /// Not made: `lookup` asks cached itself.
    case notMade
    case hit(CacheHit)
    /// No usable entry (none, too old, undecodable, or cached unreachable), and whether a fill must claim
    /// the key in cached (false only when cached said its claims are this host's alone).
    case miss(claim: Bool)
}

/// What a semantic lookup compares: the last user message, within a group of requests that agree on
/// everything else (scope, model, parameters, the earlier messages).
struct SemanticProbe: Sendable, Equatable {
    let group: String
    let text: String
    let threshold: Float

    /// The probe of a chat request, or nil when its last message is not the user's.
    static func of(_ generate: GenerationProtocol.Generate, scope: String, threshold: Float) -> SemanticProbe? {
        guard let last = generate.messages.last, last.role == "user", !last.content.isEmpty else { return nil }
        var w = WireWriter()
        w.writeString("semantic/v1")
        w.writeString(scope)
        w.writeString(generate.model)
        w.writeArray(Array(generate.messages.dropLast())) { $0.write($1) }
        w.write(generate.parameters)
        return SemanticProbe(group: SHA256.hex(w.bytes), text: last.content, threshold: threshold)
    }
}

/// An answer found in the cache, and how (HIT or HIT-SEMANTIC, its age).
struct CacheHit: Sendable {
    let completion: CachedCompletion
    let status: CacheStatus

    init(completion: CachedCompletion, status: String, ageMs: UInt64) {
        self.completion = completion
        self.status = CacheStatus(value: status, ageMs: ageMs)
    }
}

extension GenerationProtocol.Generate {
    /// The exact-match cache key: SHA-256 over the canonical encoding of what determines the output (the
    /// model, the chat or raw prompt, the parameters), not the request id or priority. `/v1/infer`'s prompt
    /// is a one-message chat, so it shares entries with the same chat sent to `/v1/chat/completions`.
    var cacheKey: String {
        var w = WireWriter()
        w.writeString("generate/v1")
        w.writeString(model)
        w.writeArray(messages) { $0.write($1) }
        w.writeString(prompt)
        w.write(parameters)
        return SHA256.hex(w.bytes)
    }

    /// Only requests whose output is fully determined are cached: greedy decoding (temperature 0), or
    /// sampling with a seed (the same seed draws the same tokens on the same deployment).
    var isDeterministic: Bool { parameters.temperature == 0 || parameters.seed != nil }

    /// `cacheKey` within a scope (``CacheScope/prefix(keyID:namespace:)``).
    func scopedCacheKey(scope: String) -> String {
        SHA256.hex(Array(("scoped/v1\u{0}" + scope + "\u{0}" + cacheKey).utf8))
    }
}

/// How the cache answered a request: `X-Cache` (HIT, HIT-SEMANTIC, MISS or BYPASS) and, for a hit, the
/// entry's age.
struct CacheStatus: Sendable, Equatable {
    let value: String
    /// The entry's age in ms on a hit; nil when the model answered.
    let ageMs: UInt64?

    /// Whether the answer came from the cache (no model ran, nothing is charged).
    var isHit: Bool { ageMs != nil }

    /// `X-Cache`, and `Age` (whole seconds) on a hit.
    var headers: HTTPHeaders {
        var headers: HTTPHeaders = ["X-Cache": value]
        if let ageMs { headers.add(name: "Age", value: String(ageMs / 1000)) }
        return headers
    }

    /// The status of an answer the model produced under `plan`.
    static func answered(_ plan: CachePlan) -> CacheStatus { CacheStatus(value: plan.missStatus, ageMs: nil) }
}
