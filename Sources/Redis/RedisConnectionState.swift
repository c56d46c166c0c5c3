/// Where a client's connection stands, as reported to ``RedisConfiguration/stateObserver``.
public enum RedisConnectionState: Sendable, Hashable, CustomStringConvertible {
    /// Connecting and logging in; commands issued now wait for it (up to their timeout).
    case connecting
    /// Connected and logged in; commands are sent at once.
    case connected
    /// Between attempts after a failure; commands fail at once with ``RedisError/Code/notConnected``.
    case disconnected(reason: String)
    /// Closed for good by ``RedisClient/close()``.
    case closed

    public var description: String {
        switch self {
        case .connecting: "connecting"
        case .connected: "connected"
        case .disconnected(let reason): "disconnected (\(reason))"
        case .closed: "closed"
        }
    }
}
