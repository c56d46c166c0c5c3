import IPC
import Wire
/// cached's messages: exact-match lookup, store, clearing, and its figures.
public enum CacheProtocol {
    /// Looks a key up. Reply: `GetReply`.
    public struct Get: WireMessage, Equatable {
        public static let type: UInt16 = 1
        public var key: String
        public init(key: String) { self.key = key }
        public init(from r: inout WireReader) throws { key = try r.readString(maxLength: 1024) }
        public func encode(to w: inout WireWriter) { w.writeString(key) }
    }

    public struct GetReply: WireCodable, Equatable {
        /// The stored value, or nil on a miss.
        public var value: [UInt8]?
        /// Age of the entry in milliseconds (0 on a miss).
        public var ageMs: UInt64
        public init(value: [UInt8]?, ageMs: UInt64) {
            self.value = value
            self.ageMs = ageMs
        }
        public init(from r: inout WireReader) throws {
            value = try r.readOptional { try $0.readBytes() }
            ageMs = try r.readUInt64()
        }
        public func encode(to w: inout WireWriter) {
            w.writeOptional(value) { $0.writeBytes($1) }
            w.writeUInt64(ageMs)
        }
    }

    /// Stores a value. Reply: empty.
    public struct Put: WireMessage, Equatable {
        public static let type: UInt16 = 2
        public var key: String
        /// The model the value came from, so `Clear` can drop one model's entries.
        public var model: String
        public var value: [UInt8]
        /// Seconds to keep it; 0 for cached's default (CACHE_DEFAULT_TTL).
        public var ttlSeconds: UInt32
        public init(key: String, model: String, value: [UInt8], ttlSeconds: UInt32 = 0) {
            self.key = key
            self.model = model
            self.value = value
            self.ttlSeconds = ttlSeconds
        }
        public init(from r: inout WireReader) throws {
            key = try r.readString(maxLength: 1024)
            model = try r.readString(maxLength: 256)
            value = try r.readBytes()
            ttlSeconds = try r.readUInt32()
        }
        public func encode(to w: inout WireWriter) {
            w.writeString(key)
            w.writeString(model)
            w.writeBytes(value)
            w.writeUInt32(ttlSeconds)
        }
    }

    /// Drops every entry, or one model's. Reply: `ClearReply`.
    public struct Clear: WireMessage, Equatable {
        public static let type: UInt16 = 3
        public var model: String?
        public init(model: String?) { self.model = model }
        public init(from r: inout WireReader) throws { model = try r.readOptional { try $0.readString(maxLength: 256) } }
        public func encode(to w: inout WireWriter) { w.writeOptional(model) { $0.writeString($1) } }
    }

    public struct ClearReply: WireCodable, Equatable {
        public var removed: UInt64
        public init(removed: UInt64) { self.removed = removed }
        public init(from r: inout WireReader) throws { removed = try r.readUInt64() }
        public func encode(to w: inout WireWriter) { w.writeUInt64(removed) }
    }

    /// Asks for cached's figures. Reply: `StatsReply`.
    public struct Stats: WireMessage, Equatable {
        public static let type: UInt16 = 4
        public init() {}
        public init(from r: inout WireReader) throws {}
        public func encode(to w: inout WireWriter) {}
    }

    /// cached's figures since it started: its size, bounds and every lookup it answered.
    public struct StatsReply: WireCodable, Equatable {
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

        public init(entries: UInt64, bytes: UInt64, maxEntries: UInt64, maxBytes: UInt64, hits: UInt64, misses: UInt64, evictions: UInt64) {
            self.entries = entries
            self.bytes = bytes
            self.maxEntries = maxEntries
            self.maxBytes = maxBytes
            self.hits = hits
            self.misses = misses
            self.evictions = evictions
        }
        public init(from r: inout WireReader) throws {
            entries = try r.readUInt64()
            bytes = try r.readUInt64()
            maxEntries = try r.readUInt64()
            maxBytes = try r.readUInt64()
            hits = try r.readUInt64()
            misses = try r.readUInt64()
            evictions = try r.readUInt64()
        }
        public func encode(to w: inout WireWriter) {
            for v in [entries, bytes, maxEntries, maxBytes, hits, misses, evictions] { w.writeUInt64(v) }
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

    public func clear(model: String?, timeout: Duration) async throws -> UInt64 {
        try await client.call(CacheProtocol.Clear(model: model), returning: CacheProtocol.ClearReply.self, timeout: timeout).removed
    }

    /// cached's size, bounds and lookup counts.
    public func stats(timeout: Duration) async throws -> CacheProtocol.StatsReply {
        try await client.call(CacheProtocol.Stats(), returning: CacheProtocol.StatsReply.self, timeout: timeout)
    }
}
