import Crypto
/// One API key as the keys file holds it: never the key itself, only its SHA-256, with what the key
/// may do and how fast.
public struct APIKeyEntry: Sendable, Equatable {
    /// A name for people (`inferctl keys create NAME`); unique in the file.
    public var name: String
    /// A short non-secret identifier (`key_` + 16 hex digits when inferctl makes it); unique in the file.
    /// limitd limits on it, and logs and `inferctl keys list` show it.
    public var id: String
    /// The 32-byte SHA-256 of the key.
    public var digest: [UInt8]
    /// What the key may call.
    public var scopes: Set<APIKeyScope>
    /// The key's own rate in requests per minute, or 0 for limitd's default (`RATE_LIMIT_RPM`).
    public var requestsPerMinute: UInt32
    /// When the key was created, in seconds since 1970 (nil when the file does not say).
    public var created: Int64?

    /// Most requests per minute a key may be given (limitd's own bound for `RATE_LIMIT_RPM`).
    public static let maxRequestsPerMinute: UInt32 = 1_000_000

    public init(
        name: String, id: String, digest: [UInt8], scopes: Set<APIKeyScope>, requestsPerMinute: UInt32 = 0,
        created: Int64? = nil
    ) {
        self.name = name
        self.id = id
        self.digest = digest
        self.scopes = scopes
        self.requestsPerMinute = requestsPerMinute
        self.created = created
    }

    /// The digest as the file writes it: 64 lower-case hex digits.
    public var sha256: String { Hex.encode(digest) }

    /// Whether `text` is a valid key name: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
    public static func isValidName(_ text: String) -> Bool {
        isIdentifier(text, allowDot: true)
    }

    /// Whether `text` is a valid key id: 1 to 64 of `A-Z a-z 0-9 _ -`, starting with a letter or digit.
    public static func isValidID(_ text: String) -> Bool {
        isIdentifier(text, allowDot: false)
    }

    private static func isIdentifier(_ text: String, allowDot: Bool) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func isAlphanumeric(_ b: UInt8) -> Bool {
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
        }
        guard isAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (allowDot && $0 == UInt8(ascii: ".")) }
    }
}
