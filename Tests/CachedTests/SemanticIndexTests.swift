import Glibc
import Testing
import TestKit

@testable import cached

@Suite("Cache: the semantic index")
struct SemanticIndexTests {
    private static let hour: Int64 = 3_600 * second

    /// A unit vector of `dimension` pointing mostly along axis `axis`, tilted towards axis `axis + 1` by
    /// `tilt` radians: two of them with the same axis have cosine `cos(tilt1 - tilt2)`.
    static func vector(axis: Int, tilt: Float = 0, dimension: Int = 384) -> UnitVector {
        var components = [Float](repeating: 0, count: dimension)
        components[axis] = Float(cos(Double(tilt)))
        components[(axis + 1) % dimension] = Float(sin(Double(tilt)))
        return UnitVector(components)!
    }

    @Test("vectors are checked and normalised; empty, zero and non-finite ones are refused")
    func unitVectors() throws {
        let scaled = try #require(UnitVector([3, 4]))
        #expect(scaled.dimension == 2)
        #expect(scaled.padded.count == 16)
        #expect(abs(scaled.padded[0] - 0.6) < 1e-6 && abs(scaled.padded[1] - 0.8) < 1e-6)
        #expect(scaled.padded[2...].allSatisfy { $0 == 0 })
        #expect(UnitVector([]) == nil)
        #expect(UnitVector([0, 0, 0]) == nil)
        #expect(UnitVector([1, .nan]) == nil)
        #expect(UnitVector([1, .infinity]) == nil)
        #expect(UnitVector([Float](repeating: 1, count: 4097)) == nil)
    }

    @Test("the SIMD dot product equals a plain loop for every stride", arguments: [16, 32, 48, 64, 80, 384, 400])
    func dotProduct(dimension: Int) throws {
        var state: UInt64 = 42
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        let a = (0..<dimension).map { _ in next() }, b = (0..<dimension).map { _ in next() }
        let stride = UnitVector.stride(for: dimension)
        #expect(stride == dimension)
        var plain: Double = 0
        for index in 0..<dimension { plain += Double(a[index]) * Double(b[index]) }
        let simd = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in UnitVector.dot(pa.baseAddress!, pb.baseAddress!, stride: stride) }
        }
        #expect(abs(Double(simd) - plain) < 1e-3)
    }

    @Test("a search answers the most similar entry of its group above the threshold, and the best similarity on a miss")
    func bestMatch() {
        var index = SemanticIndex(maxEntries: 100)
        index.insert(key: "near", group: "g", vector: Self.vector(axis: 0, tilt: 0.1), storedAt: 0, expiresAt: Self.hour)
        index.insert(key: "far", group: "g", vector: Self.vector(axis: 0, tilt: 0.6), storedAt: 0, expiresAt: Self.hour)
        index.insert(key: "other", group: "g", vector: Self.vector(axis: 5), storedAt: 0, expiresAt: Self.hour)
        // The same direction in another group is never found from this one.
        index.insert(key: "elsewhere", group: "h", vector: Self.vector(axis: 0), storedAt: 0, expiresAt: Self.hour)

        let hit = index.search(group: "g", vector: Self.vector(axis: 0), threshold: 0.99, maxAge: 0, now: 5)
        #expect(hit.key == "near")
        #expect(abs(hit.best - Float(cos(0.1))) < 1e-5)
        #expect(hit.age == 5)

        let miss = index.search(group: "g", vector: Self.vector(axis: 0), threshold: 0.999, maxAge: 0, now: 5)
        #expect(miss.key == nil)
        #expect(abs(miss.best - Float(cos(0.1))) < 1e-5)

        let empty = index.search(group: "nobody", vector: Self.vector(axis: 0), threshold: 0.5, maxAge: 0, now: 5)
        #expect(empty == SemanticIndex.Search(best: -1, key: nil, age: 0))
        // A query of another dimension than the group's matches nothing.
        let result1 = index.search(group: "g", vector: Self.vector(axis: 0, dimension: 16), threshold: 0, maxAge: 0, now: 5)
        #expect(result1.key == nil)
    }

    @Test("expired entries and entries older than maxAge are not answered; expired ones leave the index")
    func ageAndExpiry() {
        var index = SemanticIndex(maxEntries: 100)
        index.insert(key: "old", group: "g", vector: Self.vector(axis: 0), storedAt: 0, expiresAt: 10 * second)
        index.insert(key: "young", group: "g", vector: Self.vector(axis: 0, tilt: 0.2), storedAt: 4 * second, expiresAt: Self.hour)
        // Any age: the closer, older one.
        let result2 = index.search(group: "g", vector: Self.vector(axis: 0), threshold: 0.9, maxAge: 0, now: 5 * second)
        #expect(result2.key == "old")
        // At most 2 s old: only the younger one qualifies.
        let young = index.search(group: "g", vector: Self.vector(axis: 0), threshold: 0.9, maxAge: 2 * second, now: 5 * second)
        #expect(young.key == "young")
        #expect(abs(young.best - Float(cos(0.2))) < 1e-5)
        // Past its TTL, the old one is gone for good.
        let result3 = index.search(group: "g", vector: Self.vector(axis: 0), threshold: 0.9, maxAge: 0, now: 10 * second)
        #expect(result3.key == "young")
        #expect(!index.contains("old"))
        #expect(index.count == 1)
    }

    @Test("the index is bounded: the least recently stored or hit entry leaves first")
    func bounded() {
        var index = SemanticIndex(maxEntries: 3)
        for axis in 0..<3 {
            let result4 = index.insert(key: "k\(axis)", group: "g", vector: Self.vector(axis: axis), storedAt: 0, expiresAt: Self.hour)
            #expect(result4 == 0)
        }
        // A hit on k0 makes k1 the least recent.
        let result5 = index.search(group: "g", vector: Self.vector(axis: 0), threshold: 0.9, maxAge: 0, now: 1)
        #expect(result5.key == "k0")
        let result6 = index.insert(key: "k3", group: "other", vector: Self.vector(axis: 3), storedAt: 1, expiresAt: Self.hour)
        #expect(result6 == 1)
        #expect(!index.contains("k1"))
        #expect(index.contains("k0") && index.contains("k2") && index.contains("k3"))
        #expect(index.count == 3)
        #expect(index.groupSizes == ["g": 2, "other": 1])
    }

    @Test("removal keeps the group's other entries findable; re-inserting a key moves it")
    func removal() {
        var index = SemanticIndex(maxEntries: 100)
        for axis in 0..<5 {
            index.insert(key: "k\(axis)", group: "g", vector: Self.vector(axis: axis), storedAt: 0, expiresAt: Self.hour)
        }
        let result7 = index.remove("k1")
        #expect(result7)
        let result8 = index.remove("k1")
        #expect(!result8)
        for axis in [0, 2, 3, 4] {
            let result9 = index.search(group: "g", vector: Self.vector(axis: axis), threshold: 0.99, maxAge: 0, now: 1)
            #expect(result9.key == "k\(axis)")
        }
        let result10 = index.search(group: "g", vector: Self.vector(axis: 1), threshold: 0.99, maxAge: 0, now: 1)
        #expect(result10.key == nil)
        // The same key again, in another group: it leaves the first.
        index.insert(key: "k4", group: "h", vector: Self.vector(axis: 4), storedAt: 0, expiresAt: Self.hour)
        #expect(index.groupSizes == ["g": 3, "h": 1])
        // Another dimension than the group's is refused.
        let result11 = index.insert(key: "k9", group: "g", vector: Self.vector(axis: 0, dimension: 16), storedAt: 0, expiresAt: Self.hour)
        #expect(result11 == nil)
        #expect(!index.contains("k9"))
        index.removeAll()
        #expect(index.count == 0)
        #expect(index.groupSizes.isEmpty)
    }

    @Test("entries leave the index when the exact cache evicts, expires or clears them")
    func followsTheExactCache() {
        let cache = ResponseCache(maxEntries: 2, maxBytes: 1 << 20, defaultTTL: .seconds(60))
        let semantic = { (axis: Int) in (group: "g", vector: Self.vector(axis: axis)) }
        #expect(cache.put(key: "a", model: "m", value: [1], ttlSeconds: 0, semantic: semantic(0), now: 0).indexed)
        #expect(cache.put(key: "b", model: "n", value: [2], ttlSeconds: 1, semantic: semantic(1), now: 0).indexed)
        #expect(cache.semanticGet(group: "g", vector: Self.vector(axis: 0), threshold: 0.9, maxAge: 0, now: 1).value == [1])
        // Capacity: "c" evicts the least recently used, "b".
        _ = cache.put(key: "c", model: "m", value: [3], ttlSeconds: 0, now: 2)
        #expect(!cache.isIndexed("b"))
        #expect(cache.size.indexed == 1)
        // Replaced without a semantic key: no longer findable by meaning.
        _ = cache.put(key: "a", model: "m", value: [4], ttlSeconds: 0, now: 3)
        #expect(!cache.isIndexed("a"))
        #expect(cache.semanticGet(group: "g", vector: Self.vector(axis: 0), threshold: 0.9, maxAge: 0, now: 3).value == nil)
        // Expiry, seen by an exact lookup.
        _ = cache.put(key: "d", model: "m", value: [5], ttlSeconds: 1, semantic: semantic(2), now: 3)
        #expect(cache.get("d", now: 3 + 2 * second) == .expired)
        #expect(!cache.isIndexed("d"))
        // Clearing one model, then everything.
        _ = cache.put(key: "e", model: "m", value: [6], ttlSeconds: 0, semantic: semantic(3), now: 4)
        _ = cache.put(key: "f", model: "n", value: [7], ttlSeconds: 0, semantic: semantic(4), now: 4)
        #expect(cache.clear(model: "m") >= 1)
        #expect(!cache.isIndexed("e") && cache.isIndexed("f"))
        _ = cache.clear(model: nil)
        #expect(cache.size.indexed == 0)
    }
}

@Suite("Cache: claims")
struct ClaimTableTests {
    @Test("a claim is granted once until its lease ends or the key is stored")
    func leases() {
        var claims = ClaimTable()
        let result12 = claims.claim("k", lease: 5 * second, now: 0)
        #expect(result12 == .granted)
        let result13 = claims.claim("k", lease: 5 * second, now: 2 * second)
        #expect(result13 == .heldBy(remaining: 3 * second))
        let result14 = claims.claim("other", lease: 5 * second, now: 2 * second)
        #expect(result14 == .granted)
        let result15 = claims.claim("k", lease: 5 * second, now: 5 * second)
        #expect(result15 == .granted)
        claims.release("k")
        let result16 = claims.claim("k", lease: 1, now: 5 * second)
        #expect(result16 == .granted)
    }

    @Test("a Put of the key ends its claim")
    func putReleases() {
        let cache = ResponseCache(maxEntries: 10, maxBytes: 1 << 20, defaultTTL: .seconds(60))
        #expect(cache.claim("k", lease: 10 * second, now: 0) == .granted)
        #expect(cache.claim("k", lease: 10 * second, now: 1) == .heldBy(remaining: 10 * second - 1))
        _ = cache.put(key: "k", model: "m", value: [1], ttlSeconds: 0, now: 2)
        #expect(cache.claim("k", lease: 10 * second, now: 3) == .granted)
    }

    @Test("expired claims are swept once the table grows, live ones kept")
    func sweep() {
        var claims = ClaimTable()
        for index in 0..<ClaimTable.sweepThreshold {
            _ = claims.claim("old\(index)", lease: second, now: 0)
        }
        #expect(claims.count == ClaimTable.sweepThreshold)
        // The next claim finds the table full and every old claim expired.
        let result17 = claims.claim("live", lease: 100 * second, now: 2 * second)
        #expect(result17 == .granted)
        #expect(claims.count == 1)
        let result18 = claims.claim("live", lease: second, now: 3 * second)
        #expect(result18 == .heldBy(remaining: 99 * second))
    }
}
