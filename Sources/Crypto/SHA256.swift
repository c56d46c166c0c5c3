/// SHA-256 (FIPS 180-4), for cache keys, API-key hashes and HMAC. Incremental: `update` any number of
/// times, then `finalize`.
///
/// Whole 64-byte blocks are compressed straight from the caller's buffer; only a partial block is
/// copied, into fixed storage inside the value, so hashing allocates nothing but the digest.
public struct SHA256: Sendable {
    /// Bytes in one block.
    public static let blockSize = 64
    /// Bytes in a digest.
    public static let digestSize = 32

    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    /// The bytes of an unfinished block (the first `pending` of its 64 are valid).
    private var partial: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var pending = 0
    /// Message length in bytes so far.
    private var length: UInt64 = 0

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public init() {}

    /// Adds bytes to the message.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            // A sequence without contiguous storage (a lazy map, a Set): gather it first.
            let copy = Array(bytes)
            copy.withUnsafeBytes { update($0) }
        }
    }

    /// Adds the bytes of a raw buffer to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        length &+= UInt64(bytes.count)
        var offset = 0
        if pending > 0 {
            // Complete the block begun by an earlier call.
            let have = pending
            let take = min(Self.blockSize - have, bytes.count)
            withUnsafeMutableBytes(of: &partial) { p in
                UnsafeMutableRawBufferPointer(rebasing: p[have..<have + take]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
            }
            pending = have + take
            offset = take
            guard pending == Self.blockSize else { return }
            let block = partial
            withUnsafeBytes(of: block) { compress(blocks: $0) }
            pending = 0
        }
        let whole = (bytes.count - offset) / Self.blockSize * Self.blockSize
        if whole > 0 { compress(blocks: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + whole])) }
        offset += whole
        let rest = bytes.count - offset
        if rest > 0 {
            let from = offset
            withUnsafeMutableBytes(of: &partial) { p in
                UnsafeMutableRawBufferPointer(rebasing: p[0..<rest]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[from..<from + rest]))
            }
            pending = rest
        }
    }

    /// The 32-byte digest of everything added. The value is spent afterwards: start a new one (or
    /// keep a copy from before `finalize`) to hash another message.
    public mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        let have = pending
        var tail = [UInt8](repeating: 0, count: have < 56 ? 64 : 128)
        withUnsafeBytes(of: partial) { p in
            for i in 0..<have { tail[i] = p[i] }
        }
        tail[have] = 0x80
        for i in 0..<8 { tail[tail.count - 1 - i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        tail.withUnsafeBytes { compress(blocks: $0) }
        pending = 0
        var out = [UInt8](repeating: 0, count: Self.digestSize)
        let words = [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7]
        for (i, w) in words.enumerated() {
            out[4 * i] = UInt8(truncatingIfNeeded: w >> 24)
            out[4 * i + 1] = UInt8(truncatingIfNeeded: w >> 16)
            out[4 * i + 2] = UInt8(truncatingIfNeeded: w >> 8)
            out[4 * i + 3] = UInt8(truncatingIfNeeded: w)
        }
        return out
    }

    /// The digest of `bytes`.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var s = SHA256()
        s.update(bytes)
        return s.finalize()
    }

    /// The digest of `bytes` as lower-case hex.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        Hex.encode(hash(bytes))
    }

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    /// Compresses every 64-byte block of `blocks` (whose count is a multiple of 64) into the state.
    private mutating func compress(blocks: UnsafeRawBufferPointer) {
        Self.k.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                var state = h
                var start = 0
                while start < blocks.count {
                    for i in 0..<16 {
                        // Big-endian words; loadUnaligned because the caller's buffer has any alignment.
                        w[i] = UInt32(bigEndian: blocks.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self))
                    }
                    for i in 16..<64 {
                        let s0 = Self.rotr(w[i - 15], 7) ^ Self.rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                        let s1 = Self.rotr(w[i - 2], 17) ^ Self.rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                        w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, hh) = state
                    for i in 0..<64 {
                        let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                        let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
                    }
                    state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
                             state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ hh)
                    start += Self.blockSize
                }
                h = state
            }
        }
    }
}
