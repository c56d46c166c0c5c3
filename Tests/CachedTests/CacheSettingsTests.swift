import IPC
import Testing
import TestKit

@testable import cached
import Settings

@Suite("Cache: settings")
struct CacheSettingsTests {
    static let sizes: [(String, Int?)] = [
        ("1048576", 1 << 20), ("64MiB", 64 << 20), ("64m", 64 << 20), ("512K", 512 << 10), ("1kib", 1024),
        ("2G", 2 << 30), ("10b", 10), ("16 MiB", 16 << 20),
        ("", nil), ("MiB", nil), ("-5", nil), ("1.5M", nil), ("12X", nil), ("1MB", nil), ("99999999999999999999", nil),
        ("9999999999999G", nil),
    ]

    @Test("byte sizes read plain numbers and binary suffixes", arguments: sizes)
    func byteSizes(text: String, bytes: Int?) {
        #expect(parseByteSize(text) == bytes)
    }

    @Test("byte sizes are written back with the largest exact suffix")
    func byteSizeFormat() {
        #expect(formatByteSize(64 << 20) == "64MiB")
        #expect(formatByteSize(1536) == "1536")
        #expect(formatByteSize(3 << 10) == "3KiB")
        #expect(formatByteSize(1 << 30) == "1GiB")
    }

    @Test("CACHE_MAX_BYTES rejects sizes out of range, naming the variable")
    func byteSetting() throws {
        let setting = Setting<Int>(name: "CACHE_MAX_BYTES", default: 64 << 20, meaning: "test", bytes: 1...(1 << 30))
        #expect(try setting.parse("") == 64 << 20)
        #expect(try setting.parse("2MiB") == 2 << 20)
        #expect(setting.defaultDescription == "64MiB")
        #expect(throws: ConfigError.self) { try setting.parse("2GiB") }
        do {
            _ = try setting.parse("0")
            Issue.record("0 bytes accepted")
        } catch {
            #expect(error.variables == ["CACHE_MAX_BYTES"])
        }
    }

    @Test("CACHE_BACKEND takes memory, redis or tiered in any case, nothing else")
    func backend() {
        #expect(CacheBackend.parse("memory") == .memory)
        #expect(CacheBackend.parse("MEMORY") == .memory)
        #expect(CacheBackend.parse("redis") == .redis)
        #expect(CacheBackend.parse("Tiered") == .tiered)
        #expect(CacheBackend.parse("memcached") == nil)
        #expect(!CacheBackend.memory.usesRedis && CacheBackend.redis.usesRedis && CacheBackend.tiered.usesRedis)
    }

    @Test("REDIS_URL takes the Redis client's forms and never echoes a password; CACHE_REDIS_PREFIX refuses braces")
    func redisSettings() throws {
        let url = try #require(try CacheSettings.redisURL.parse("redis://:s3cret@10.0.0.5:6380/2"))
        #expect(url.endpoint == .tcp(host: "10.0.0.5", port: 6380))
        #expect(url.database == 2)
        #expect(try CacheSettings.redisURL.parse("unix:///run/redis/redis.sock?db=1")?.database == 1)
        do {
            _ = try CacheSettings.redisURL.parse("http://:s3cret@host")
            Issue.record("an http URL was accepted")
        } catch {
            #expect(!error.description.contains("s3cret"))
            #expect(error.variables == ["REDIS_URL"])
        }
        #expect(try CacheSettings.redisPrefix.parse("prod:cache:") == "prod:cache:")
        #expect(throws: ConfigError.self) { try CacheSettings.redisPrefix.parse("{tag}:") }
    }
}
