import IPC
import Wire
/// cached's messages: exact-match lookup, store, clearing, and its figures.
public enum CacheProtocol {
    /// Looks a key up. Reply: `GetReply`.
    public struct Get: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 1
        public var key: String

        public init() { self.init(key: "") }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .string(maxLength: 1024))
        }

        public init(key: String) { self.key = key }
    }

    public struct GetReply: WireFields, Equatable {
        /// The stored value, or nil on a miss.
        public var value: [UInt8]?
        /// Age of the entry in milliseconds (0 on a miss).
        public var ageMs: UInt64
        /// On a miss (added later, trailing): whether a ``Claim`` on the key reaches other hosts (a Redis
        /// tier); false when claims are this host's alone, which the caller's own coalescing already
        /// covers, so it need not claim. nil on a hit, and from a cached older than the field.
        public var claimsSpanHosts: Bool?

        public init() { self.init(value: nil, ageMs: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&value, .optional(.bytes()))
            try v.field(&ageMs, .uint64)
            try v.field(&claimsSpanHosts, .trailing(.bool))
        }

        public init(value: [UInt8]?, ageMs: UInt64, claimsSpanHosts: Bool? = nil) {
            self.value = value
            self.ageMs = ageMs
            self.claimsSpanHosts = claimsSpanHosts
        }
    }

    /// Stores a value. Reply: empty.
    public struct Put: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 2
        public var key: String
        /// The model the value came from, so `Clear` can drop one model's entries.
        public var model: String
        public var value: [UInt8]
        /// Seconds to keep it; 0 for cached's default (CACHE_DEFAULT_TTL).
        public var ttlSeconds: UInt32
        /// What makes the entry findable by meaning as well (a semantic-cache request's), or nil. Sent after
        /// the fields above only when present, so an older cached still decodes a plain Put.
        public var semantic: SemanticKey?

        public init() { self.init(key: "", model: "", value: []) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .string(maxLength: 1024))
            try v.field(&model, .string(maxLength: 256))
            try v.field(&value, .bytes())
            try v.field(&ttlSeconds, .uint32)
            try v.field(&semantic, .trailing(.nested(SemanticKey.self)))
        }

        public init(key: String, model: String, value: [UInt8], ttlSeconds: UInt32 = 0, semantic: SemanticKey? = nil) {
            self.key = key
            self.model = model
            self.value = value
            self.ttlSeconds = ttlSeconds
            self.semantic = semantic
        }
    }

    /// Where an entry sits in the semantic index: its `group` (everything but the last user message must be
    /// equal for two requests to share an answer: scope, model, parameters, earlier messages — frontd
    /// hashes them into this string) and the embedding of its last user message (unit length, MiniLM's 384).
    public struct SemanticKey: WireFields, Equatable, Sendable {
        public var group: String
        public var vector: [Float]

        public init() { self.init(group: "", vector: []) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&group, .string(maxLength: 1024))
            try v.field(&vector, .array(.float32, maxCount: 4096, minElementSize: 4))
        }

        public init(group: String, vector: [Float]) {
            self.group = group
            self.vector = vector
        }
    }

    /// Finds the entry of `group` whose vector is most similar (cosine) to `vector`, if that similarity is
    /// at least `threshold` and the entry is at most `maxAgeMs` old (0: any age). Reply: `SemanticGetReply`.
    /// A cached that predates it answers "unknown message type", which frontd takes as a miss.
    public struct SemanticGet: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 5
        public var key: SemanticKey
        public var threshold: Float
        public var maxAgeMs: UInt64

        public init() { self.init(key: SemanticKey(), threshold: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .nested(SemanticKey.self))
            try v.field(&threshold, .float32)
            try v.field(&maxAgeMs, .uint64)
        }

        public init(key: SemanticKey, threshold: Float, maxAgeMs: UInt64 = 0) {
            self.key = key
            self.threshold = threshold
            self.maxAgeMs = maxAgeMs
        }
    }

    public struct SemanticGetReply: WireFields, Equatable {
        /// The matching entry's value, or nil when none is close enough.
        public var value: [UInt8]?
        /// Its age in milliseconds (0 on a miss).
        public var ageMs: UInt64
        /// The best similarity found in the group (also on a miss, for the near-miss figures; -1 when the
        /// group is empty).
        public var similarity: Float

        public init() { self.init(value: nil, ageMs: 0, similarity: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&value, .optional(.bytes()))
            try v.field(&ageMs, .uint64)
            try v.field(&similarity, .float32)
        }

        public init(value: [UInt8]?, ageMs: UInt64, similarity: Float) {
            self.value = value
            self.ageMs = ageMs
            self.similarity = similarity
        }
    }

    /// Asks to be the one that computes `key`'s answer (stampede protection, cluster-wide with a Redis
    /// backend): granted unless another caller holds an unexpired claim on it. The claim lapses after
    /// `leaseMs` or when the key is stored. Reply: `ClaimReply`. A cached that predates it answers
    /// "unknown message type", which frontd takes as granted.
    public struct Claim: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 6
        public var key: String
        public var leaseMs: UInt32

        public init() { self.init(key: "", leaseMs: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .string(maxLength: 1024))
            try v.field(&leaseMs, .uint32)
        }

        public init(key: String, leaseMs: UInt32) {
            self.key = key
            self.leaseMs = leaseMs
        }
    }

    public struct ClaimReply: WireFields, Equatable {
        /// True: compute and store the answer. False: another caller is computing it; wait for it with `Get`.
        public var granted: Bool
        /// Milliseconds left on the other caller's claim (0 when granted).
        public var heldForMs: UInt32

        public init() { self.init(granted: false, heldForMs: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&granted, .bool)
            try v.field(&heldForMs, .uint32)
        }

        public init(granted: Bool, heldForMs: UInt32) {
            self.granted = granted
            self.heldForMs = heldForMs
        }
    }

    /// Drops every entry, or one model's. Reply: `ClearReply`.
    public struct Clear: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 3
        public var model: String?

        public init() { self.init(model: nil) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&model, .optional(.string(maxLength: 256)))
        }

        public init(model: String?) { self.model = model }
    }

    public struct ClearReply: WireFields, Equatable {
        public var removed: UInt64

        public init() { self.init(removed: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) { try v.field(&removed, .uint64) }
        public init(removed: UInt64) { self.removed = removed }
    }

    /// Asks for cached's figures. Reply: `StatsReply`.
    public struct Stats: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 4

        public init() {}
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {}
    }

    /// cached's figures since it started: its size, bounds and every lookup it answered.
    public struct StatsReply: WireFields, Equatable {
        /// Entries held now.
        public var entries: UInt64
        /// Key and value bytes held now.
        public var bytes: UInt64
        /// `CACHE_MAX_SIZE`.
        public var maxEntries: UInt64
        /// `CACHE_MAX_BYTES`.
        public var maxBytes: UInt64
        /// Lookups that found a live entry.
        public var hits: UInt64
        /// Lookups that found none (or an expired one).
        public var misses: UInt64
        /// Entries dropped by the cache itself (capacity or expiry), not by `Clear`.
        public var evictions: UInt64

        public init() { self.init(entries: 0, bytes: 0, maxEntries: 0, maxBytes: 0, hits: 0, misses: 0, evictions: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            for field in [\Self.entries, \.bytes, \.maxEntries, \.maxBytes, \.hits, \.misses, \.evictions] {
                try v.field(&self[keyPath: field], .uint64)
            }
        }

        public init(entries: UInt64, bytes: UInt64, maxEntries: UInt64, maxBytes: UInt64, hits: UInt64, misses: UInt64, evictions: UInt64) {
            self.entries = entries
            self.bytes = bytes
            self.maxEntries = maxEntries
            self.maxBytes = maxBytes
            self.hits = hits
            self.misses = misses
            self.evictions = evictions
        }
    }
}

/// The client stub for cached.
public struct CacheClient: Sendable {
    public let client: IPCClient
    public init(path: String) {
        client = IPCClient(path: path, protocolName: ServiceName.cached, version: ServiceName.version)
    }

    /// The value stored under `key`, or nil.
    public func get(_ key: String, timeout: Duration) async throws -> CacheProtocol.GetReply {
        try await client.call(CacheProtocol.Get(key: key), returning: CacheProtocol.GetReply.self, timeout: timeout)
    }

    public func put(_ put: CacheProtocol.Put, timeout: Duration) async throws {
        _ = try await client.call(type: CacheProtocol.Put.type, payload: put.encoded(), timeout: timeout)
    }

    /// The closest entry of a semantic group (see ``CacheProtocol/SemanticGet``).
    public func semanticGet(_ get: CacheProtocol.SemanticGet, timeout: Duration) async throws -> CacheProtocol.SemanticGetReply {
        try await client.call(get, returning: CacheProtocol.SemanticGetReply.self, timeout: timeout)
    }

    /// Claims the right to fill `key` (see ``CacheProtocol/Claim``).
    public func claim(_ key: String, leaseMs: UInt32, timeout: Duration) async throws -> CacheProtocol.ClaimReply {
        try await client.call(CacheProtocol.Claim(key: key, leaseMs: leaseMs), returning: CacheProtocol.ClaimReply.self, timeout: timeout)
    }

    public func clear(model: String?, timeout: Duration) async throws -> UInt64 {
        try await client.call(CacheProtocol.Clear(model: model), returning: CacheProtocol.ClearReply.self, timeout: timeout).removed
    }

    /// cached's size, bounds and lookup counts.
    public func stats(timeout: Duration) async throws -> CacheProtocol.StatsReply {
        try await client.call(CacheProtocol.Stats(), returning: CacheProtocol.StatsReply.self, timeout: timeout)
    }
}
