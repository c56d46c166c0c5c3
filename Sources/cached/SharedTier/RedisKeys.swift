/// The names cached gives its data in Redis, all under `CACHE_REDIS_PREFIX` (so several clusters or
/// environments can share one server, and an operator can find them with `SCAN MATCH prefix*`).
///
/// An entry and its claim share a hash tag, the cache key in braces, so a Redis Cluster would keep them in
/// one slot; every other name has its own. The prefix itself may not contain braces (checked at start).
struct RedisKeys: Sendable {
    /// `CACHE_REDIS_PREFIX`.
    let prefix: String

    /// The entry: a string holding a ``RedisEntry``, with the entry's TTL (PX).
    func entry(_ key: String) -> String { prefix + "{" + key + "}" }
    /// Who is filling the key: SET NX PX, cleared by the fill's store.
    func claim(_ key: String) -> String { prefix + "claim:{" + key + "}" }
    /// A model's entries: a sorted set of cache keys scored by expiry (ms), for `Clear(model)`.
    func model(_ model: String) -> String { prefix + "model:" + model }
    /// Every model with entries (a set), for `Clear` of everything.
    var models: String { prefix + "models" }
    /// A semantic group: a hash from cache key to the entry's ``RedisEntry`` without its value, from which
    /// another host rebuilds its index of the group.
    func group(_ group: String) -> String { prefix + "group:" + group }
    /// Every semantic group (a set), for `Clear` of everything.
    var groups: String { prefix + "groups" }
    /// A counter moved on by every `Clear`: hosts watch it to empty their memory tier too.
    var clears: String { prefix + "clears" }

    /// Whether `prefix` can be used: no braces, which would change the hash tags.
    static func isValidPrefix(_ prefix: String) -> Bool {
        !prefix.contains("{") && !prefix.contains("}")
    }
}
