/// HMAC-SHA256 (RFC 2104, FIPS 198-1), for signed webhooks.
///
/// The key's inner and outer pads are hashed once, in `init`; a keyed value can then be copied for each
/// message, so a verifier that checks many messages under one secret pays for the key only once.
///
/// ```swift
/// let mac = HMAC.authenticationCode(for: Array("message".utf8), key: Array("secret".utf8))
/// var h = HMAC(key: key); h.update(part1); h.update(part2); let same = h.finalize()
/// ```
public struct HMAC: Sendable {
    /// Bytes in a MAC.
    public static let size = SHA256.digestSize

    private var inner = SHA256()
    private var outer = SHA256()

    /// A MAC keyed with `key`; a key longer than SHA-256's block is hashed first, as RFC 2104 says.
    public init(key: some Collection<UInt8>) {
        var block = key.count > SHA256.blockSize ? SHA256.hash(key) : Array(key)
        block += [UInt8](repeating: 0, count: SHA256.blockSize - block.count)
        inner.update(block.map { $0 ^ 0x36 })
        outer.update(block.map { $0 ^ 0x5c })
    }

    /// Adds bytes to the message.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        inner.update(bytes)
    }

    /// The 32-byte MAC of everything added. The value is spent afterwards, like `SHA256.finalize`.
    public mutating func finalize() -> [UInt8] {
        let innerDigest = inner.finalize()
        outer.update(innerDigest)
        return outer.finalize()
    }

    /// The MAC of `message` under `key`.
    public static func authenticationCode(for message: some Sequence<UInt8>, key: some Collection<UInt8>) -> [UInt8] {
        var h = HMAC(key: key)
        h.update(message)
        return h.finalize()
    }

    /// Whether `mac` is the MAC of everything added, compared in constant time. The value itself is
    /// left as it is (a copy is finalized).
    public func isValid(_ mac: some Collection<UInt8>) -> Bool {
        var copy = self
        return ConstantTime.equals(copy.finalize(), mac)
    }
}
