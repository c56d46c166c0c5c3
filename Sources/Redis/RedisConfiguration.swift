/// Everything a ``RedisClient`` needs: the server and login (from a URL), timeouts, reconnection,
/// limits.
public struct RedisConfiguration: Sendable {
    /// The server, the login and the database.
    public var url: RedisURL
    /// How long connecting and logging in (AUTH, SELECT, CLIENT SETNAME) may take, per attempt.
    public var connectTimeout: Duration = .seconds(2)
    /// How long a command (or a whole pipeline) may wait for its reply, from the moment it is issued,
    /// including time spent queued while the client connects.
    public var commandTimeout: Duration = .seconds(1)
    /// Delays between reconnection attempts.
    public var reconnectBackoff = RedisBackoff()
    /// Most calls waiting for replies at once (a pipeline counts once; so does a timed-out call whose
    /// reply is still due); past it calls fail at once with ``RedisError/Code/overloaded`` rather than
    /// queue without bound while the server is stuck.
    public var maxPendingCommands = 100_000
    /// What a reply may declare before the connection is dropped as corrupt.
    public var parserLimits = RESPParser.Limits()
    /// A name set with CLIENT SETNAME on every connection (shows in CLIENT LIST), or `nil`.
    /// Redis refuses names with spaces.
    public var clientName: String?
    /// Called on the client's I/O thread whenever the connection's state changes (while the server is
    /// down: `.connecting` and `.disconnected` once per attempt). Keep it short: it delays I/O while it
    /// runs.
    public var stateObserver: (@Sendable (RedisConnectionState) -> Void)?

    /// A configuration with default timeouts.
    /// - Parameter url: The server and login.
    public init(url: RedisURL) {
        self.url = url
    }

    /// A configuration from a URL's text, with default timeouts.
    /// - Parameter url: For example the value of `REDIS_URL`; see ``RedisURL`` for the forms.
    /// - Throws: ``RedisURLError`` naming what is wrong in it.
    public init(url: String) throws(RedisURLError) {
        self.init(url: try RedisURL(parsing: url))
    }
}
