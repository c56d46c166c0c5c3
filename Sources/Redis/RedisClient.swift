/// A Redis client for many concurrent callers on one pipelined connection.
///
/// Every call may come from any task or thread; commands go out in the order they are issued and each
/// caller gets its own reply (RESP answers in order). Concurrent callers' commands share `send`s and
/// `recv`s, so throughput grows with concurrency rather than with connections.
///
/// The client connects on creation, in the background, and reconnects by itself with backoff when the
/// connection drops, running AUTH and SELECT again each time. While it is connecting, commands wait
/// (within ``RedisConfiguration/commandTimeout``); between attempts they fail at once with the retryable
/// ``RedisError/Code/notConnected``, so a caller with a fallback (fail open, bypass the cache) is not
/// held up while Redis is down.
///
/// ```swift
/// let redis = try RedisClient(configuration: RedisConfiguration(url: "redis://:secret@10.0.0.5:6379/2"))
/// _ = try await redis.set("greeting", to: "hello", expireAfterMilliseconds: 60_000)
/// let count = try await redis.incrBy("hits", by: 1)
/// ```
///
/// Do not send blocking commands (BLPOP, WAIT, SUBSCRIBE): they would hold up every caller behind them.
public final class RedisClient: Sendable {
    /// What the client was created with.
    public let configuration: RedisConfiguration
    private let connection: RedisConnection

    /// Creates a client and starts connecting in the background.
    /// - Parameter configuration: Server, login, timeouts and limits.
    /// - Throws: ``RedisError/Code/startFailed`` only when the process cannot create a pipe or a thread;
    ///   a server that is down is not an error here (commands report it).
    public init(configuration: RedisConfiguration) throws(RedisError) {
        self.configuration = configuration
        self.connection = try RedisConnection(configuration: configuration)
    }

    /// Closes the connection when the last reference goes.
    deinit {
        connection.close()
    }

    /// Sends one command and waits for its reply.
    /// - Parameter command: The command.
    /// - Returns: The reply; never ``RESPValue/error(_:)``, which is thrown instead.
    /// - Throws: ``RedisError``: ``RedisError/Code/serverError`` for an error reply, or why no reply came;
    ///   `CancellationError` when the task was cancelled before the command was sent.
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try Task.checkCancellation()
        let replies = try await connection.submit(command.encoded, count: 1, name: command.name)
        guard let reply = replies.first else {
            throw RedisError(.unexpectedReply, "\(command.name): no reply")
        }
        if case .error(let message) = reply {
            throw RedisError.server(message, command: command.name)
        }
        return reply
    }

    /// Sends one command given by its name and arguments and waits for its reply.
    /// - Parameters:
    ///   - name: The command's name ("GET").
    ///   - arguments: Its arguments.
    /// - Returns: The reply.
    /// - Throws: ``RedisError`` as ``send(_:)``.
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RESPValue {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends several commands at once and waits for all their replies.
    ///
    /// The commands go out back to back, in one write when they fit, and no other caller's command comes
    /// between them; they are not a transaction (wrap them in MULTI/EXEC for that).
    /// - Parameter commands: The commands, in order.
    /// - Returns: One reply per command, in order. An error reply is returned as ``RESPValue/error(_:)``
    ///   in its place, so that one failing command does not hide the others' replies.
    /// - Throws: ``RedisError`` when the replies did not all come (timeout, connection lost, ...).
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        try Task.checkCancellation()
        var encoded: [UInt8] = []
        encoded.reserveCapacity(commands.reduce(0) { $0 + $1.encoded.count })
        for command in commands { encoded.append(contentsOf: command.encoded) }
        let name = commands.count == 1 ? commands[0].name : "pipeline of \(commands.count) commands"
        return try await connection.submit(encoded, count: commands.count, name: name)
    }

    /// Counters for metrics: commands, replies, failures, timeouts, connects and reconnects.
    public var statistics: RedisStatistics { connection.statistics }

    /// The connection's state now.
    public var state: RedisConnectionState { connection.state }

    /// Whether the connection is up and logged in now.
    public var isConnected: Bool { connection.state == .connected }

    /// Closes the connection for good: pending commands fail with ``RedisError/Code/closed``, and so does
    /// every later one. Idempotent; also done when the client is released.
    public func close() {
        connection.close()
    }
}
