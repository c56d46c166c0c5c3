/// Where cached keeps entries: `CACHE_BACKEND` (``CacheTiers`` routes each call by it).
enum CacheBackend: String, CaseIterable, Sendable {
    /// In this process's memory (kept across restarts by the snapshot).
    case memory
    /// In a Redis server every host shares (`REDIS_URL`); memory only stands in while Redis is down.
    case redis
    /// Memory in front of Redis: hits from memory first, then Redis; stores go to both.
    case tiered

    /// Whether the backend talks to Redis (and so needs `REDIS_URL`).
    var usesRedis: Bool { self != .memory }

    /// Reads a `CACHE_BACKEND` value, in any case.
    /// - Parameter text: The trimmed value.
    /// - Returns: The backend, or nil when it is unknown.
    static func parse(_ text: String) -> CacheBackend? {
        CacheBackend(rawValue: text.lowercased())
    }

    /// What `CACHE_BACKEND` accepts, for the error an operator sees.
    static let expectation = "one of memory, redis, tiered"
}
