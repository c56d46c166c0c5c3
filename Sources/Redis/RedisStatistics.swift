/// Counters of one client since it was created, for metrics (all cumulative except the two gauges).
public struct RedisStatistics: Sendable, Hashable {
    /// Whether the connection is up and logged in now.
    public var isConnected = false
    /// Commands accepted for sending (each command of a pipeline counts).
    public var commands: UInt64 = 0
    /// Replies received for them (error replies included; replies to timed-out commands too).
    public var replies: UInt64 = 0
    /// Replies that were server errors.
    public var errorReplies: UInt64 = 0
    /// Commands that failed without a reply: timeouts, lost connections, not connected, overloaded.
    public var failures: UInt64 = 0
    /// Of ``failures``, the timeouts.
    public var timeouts: UInt64 = 0
    /// Successful connections, the first one included.
    public var connects: UInt64 = 0
    /// Successful connections after the first.
    public var reconnects: UInt64 { connects > 0 ? connects - 1 : 0 }
    /// Connection attempts that failed (refused, timed out, rejected login).
    public var failedConnects: UInt64 = 0
    /// Established connections that were lost.
    public var connectionsLost: UInt64 = 0
    /// Calls waiting for replies now (a pipeline counts once; calls that timed out but whose replies
    /// are still due included).
    public var pending = 0

    /// Zero counters, disconnected.
    public init() {}
}
