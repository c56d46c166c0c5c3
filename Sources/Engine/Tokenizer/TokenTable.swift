/// The vocabulary's spellings, stored back to back as UTF-8, with an open-addressing hash index
/// that finds a spelling by its bytes. Building it allocates no per-token strings, which makes
/// loading a 50k-token vocabulary and its merges several times faster than a `[String: Int32]`
/// (whose hashing normalises non-ASCII text), and compares bytes exactly, as Hugging Face does.
struct TokenTable: Sendable {
    private(set) var bytes: [UInt8] = []
    /// Token i is `bytes[starts[i]..<starts[i+1]]`.
    private(set) var starts: [Int] = [0]
    private var slots: [Int32]
    private let mask: Int

    init(_ tokens: [String]) {
        var capacity = 16
        while capacity < tokens.count * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        bytes.reserveCapacity(tokens.count * 8)
        starts.reserveCapacity(tokens.count + 1)
        for t in tokens {
            bytes.append(contentsOf: t.utf8)
            starts.append(bytes.count)
        }
        for id in 0..<tokens.count {
            let s = (starts[id]), e = (starts[id + 1])
            // Two tokens with the same spelling: the later id wins, as in a {token: id} dictionary.
            let slot = bytes.withUnsafeBufferPointer { all in
                findSlot(UnsafeBufferPointer(rebasing: all[s..<e]), UnsafeBufferPointer(start: nil, count: 0))
            }
            slots[slot] = Int32(id)
        }
    }

    var count: Int { starts.count - 1 }

    /// The spelling of token `id` (which must be in range).
    func string(_ id: Int) -> String {
        String(decoding: bytes[(starts[id])..<(starts[id + 1])], as: UTF8.self)
    }

    /// The UTF-8 bytes of token `id` (which must be in range).
    func utf8(_ id: Int) -> ArraySlice<UInt8> { bytes[(starts[id])..<(starts[id + 1])] }

    /// The id of the token spelled `a` followed by `b`, or nil.
    func find(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8> = UnsafeBufferPointer(start: nil, count: 0)) -> Int32? {
        let id = slots[findSlot(a, b)]
        return id >= 0 ? id : nil
    }

    /// The id of the token spelled `s`, or nil.
    func find(_ s: String) -> Int32? {
        var s = s
        return s.withUTF8 { find($0) }
    }

    /// The slot holding the spelling `a`+`b`, or the empty slot where it would go.
    private func findSlot(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for x in a { h = (h ^ UInt64(x)) &* 0x0000_0100_0000_01B3 }
        for x in b { h = (h ^ UInt64(x)) &* 0x0000_0100_0000_01B3 }
        h ^= h >> 29
        var slot = Int(truncatingIfNeeded: h) & mask
        let length = a.count + b.count
        return bytes.withUnsafeBufferPointer { all in
            while true {
                let id = Int(slots[slot])
                if id < 0 { return slot }
                let s = (starts[id])
                if (starts[id + 1]) - s == length,
                   a.elementsEqual(all[s..<(s + a.count)]),
                   b.elementsEqual(all[(s + a.count)..<(s + length)]) {
                    return slot
                }
                slot = (slot + 1) & mask
            }
        }
    }
}
