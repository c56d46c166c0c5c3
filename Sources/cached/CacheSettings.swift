import Redis
import Settings

/// cached's settings table (docs/cached.md, SETTINGS; `cached --help=markdown` prints it).
enum CacheSettings {
    static let backend = Setting<CacheBackend>(
        name: "CACHE_BACKEND", default: .memory,
        meaning: "Where entries live: memory (this process), redis (a Redis server every host shares; memory only while it is down) or tiered (memory in front of Redis).",
        expected: CacheBackend.expectation, describeDefault: \.rawValue, parse: CacheBackend.parse)
    static let maxEntries = Setting<Int>(
        name: "CACHE_MAX_SIZE", default: 1000,
        meaning: "Most entries kept; the least recently used go first.",
        range: 1...100_000_000)
    static let maxBytes = Setting<Int>(
        name: "CACHE_MAX_BYTES", default: 64 << 20,
        meaning: "Most key and value bytes kept; the least recently used go first, and a larger entry is not stored.",
        bytes: 1...(1 << 40))
    static let defaultTTL = Setting<Duration>(
        name: "CACHE_DEFAULT_TTL", default: .seconds(3600),
        meaning: "How long an entry is served when frontd gives no TTL of its own.",
        unit: .seconds, range: .seconds(1) ... .seconds(31_536_000))
    static let maxIndexed = Setting<Int>(
        name: "SEMANTIC_CACHE_MAX_ENTRIES", default: 10_000,
        meaning: "Most entries in the semantic index (those stored with a semantic key); the least recently stored or hit leave it first.",
        range: 1...10_000_000)
    static let stateDirectory = Setting<String?>.firstPath(
        name: "CACHE_STATE_DIR",
        meaning: "Where cached keeps its snapshot for warm restarts; unset: STATE_DIRECTORY, and without either no snapshot is kept.")
    static let systemdStateDirectory = Setting<String?>.firstPath(
        name: "STATE_DIRECTORY",
        meaning: "Set by systemd from StateDirectory= (the first path when it lists several); used when CACHE_STATE_DIR is unset.")
    static let snapshotInterval = Setting<Duration>(
        name: "CACHE_SNAPSHOT_INTERVAL", default: .seconds(30),
        meaning: "How often the snapshot is rewritten when the cache changed (and always on drain); 0: only on drain.",
        unit: .seconds, range: .zero ... .seconds(86_400))

    static let redisURL = Setting<RedisURL?>.optional(
        name: "REDIS_URL", meaning: "The Redis server of CACHE_BACKEND=redis or tiered (required by them; the same form as limitd's).",
        expected: RedisURL.forms, secret: true) { try? RedisURL(parsing: $0) }
    static let redisPrefix = Setting<String>(
        name: "CACHE_REDIS_PREFIX", default: "infer:cache:",
        meaning: "What every key cached writes in Redis starts with (hosts that share a cache use the same one).",
        expected: "text without braces", isValid: RedisKeys.isValidPrefix)
    static let redisTimeout = Setting<Duration>(
        name: "CACHE_REDIS_TIMEOUT_MS", default: .milliseconds(100),
        meaning: "How long a Redis call may take before cached answers from memory instead (under frontd's DEPENDENCY_TIMEOUT_MS).",
        unit: .milliseconds, range: .milliseconds(1) ... .seconds(60))
    static let groupRefresh = Setting<Duration>(
        name: "CACHE_SEMANTIC_REFRESH_MS", default: .milliseconds(1000),
        meaning: "Least time between two reloads of a semantic group from Redis after a semantic miss (redis and tiered).",
        unit: .milliseconds, range: .zero ... .seconds(3600))

    static let table: [AnySetting] = [
        backend, maxEntries, maxBytes, defaultTTL, maxIndexed, stateDirectory, systemdStateDirectory, snapshotInterval,
        redisURL, redisPrefix, redisTimeout, groupRefresh,
    ]
}
