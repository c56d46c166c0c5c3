/// What TTL and PTTL report about a key.
public enum RedisTTL: Sendable, Hashable {
    /// There is no such key (the reply -2).
    case keyMissing
    /// The key exists and never expires (the reply -1).
    case persistent
    /// The key expires after this many seconds (TTL) or milliseconds (PTTL).
    case expiresIn(Int64)

    init(reply: Int64) {
        switch reply {
        case -2: self = .keyMissing
        case ..<0: self = .persistent
        default: self = .expiresIn(reply)
        }
    }
}
