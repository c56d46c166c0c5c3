import Crypto
/// How API keys are made and recognised: the secret's shape, its id, its hash.
///
/// A key is `sk-infer-` followed by 43 base64url characters (32 bytes from the system's random number
/// generator, `getrandom(2)`); only its SHA-256 is stored. A key is high-entropy, so a plain SHA-256 is
/// enough: there is nothing to brute-force that a slow password hash would protect.
public enum APIKeySecret {
    /// What every generated key starts with, so a leaked key is recognisable (secret scanners, logs).
    public static let prefix = "sk-infer-"

    /// The original API's default token: never accepted, whatever the keys file says.
    public static let defaultToken = "changeme"

    /// SHA-256 of ``defaultToken``; a keys file holding it is rejected.
    public static let defaultTokenDigest: [UInt8] = SHA256.hash(defaultToken.utf8)

    /// A new key from the system's random number generator.
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        return prefix + base64URL(bytes)
    }

    /// A new key id: `key_` and 16 hex digits, random (not derived from the key, so it tells nothing
    /// about it). Ids are what limitd limits on and what logs and `inferctl keys list` show.
    public static func newID() -> String {
        var rng = SystemRandomNumberGenerator()
        let value: UInt64 = rng.next()
        let hex = String(value, radix: 16)
        return "key_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The SHA-256 of a key as presented (its UTF-8 bytes).
    public static func digest(_ key: some Sequence<UInt8>) -> [UInt8] {
        SHA256.hash(key)
    }

    /// Base64url without padding (RFC 4648 §5): safe in headers, shells and URLs.
    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var chunk: UInt32 = 0
            for j in 0..<3 { chunk = chunk << 8 | UInt32(j < n ? bytes[i + j] : 0) }
            for j in 0...n { out.append(alphabet[Int((chunk >> (18 - 6 * UInt32(j))) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
