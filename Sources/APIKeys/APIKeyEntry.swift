import Basics
import Crypto

/// The limits of one scope of a key, as the keys file holds them.
public typealias APIKeyLimits = RateLimits

extension RateLimits {
    /// Nothing set.
    public var isEmpty: Bool { isNone }

    /// The keys file's field of each limit, with its largest value.
    public static let fields: [(name: String, max: UInt32, path: WritableKeyPath<RateLimits, UInt32> & Sendable)] = [
        ("requests_per_minute", 1_000_000, \.requestsPerMinute),
        ("requests_per_hour", 100_000_000, \.requestsPerHour),
        ("tokens_per_minute", 2_000_000_000, \.tokensPerMinute),
        ("max_parallel", 1_000_000, \.maxParallel),
    ]
}

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
    /// When the key was created, in seconds since 1970 (nil when the file does not say); budget periods
    /// count from it.
    public var created: Int64?
    /// Requests per hour, tokens per minute, requests at once (0: limitd's defaults); the requests per
    /// minute are ``requestsPerMinute``.
    public var requestsPerHour: UInt32 = 0
    public var tokensPerMinute: UInt32 = 0
    public var maxParallel: UInt32 = 0
    /// The most the key may spend per ``budgetDuration``, in USD (nil: no budget).
    public var maxBudget: Double?
    /// How often the budget starts again (nil: never — one budget for the key's life).
    public var budgetDuration: BudgetPeriod?
    /// The models the key may use (empty: every model).
    public var models: [String] = []
    /// When the key stops working, in seconds since 1970 (nil: never).
    public var expires: Int64?
    /// Limits of the key for one model, by model name.
    public var modelLimits: [String: APIKeyLimits] = [:]

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

    /// The key's own limits (requests per minute included).
    public var limits: APIKeyLimits {
        get {
            APIKeyLimits(requestsPerMinute: requestsPerMinute, requestsPerHour: requestsPerHour, tokensPerMinute: tokensPerMinute,
                         maxParallel: maxParallel)
        }
        set {
            requestsPerMinute = newValue.requestsPerMinute
            requestsPerHour = newValue.requestsPerHour
            tokensPerMinute = newValue.tokensPerMinute
            maxParallel = newValue.maxParallel
        }
    }

    /// Whether the key has expired at `now` (seconds since 1970).
    public func isExpired(now: Int64) -> Bool { expires.map { now >= $0 } ?? false }

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
