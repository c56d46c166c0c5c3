@testable import Crypto
import Testing

/// HMAC-SHA-256 against every test case of RFC 4231 (section 4), key and data in hex as the RFC prints them.
@Suite struct HMACTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var number: Int
        var key: String
        var data: String
        var mac: String
        /// Case 5 compares only the first 128 bits of the output.
        var truncatedTo: Int?
        var testDescription: String { "RFC 4231 case \(number)" }
    }

    static let largeKey = String(repeating: "aa", count: 131)

    static let cases: [Case] = [
        Case(number: 1, key: String(repeating: "0b", count: 20), data: "4869205468657265",
             mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        Case(number: 2, key: "4a656665", data: "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
             mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        Case(number: 3, key: String(repeating: "aa", count: 20), data: String(repeating: "dd", count: 50),
             mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        Case(number: 4, key: "0102030405060708090a0b0c0d0e0f10111213141516171819", data: String(repeating: "cd", count: 50),
             mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        Case(number: 5, key: String(repeating: "0c", count: 20), data: "546573742057697468205472756e636174696f6e",
             mac: "a3b6167473100ee06e0c796c2955552b", truncatedTo: 16),
        Case(number: 6, key: largeKey,
             data: "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
             mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        Case(number: 7, key: largeKey,
             data: "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
             mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test(arguments: cases)
    func rfc4231(_ c: Case) throws {
        let key = try #require(Hex.decode(c.key))
        let data = try #require(Hex.decode(c.data))
        let mac = HMAC.authenticationCode(for: data, key: key)
        #expect(mac.count == 32)
        #expect(Hex.encode(mac.prefix(c.truncatedTo ?? 32)) == c.mac)
        // The same through the incremental API, one byte at a time, and checked in constant time.
        var h = HMAC(key: key)
        for b in data { h.update([b]) }
        let expected = try #require(Hex.decode(c.mac))
        #expect(Array(h.finalize().prefix(expected.count)) == expected)
        if c.truncatedTo == nil {
            var v = HMAC(key: key)
            v.update(data)
            #expect(v.isValid(expected))
        }
    }

    @Test func oneBitChangedIsRejected() throws {
        let key = Array("a webhook secret of some length".utf8)
        let message = Array("1700000000.{\"id\":\"evt_1\"}".utf8)
        var mac = HMAC.authenticationCode(for: message, key: key)
        mac[31] ^= 1
        var h = HMAC(key: key)
        h.update(message)
        #expect(!h.isValid(mac))
        var short = HMAC(key: key)
        short.update(message)
        #expect(!short.isValid(mac.prefix(31)))
    }

    @Test func keyOfExactlyOneBlockIsUsedAsIs() {
        // 64 bytes: not hashed; 65 bytes: hashed. Both must match an independent construction.
        for length in [63, 64, 65] {
            let key = (0..<length).map { UInt8($0) }
            let message = Array("message".utf8)
            var block = length > 64 ? SHA256.hash(key) : key
            block += [UInt8](repeating: 0, count: 64 - block.count)
            let inner = SHA256.hash(block.map { $0 ^ 0x36 } + message)
            let expected = SHA256.hash(block.map { $0 ^ 0x5c } + inner)
            #expect(HMAC.authenticationCode(for: message, key: key) == expected, "key of \(length) bytes")
        }
    }

    @Test func hexDecodingIsStrict() {
        #expect(Hex.decode("00ffAB") == [0, 255, 171])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("") == [])
        #expect(Hex.encode([0, 15, 16, 255]) == "000f10ff")
    }
}
