import Synchronization

/// An ``LRUCache`` shared by every call, with the default TTL applied: what ``CacheService`` consults.
final class ResponseCache: Sendable {
    /// The TTL of an entry stored without one (`CACHE_DEFAULT_TTL`).
    let defaultTTL: Duration
    private let cache: Mutex<LRUCache>

    /// An empty cache.
    /// - Parameters:
    ///   - maxEntries: Most entries kept (`CACHE_MAX_SIZE`).
    ///   - maxBytes: Most key and value bytes kept (`CACHE_MAX_BYTES`).
    ///   - defaultTTL: The TTL of an entry stored without one (`CACHE_DEFAULT_TTL`).
    init(maxEntries: Int, maxBytes: Int, defaultTTL: Duration) {
        self.defaultTTL = defaultTTL
        self.cache = Mutex(LRUCache(maxEntries: maxEntries, maxBytes: maxBytes))
    }

    /// Looks `key` up.
    /// - Parameters:
    ///   - key: The key.
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: What was found.
    func get(_ key: String, now: Int64) -> LRUCache.Lookup {
        cache.withLock { $0.get(key, now: now) }
    }

    /// Stores `value` under `key`.
    /// - Parameters:
    ///   - key: The key.
    ///   - model: The model the value came from.
    ///   - value: The value.
    ///   - ttlSeconds: Seconds to keep it; 0 for ``defaultTTL``.
    ///   - now: The current time in monotonic nanoseconds.
    /// - Returns: Whether it was stored, and what was evicted.
    func put(key: String, model: String, value: [UInt8], ttlSeconds: UInt32, now: Int64) -> LRUCache.StoreOutcome {
        let nanosecondsPerSecond: Int64 = 1_000_000_000
        let ttl = ttlSeconds == 0 ? defaultTTL.nanoseconds : Int64(ttlSeconds) * nanosecondsPerSecond
        return cache.withLock { $0.put(key: key, model: model, value: value, ttl: ttl, now: now) }
    }

    /// Drops every entry, or one model's.
    /// - Parameter model: The model, or nil for all.
    /// - Returns: How many entries were dropped.
    func clear(model: String?) -> Int {
        cache.withLock { $0.clear(model: model) }
    }

    /// Entries and bytes held now.
    var size: (entries: Int, bytes: Int) {
        cache.withLock { ($0.count, $0.bytes) }
    }

    /// The bounds: most entries and most bytes kept.
    var bounds: (entries: Int, bytes: Int) {
        cache.withLock { ($0.maxEntries, $0.maxBytes) }
    }
}
