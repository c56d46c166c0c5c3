import Redis

/// cached's data in Redis (the shared tier of `CACHE_BACKEND=redis` and `tiered`): entries with their
/// TTL kept by Redis (PX), a per-model index for `Clear(model)`, per-group hashes of semantic keys, claims
/// (SET NX PX), and a counter of clears. Every call is one pipelined round trip, except a clear and a
/// group refresh, which take two or three.
///
/// Errors are thrown as they come (``RedisError``); what to do when Redis is down is ``CacheTiers``'s.
final class RedisTier: Sendable {
    let client: RedisClient
    let keys: RedisKeys
    /// Most keys per DEL or HMGET, so no single command holds the server for long.
    private static let batch = 512

    /// A tier on `client`.
    /// - Parameters:
    ///   - client: The connection (shared by every call).
    ///   - prefix: `CACHE_REDIS_PREFIX`.
    init(client: RedisClient, prefix: String) {
        self.client = client
        keys = RedisKeys(prefix: prefix)
    }

    /// The entry under `key`, or nil (none, or written by something else).
    func get(_ key: String) async throws -> RedisEntry? {
        try await client.get(keys.entry(key)).flatMap(RedisEntry.init(decoding:))
    }

    /// Stores `entry` under `key` for `ttlMs`, ends any claim on it, and indexes it by model (and group).
    /// - Parameters:
    ///   - key: The cache key.
    ///   - entry: The entry.
    ///   - ttlMs: Milliseconds until it expires (at least 1).
    func put(_ key: String, _ entry: RedisEntry, ttlMs: Int64) async throws {
        let ttl = max(1, ttlMs)
        var commands = [
            RedisCommand("SET", keys.entry(key), entry.encoded, "PX", ttl),
            RedisCommand("DEL", keys.claim(key)),
            RedisCommand("ZADD", keys.model(entry.model), entry.expiresAtMs, key),
            RedisCommand("ZREMRANGEBYSCORE", keys.model(entry.model), "-inf", "(\(entry.storedAtMs)"),
            RedisCommand("SADD", keys.models, entry.model),
        ] + Self.extendExpiry(keys.model(entry.model), ttl)
        if let semantic = entry.semantic {
            var withoutValue = entry
            withoutValue.value = []
            commands += [
                RedisCommand("HSET", keys.group(semantic.group), key, withoutValue.encoded),
                RedisCommand("SADD", keys.groups, semantic.group),
            ] + Self.extendExpiry(keys.group(semantic.group), ttl)
        }
        try Self.check(try await client.pipeline(commands))
    }

    /// Claims `key` for `leaseMs` unless another host or caller holds it.
    /// - Returns: Whether it was granted, and how long the holder's claim has left.
    func claim(_ key: String, leaseMs: Int64) async throws -> (granted: Bool, remainingMs: Int64) {
        let name = keys.claim(key)
        let replies = try await client.pipeline([
            RedisCommand("SET", name, "1", "NX", "PX", max(1, leaseMs)),
            RedisCommand("PTTL", name),
        ])
        try Self.check(replies)
        let granted = !replies[0].isNull
        return (granted, granted ? 0 : max(0, replies[1].integer ?? 0))
    }

    /// Drops one model's entries, or every entry, and moves the clears counter on.
    /// - Parameter model: The model, or nil for all.
    /// - Returns: Entries removed, and the clears counter's new value.
    func clear(model: String?) async throws -> (removed: Int, clears: Int64) {
        let models: [String]
        if let model {
            models = [model]
        } else {
            models = try await client.send("SMEMBERS", keys.models).array?.compactMap(\.string) ?? []
        }
        var removed = 0
        for model in models {
            let members = try await client.send("ZRANGE", keys.model(model), 0, -1).array?.compactMap(\.string) ?? []
            for start in stride(from: 0, to: members.count, by: Self.batch) {
                let names = members[start..<min(start + Self.batch, members.count)].map { keys.entry($0) as any RedisArgument }
                removed += Int(try await client.del(names))
            }
            try Self.check(try await client.pipeline([
                RedisCommand("DEL", keys.model(model)), RedisCommand("SREM", keys.models, model),
            ]))
        }
        if model == nil {
            let groups = try await client.send("SMEMBERS", keys.groups).array?.compactMap(\.string) ?? []
            try Self.check(try await client.pipeline(groups.map { RedisCommand("DEL", keys.group($0)) } + [RedisCommand("DEL", keys.groups)]))
        }
        return (removed, try await client.incrBy(keys.clears))
    }

    /// The clears counter (0 before the first clear).
    func clears() async throws -> Int64 {
        guard let bytes = try await client.get(keys.clears) else { return 0 }
        return Int64(String(decoding: bytes, as: UTF8.self)) ?? 0
    }

    /// The semantic keys of `group` this host does not index yet, for its index; expired ones are deleted
    /// from the group's hash on the way.
    /// - Parameters:
    ///   - group: The semantic group.
    ///   - nowMs: The wall clock, in milliseconds.
    ///   - isKnown: Whether a key is indexed here already (those are not fetched).
    /// - Returns: Each unknown live entry (without its value).
    func groupEntries(_ group: String, nowMs: Int64, isKnown: (String) -> Bool) async throws -> [(key: String, entry: RedisEntry)] {
        let name = keys.group(group)
        let all = try await client.send("HKEYS", name).array?.compactMap(\.string) ?? []
        let unknown = all.filter { !isKnown($0) }
        var found: [(key: String, entry: RedisEntry)] = []
        var expired: [String] = []
        for start in stride(from: 0, to: unknown.count, by: Self.batch) {
            let chunk = Array(unknown[start..<min(start + Self.batch, unknown.count)])
            let reply = try await client.send(RedisCommand("HMGET", arguments: [name] + chunk))
            for (key, value) in zip(chunk, reply.array ?? []) {
                guard let bytes = value.bytes, let entry = RedisEntry(decoding: bytes), entry.semantic != nil else { continue }
                if entry.expiresAtMs <= nowMs {
                    expired.append(key)
                } else {
                    found.append((key, entry))
                }
            }
        }
        if !expired.isEmpty {
            _ = try await client.send(RedisCommand("HDEL", arguments: [name] + expired))
        }
        return found
    }

    /// PEXPIRE NX then GT: an index key lives as long as its longest-lived entry, and no longer.
    private static func extendExpiry(_ name: String, _ ttlMs: Int64) -> [RedisCommand] {
        [RedisCommand("PEXPIRE", name, ttlMs, "NX"), RedisCommand("PEXPIRE", name, ttlMs, "GT")]
    }

    /// Throws the first error reply of a pipeline.
    private static func check(_ replies: [RESPValue]) throws {
        if let message = replies.lazy.compactMap(\.errorMessage).first {
            throw CacheRedisError(message: message)
        }
    }
}

/// An error reply inside a pipeline (a WRONGTYPE on a key someone else wrote under the prefix, an
/// out-of-memory server).
struct CacheRedisError: Error, CustomStringConvertible {
    let message: String
    var description: String { "Redis: \(message)" }
}
