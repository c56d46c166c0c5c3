import Testing
import TestKit

@testable import cached

@Suite("Cache: LRU with TTL and bounds")
struct LRUCacheTests {
    private static let hour: Int64 = 3_600 * second

    private func bytes(_ count: Int, _ fill: UInt8 = 1) -> [UInt8] { [UInt8](repeating: fill, count: count) }

    @Test("hits move an entry to the front; the least recently used goes first")
    func recencyOrder() {
        var cache = LRUCache(maxEntries: 3, maxBytes: 1 << 20)
        for key in ["a", "b", "c"] {
            #expect(cache.put(key: key, model: "m", value: bytes(4), ttl: Self.hour, now: 0) == .stored(evicted: 0, expired: 0))
        }
        #expect(cache.keysByRecency == ["c", "b", "a"])
        #expect(cache.get("a", now: 1) == .hit(value: bytes(4), age: 1))
        #expect(cache.keysByRecency == ["a", "c", "b"])
        #expect(cache.get("zzz", now: 1) == .miss)
        // "b" is now the least recently used.
        #expect(cache.put(key: "d", model: "m", value: bytes(4), ttl: Self.hour, now: 2) == .stored(evicted: 1, expired: 0))
        #expect(cache.keysByRecency == ["d", "a", "c"])
        #expect(cache.get("b", now: 3) == .miss)
        #expect(cache.count == 3)
    }

    @Test("an entry expires after its TTL: a miss, and removed")
    func ttlExpiry() {
        let clock = ManualClock()
        var cache = LRUCache(maxEntries: 10, maxBytes: 1 << 20)
        _ = cache.put(key: "k", model: "m", value: bytes(3), ttl: 10 * second, now: clock.now)
        clock.advance(by: 10 * second - 1)
        #expect(cache.get("k", now: clock.now) == .hit(value: bytes(3), age: 10 * second - 1))
        clock.advance(by: 1)
        #expect(cache.get("k", now: clock.now) == .expired)
        #expect(!cache.contains("k"))
        #expect(cache.count == 0)
        #expect(cache.bytes == 0)
        #expect(cache.get("k", now: clock.now) == .miss)
    }

    @Test("an expired entry evicted for room is told apart from a live one")
    func expiredEvictionsCounted() {
        var cache = LRUCache(maxEntries: 2, maxBytes: 1 << 20)
        _ = cache.put(key: "short", model: "m", value: bytes(1), ttl: second, now: 0)
        _ = cache.put(key: "long", model: "m", value: bytes(1), ttl: Self.hour, now: 0)
        #expect(cache.put(key: "new", model: "m", value: bytes(1), ttl: Self.hour, now: 2 * second) == .stored(evicted: 1, expired: 1))
        #expect(cache.put(key: "newer", model: "m", value: bytes(1), ttl: Self.hour, now: 2 * second) == .stored(evicted: 1, expired: 0))
        #expect(cache.keysByRecency == ["newer", "new"])
    }

    @Test("the byte bound evicts least recently used entries until the new one fits")
    func byteBound() {
        // An entry's size is its key's bytes plus its value's: "k1" + 48 bytes = 50.
        var cache = LRUCache(maxEntries: 100, maxBytes: 120)
        _ = cache.put(key: "k1", model: "m", value: bytes(48), ttl: Self.hour, now: 0)
        _ = cache.put(key: "k2", model: "m", value: bytes(48), ttl: Self.hour, now: 0)
        #expect(cache.bytes == 100)
        _ = cache.get("k1", now: 0)
        // 100 + 50 > 120: the least recently used (k2) goes.
        #expect(cache.put(key: "k3", model: "m", value: bytes(48), ttl: Self.hour, now: 0) == .stored(evicted: 1, expired: 0))
        #expect(cache.keysByRecency == ["k3", "k1"])
        #expect(cache.bytes == 100)
        // One entry needing nearly everything pushes out both others.
        #expect(cache.put(key: "big", model: "m", value: bytes(117), ttl: Self.hour, now: 0) == .stored(evicted: 2, expired: 0))
        #expect(cache.keysByRecency == ["big"])
        #expect(cache.bytes == 120)
    }

    @Test("an entry larger than the byte bound is not stored, and does not evict anything")
    func tooLarge() {
        var cache = LRUCache(maxEntries: 100, maxBytes: 100)
        _ = cache.put(key: "small", model: "m", value: bytes(10), ttl: Self.hour, now: 0)
        // "huge" + 97 bytes = 101, one byte over.
        #expect(cache.put(key: "huge", model: "m", value: bytes(97), ttl: Self.hour, now: 0) == .tooLarge)
        #expect(cache.keysByRecency == ["small"])
        // Replacing a key with a value too large drops the old value rather than serve it stale.
        #expect(cache.put(key: "small", model: "m", value: bytes(200), ttl: Self.hour, now: 0) == .tooLarge)
        #expect(cache.get("small", now: 0) == .miss)
        #expect(cache.count == 0 && cache.bytes == 0)
    }

    @Test("the entry bound holds")
    func entryBound() {
        var cache = LRUCache(maxEntries: 50, maxBytes: 1 << 20)
        for index in 0..<500 {
            _ = cache.put(key: "key\(index)", model: "m\(index % 3)", value: bytes(index % 7), ttl: Self.hour, now: Int64(index))
            #expect(cache.count <= 50)
        }
        #expect(cache.count == 50)
        #expect(cache.keysByRecency.first == "key499")
        #expect(cache.keysByRecency.last == "key450")
        #expect(cache.entriesByModel.values.reduce(0, +) == 50)
    }

    @Test("storing under an existing key updates it in place: new value, age, TTL, size and model")
    func updateInPlace() {
        var cache = LRUCache(maxEntries: 10, maxBytes: 1 << 20)
        _ = cache.put(key: "k", model: "old", value: bytes(10), ttl: second, now: 0)
        _ = cache.put(key: "other", model: "old", value: bytes(1), ttl: Self.hour, now: 0)
        #expect(cache.put(key: "k", model: "new", value: bytes(4, 9), ttl: Self.hour, now: 5 * second) == .stored(evicted: 0, expired: 0))
        #expect(cache.count == 2)
        #expect(cache.bytes == (1 + 4) + (5 + 1))
        #expect(cache.keysByRecency == ["k", "other"])
        #expect(cache.entriesByModel == ["new": 1, "old": 1])
        // The new TTL counts from the update, so the old one (1 s) no longer applies.
        #expect(cache.get("k", now: 7 * second) == .hit(value: bytes(4, 9), age: 2 * second))
        #expect(cache.clear(model: "new") == 1)
        #expect(cache.keysByRecency == ["other"])
    }

    @Test("clear drops one model's entries, or all")
    func clearByModel() {
        var cache = LRUCache(maxEntries: 100, maxBytes: 1 << 20)
        for index in 0..<30 {
            _ = cache.put(key: "k\(index)", model: ["llama", "bert", "gpt"][index % 3], value: bytes(2), ttl: Self.hour, now: 0)
        }
        #expect(cache.clear(model: "bert") == 10)
        #expect(cache.clear(model: "bert") == 0)
        #expect(cache.clear(model: "unknown") == 0)
        #expect(cache.entriesByModel == ["llama": 10, "gpt": 10])
        #expect(cache.count == 20)
        let kept = (0..<30).filter { $0 % 3 != 1 }
        #expect(cache.bytes == kept.reduce(0) { $0 + "k\($1)".utf8.count + 2 })
        #expect(cache.get("k1", now: 0) == .miss)
        #expect(cache.get("k0", now: 0) == .hit(value: bytes(2), age: 0))
        // Slots freed by the clear are reused.
        _ = cache.put(key: "fresh", model: "bert", value: bytes(1), ttl: Self.hour, now: 0)
        #expect(cache.entriesByModel["bert"] == 1)
        #expect(cache.clear(model: nil) == 21)
        #expect(cache.count == 0 && cache.bytes == 0)
        #expect(cache.keysByRecency.isEmpty)
        #expect(cache.entriesByModel.isEmpty)
        _ = cache.put(key: "again", model: "m", value: bytes(1), ttl: Self.hour, now: 0)
        #expect(cache.keysByRecency == ["again"])
    }

    @Test("random operations keep the lists, counts and bounds consistent with a simple model")
    func randomisedAgainstModel() {
        var generator = SeededRandom(seed: 7)
        var cache = LRUCache(maxEntries: 20, maxBytes: 400)
        // The model: keys by recency (most recent first), with model, size and expiry.
        var reference: [(key: String, model: String, size: Int, expiresAt: Int64)] = []
        var now: Int64 = 0
        for _ in 0..<5_000 {
            now += Int64(generator.next() % 100) * millisecond
            let key = "k\(generator.next() % 40)"
            switch generator.next() % 10 {
            case 0..<5:
                let model = "m\(generator.next() % 3)"
                let value = [UInt8](repeating: 0, count: Int(generator.next() % 60))
                let ttl = Int64(1 + generator.next() % 3) * second
                let size = key.utf8.count + value.count
                reference.removeAll { $0.key == key }
                let outcome = cache.put(key: key, model: model, value: value, ttl: ttl, now: now)
                if size > 400 {
                    #expect(outcome == .tooLarge)
                    continue
                }
                reference.insert((key, model, size, now + ttl), at: 0)
                var evicted = 0
                var expired = 0
                while reference.count > 20 || reference.reduce(0, { $0 + $1.size }) > 400 {
                    if let last = reference.popLast(), now >= last.expiresAt { expired += 1 }
                    evicted += 1
                }
                #expect(outcome == .stored(evicted: evicted, expired: expired))
            case 5..<9:
                let result = cache.get(key, now: now)
                if let position = reference.firstIndex(where: { $0.key == key }) {
                    if now >= reference[position].expiresAt {
                        #expect(result == .expired)
                        reference.remove(at: position)
                    } else {
                        #expect(result != .miss && result != .expired)
                        reference.insert(reference.remove(at: position), at: 0)
                    }
                } else {
                    #expect(result == .miss)
                }
            default:
                let model = "m\(generator.next() % 3)"
                let removed = cache.clear(model: model)
                #expect(removed == reference.filter { $0.model == model }.count)
                reference.removeAll { $0.model == model }
            }
            #expect(cache.keysByRecency == reference.map(\.key))
            #expect(cache.count == reference.count)
            #expect(cache.bytes == reference.reduce(0) { $0 + $1.size })
        }
        var byModel: [String: Int] = [:]
        for entry in reference { byModel[entry.model, default: 0] += 1 }
        #expect(cache.entriesByModel == byModel)
    }
}
