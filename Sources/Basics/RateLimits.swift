/// The four limits of one scope of an API key (the key itself, or the key and one model): what the keys
/// file holds, frontd sends and limitd enforces. Each is 0 for "not set": limitd's default in a key's own
/// scope, no limit in a model's.
public struct RateLimits: Sendable, Equatable {
    /// Requests per minute.
    public var requestsPerMinute: UInt32
    /// Requests per hour.
    public var requestsPerHour: UInt32
    /// Tokens per minute (prompt + completion).
    public var tokensPerMinute: UInt32
    /// Requests in flight at once.
    public var maxParallel: UInt32

    public init(requestsPerMinute: UInt32 = 0, requestsPerHour: UInt32 = 0, tokensPerMinute: UInt32 = 0, maxParallel: UInt32 = 0) {
        self.requestsPerMinute = requestsPerMinute
        self.requestsPerHour = requestsPerHour
        self.tokensPerMinute = tokensPerMinute
        self.maxParallel = maxParallel
    }

    /// Nothing set.
    public static let none = RateLimits()

    /// Whether nothing is set.
    public var isNone: Bool { self == .none }
}
