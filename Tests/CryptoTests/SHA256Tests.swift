@testable import Crypto
import Testing

/// FIPS 180-4 example vectors (and the one-million-'a' message).
@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func knownDigests(message: String, digest: String) {
        #expect(SHA256.hex(Array(message.utf8)) == digest)
    }

    @Test func millionAsInPieces() {
        var s = SHA256()
        for _ in 0..<1000 { s.update([UInt8](repeating: 0x61, count: 1000)) }
        let hex = s.finalize().map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

/// The block-wise implementation must not depend on how a message is cut into `update` calls.
@Suite struct SHA256PiecesTests {
    /// A deterministic message of `count` bytes.
    static func message(_ count: Int) -> [UInt8] {
        var x: UInt32 = 2_463_534_242
        return (0..<count).map { _ in
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            return UInt8(truncatingIfNeeded: x)
        }
    }

    @Test(arguments: [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4099])
    func piecesEqualOneShot(length: Int) {
        let bytes = Self.message(length)
        let oneShot = SHA256.hash(bytes)
        for piece in [1, 3, 7, 63, 64, 65, 200] {
            var s = SHA256()
            var start = 0
            while start < bytes.count {
                let end = min(start + piece, bytes.count)
                s.update(bytes[start..<end])
                start = end
            }
            #expect(s.finalize() == oneShot, "length \(length) in pieces of \(piece)")
        }
        // Uneven pieces, and a sequence without contiguous storage.
        var s = SHA256()
        var start = 0, size = 1
        while start < bytes.count {
            let end = min(start + size, bytes.count)
            s.update(bytes[start..<end])
            start = end
            size = size * 3 % 97 + 1
        }
        #expect(s.finalize() == oneShot)
        #expect(SHA256.hash(bytes.lazy.map { $0 }) == oneShot)
    }

    @Test func copyBeforeFinalizeContinuesIndependently() {
        var a = SHA256()
        a.update(Array("abc".utf8))
        var b = a
        #expect(a.finalize() == SHA256.hash(Array("abc".utf8)))
        b.update(Array("dbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(Hex.encode(b.finalize()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
