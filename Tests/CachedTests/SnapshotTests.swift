import Foundation
import Glibc
import Testing
import TestKit

@testable import cached

@Suite("Cache: snapshots for warm restarts")
struct SnapshotTests {
    private static let clocks = ClockPair(monotonic: 5_000 * second, wall: 1_700_000_000 * second)

    private static func records() -> [SnapshotRecord] {
        [
            SnapshotRecord(key: "plain", stored: .init(model: "m", value: [1, 2, 3]), storedAt: clocks.wall - second,
                           expiresAt: clocks.wall + 60 * second, semantic: nil),
            SnapshotRecord(key: "semantic", stored: .init(model: "m", value: Array("answer".utf8)), storedAt: clocks.wall - 2 * second,
                           expiresAt: .max, semantic: .init(group: "g", vector: [0.6, 0.8])),
            SnapshotRecord(key: "in redis", stored: nil, storedAt: clocks.wall, expiresAt: clocks.wall + second,
                           semantic: .init(group: "g", vector: [1, 0])),
        ]
    }

    @Test("CRC-32C of the standard check string, and of bytes fed in pieces")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var pieces = CRC32C()
        for chunk in stride(from: 0, to: bytes.count, by: 7) { pieces.update(Array(bytes[chunk..<min(chunk + 7, bytes.count)])) }
        #expect(pieces.value == CRC32C.checksum(bytes))
    }

    @Test("a snapshot written is read back record for record")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        let file = SnapshotFile(directory: directory.path)
        try file.prepare()
        try file.write(Self.records(), writtenAt: Self.clocks.wall)
        guard case .records(let writtenAt, let records, _) = file.load(maxSize: 1 << 20) else {
            Issue.record("not loaded")
            return
        }
        #expect(writtenAt == Self.clocks.wall)
        #expect(records == Self.records())
        #expect(!FileManager.default.fileExists(atPath: file.temporaryPath))
    }

    @Test("any flipped byte, a truncation or an oversized file is detected, the file set aside, nothing loaded")
    func corruption() throws {
        let directory = try TemporaryDirectory()
        let file = SnapshotFile(directory: directory.path)
        try file.prepare()
        try file.write(Self.records(), writtenAt: Self.clocks.wall)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file.path)))
        // Every byte of the file, each flipped alone.
        for index in good.indices {
            var bad = good
            bad[index] ^= 0x40
            #expect(throws: SnapshotCodec.Corrupt.self, "byte \(index)") { try SnapshotCodec.decode(bad) }
        }
        // A torn write: every shorter prefix.
        for length in [0, 5, SnapshotCodec.headerSize, good.count / 2, good.count - 1] {
            #expect(throws: SnapshotCodec.Corrupt.self, "\(length) bytes") { try SnapshotCodec.decode(Array(good[0..<length])) }
        }
        try Data(good[0..<(good.count - 3)]).write(to: URL(fileURLWithPath: file.path))
        guard case .dropped(let reason) = file.load(maxSize: 1 << 20) else {
            Issue.record("a torn file was not dropped")
            return
        }
        #expect(reason.contains("checksum") || reason.contains("short"), "\(reason)")
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(FileManager.default.fileExists(atPath: file.corruptPath))
        // Nothing there now: a fresh start.
        guard case .none = file.load(maxSize: 1 << 20) else {
            Issue.record("a dropped file was read again")
            return
        }
        try file.write(Self.records(), writtenAt: Self.clocks.wall)
        guard case .dropped(let oversized) = file.load(maxSize: 10) else {
            Issue.record("a file larger than the bounds allow was read")
            return
        }
        #expect(oversized.contains("more than"))
    }

    @Test("restoring keeps ages, TTLs, recency and the semantic index; expired records are skipped")
    func restore() throws {
        // Written 10 s before this start: "plain" (60 s TTL) has 50 s left; "in redis" (1 s TTL) is gone.
        let later = ClockPair(monotonic: 7 * second, wall: Self.clocks.wall + 10 * second)
        let cache = ResponseCache(maxEntries: 10, maxBytes: 1 << 20, defaultTTL: .seconds(60))
        let (loaded, expired) = cache.restore(Self.records(), at: later)
        #expect(loaded == 2 && expired == 1)
        #expect(cache.get("plain", now: later.monotonic) == .hit(value: [1, 2, 3], age: 11 * second))
        #expect(cache.get("plain", now: later.monotonic + 50 * second) == .expired)
        let match = cache.semanticGet(
            group: "g", vector: try #require(UnitVector([0.6, 0.8])), threshold: 0.99, maxAge: 0, now: later.monotonic)
        #expect(match.value == Array("answer".utf8))
        #expect(match.search.age == 12 * second)
        #expect(!cache.isIndexed("in redis"))

        // Taken again, the records are the same (the expired one aside), least recently used first.
        let again = cache.snapshotRecords(at: later).records
        #expect(again.map(\.key) == ["semantic"])
        #expect(again.first?.semantic == SnapshotRecord.Semantic(group: "g", vector: [0.6, 0.8]))
    }

    @Test("recency survives: the least recently used before the snapshot is the first evicted after it")
    func recency() throws {
        let cache = ResponseCache(maxEntries: 3, maxBytes: 1 << 20, defaultTTL: .seconds(60))
        for key in ["a", "b", "c"] { _ = cache.put(key: key, model: "m", value: [1], ttlSeconds: 0, now: second) }
        _ = cache.get("a", now: 2 * second)
        let records = cache.snapshotRecords(at: ClockPair(monotonic: 2 * second, wall: Self.clocks.wall)).records
        #expect(records.map(\.key) == ["b", "c", "a"])
        let restored = ResponseCache(maxEntries: 3, maxBytes: 1 << 20, defaultTTL: .seconds(60))
        _ = restored.restore(records, at: ClockPair(monotonic: second, wall: Self.clocks.wall + second))
        _ = restored.put(key: "d", model: "m", value: [1], ttlSeconds: 0, now: 2 * second)
        #expect(restored.get("b", now: 2 * second) == .miss)
        #expect(restored.get("a", now: 2 * second) != .miss)
    }
}

@Suite("Cache: entries as Redis holds them")
struct RedisEntryTests {
    @Test("an entry round-trips with and without a semantic key; bytes it did not write are refused")
    func roundTrip() throws {
        let semantic = RedisEntry(storedAtMs: 1_700_000_000_000, expiresAtMs: 1_700_000_060_000, model: "smollm2",
                                  semantic: .init(group: "g", vector: [0.6, 0.8]), value: [0, 255, 13, 10])
        #expect(RedisEntry(decoding: semantic.encoded) == semantic)
        var plain = semantic
        plain.semantic = nil
        plain.value = []
        #expect(RedisEntry(decoding: plain.encoded) == plain)
        let bytes = semantic.encoded
        #expect(RedisEntry(decoding: []) == nil)
        #expect(RedisEntry(decoding: [2] + bytes.dropFirst()) == nil, "another version")
        // Cut inside the header, the model or the vector: refused, never misread.
        for length in [1, 9, 17, 20, 30] {
            #expect(RedisEntry(decoding: Array(bytes.prefix(length))) == nil, "\(length) bytes")
        }
        #expect(RedisKeys(prefix: "p:").entry("k") == "p:{k}")
        #expect(RedisKeys(prefix: "p:").claim("k") == "p:claim:{k}")
        #expect(!RedisKeys.isValidPrefix("a{b"))
    }
}
