// cached: the exact-match response cache. frontd looks each request up before queueing it and stores
// the answer after; entries go by LRU, TTL and a byte bound. See docs/cached.md.
import DaemonRuntime
import IPC
import Settings

let backend = Setting<CacheBackend>(
    name: "CACHE_BACKEND", default: .memory,
    meaning: "Where entries live: memory, in this process (redis, the shared tier, is not implemented yet).",
    expected: CacheBackend.expectation, describeDefault: \.rawValue, parse: CacheBackend.parseImplemented)
let maxEntries = Setting<Int>(
    name: "CACHE_MAX_SIZE", default: 1000,
    meaning: "Most entries kept; the least recently used go first.",
    range: 1...100_000_000)
let maxBytes = Setting<Int>(
    name: "CACHE_MAX_BYTES", default: 64 << 20,
    meaning: "Most key and value bytes kept; the least recently used go first, and a larger entry is not stored.",
    bytes: 1...(1 << 40))
let defaultTTL = Setting<Duration>(
    name: "CACHE_DEFAULT_TTL", default: .seconds(3600),
    meaning: "How long an entry is served when frontd gives no TTL of its own.",
    unit: .seconds, range: .seconds(1) ... .seconds(31_536_000))
let maxIndexed = Setting<Int>(
    name: "SEMANTIC_CACHE_MAX_ENTRIES", default: 10_000,
    meaning: "Most entries in the semantic index (those stored with a semantic key); the least recently stored or hit leave it first.",
    range: 1...10_000_000)

Daemon.run(
    name: "cached",
    settings: [backend, maxEntries, maxBytes, defaultTTL, maxIndexed],
    sockets: [.unix("cached")]
) { context in
    let cache = ResponseCache(
        maxEntries: context.settings[maxEntries], maxBytes: context.settings[maxBytes],
        defaultTTL: context.settings[defaultTTL], maxIndexed: context.settings[maxIndexed])
    let service = CacheService(listenFD: try context.listener("cached").fileDescriptor, cache: cache, logger: context.logger)
    try service.start()
    return service
}
