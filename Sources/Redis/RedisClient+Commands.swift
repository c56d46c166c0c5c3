/// Typed forms of the commands limitd and cached use. Keys, fields and values are any
/// ``RedisArgument`` (`String`, `[UInt8]`, numbers), binary-safe.
extension RedisClient {
    /// PING.
    /// - Returns: The server's answer ("PONG").
    /// - Throws: ``RedisError``.
    @discardableResult
    public func ping() async throws -> String {
        let reply = try await send(RedisCommand("PING"))
        return try Self.expectString(reply, from: "PING")
    }

    /// GET.
    /// - Parameter key: The key.
    /// - Returns: The value, or `nil` when there is no such key.
    /// - Throws: ``RedisError`` (``RedisError/Code/serverError`` WRONGTYPE when the key is not a string).
    public func get(_ key: some RedisArgument) async throws -> [UInt8]? {
        let reply = try await send(RedisCommand("GET", key))
        return try Self.expectOptionalBytes(reply, from: "GET")
    }

    /// SET, with an optional expiry (PX) and condition (NX or XX).
    /// - Parameters:
    ///   - key: The key.
    ///   - value: The value.
    ///   - expireAfterMilliseconds: PX: the key's time to live, or `nil` for none.
    ///   - condition: When to write.
    /// - Returns: Whether the value was written (`false` when NX or XX was not met).
    /// - Throws: ``RedisError``.
    @discardableResult
    public func set(
        _ key: some RedisArgument, to value: some RedisArgument, expireAfterMilliseconds: Int64? = nil,
        condition: RedisSetCondition = .always
    ) async throws -> Bool {
        var arguments: [any RedisArgument] = [key, value]
        if let expireAfterMilliseconds { arguments += ["PX", expireAfterMilliseconds] }
        switch condition {
        case .always: break
        case .ifNotExists: arguments.append("NX")
        case .ifExists: arguments.append("XX")
        }
        let reply = try await send(RedisCommand("SET", arguments: arguments))
        switch reply {
        case .simpleString: return true
        case .null: return false
        default: throw Self.unexpected(reply, from: "SET", expected: "OK or null")
        }
    }

    /// DEL.
    /// - Parameter keys: The keys to delete.
    /// - Returns: How many existed.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func del(_ keys: [any RedisArgument]) async throws -> Int64 {
        try Self.expectInteger(try await send(RedisCommand("DEL", arguments: keys)), from: "DEL")
    }

    /// DEL.
    /// - Parameter keys: The keys to delete.
    /// - Returns: How many existed.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func del(_ keys: any RedisArgument...) async throws -> Int64 {
        try await del(keys)
    }

    /// INCRBY.
    /// - Parameters:
    ///   - key: The counter (created at 0).
    ///   - increment: What to add (may be negative).
    /// - Returns: The new value.
    /// - Throws: ``RedisError`` (a server error when the value is not an integer or would overflow).
    @discardableResult
    public func incrBy(_ key: some RedisArgument, by increment: Int64 = 1) async throws -> Int64 {
        try Self.expectInteger(try await send(RedisCommand("INCRBY", key, increment)), from: "INCRBY")
    }

    /// EXPIRE.
    /// - Parameters:
    ///   - key: The key.
    ///   - seconds: Time to live from now.
    /// - Returns: Whether the key exists (and so got the expiry).
    /// - Throws: ``RedisError``.
    @discardableResult
    public func expire(_ key: some RedisArgument, seconds: Int64) async throws -> Bool {
        try Self.expectInteger(try await send(RedisCommand("EXPIRE", key, seconds)), from: "EXPIRE") == 1
    }

    /// PEXPIRE.
    /// - Parameters:
    ///   - key: The key.
    ///   - milliseconds: Time to live from now.
    /// - Returns: Whether the key exists (and so got the expiry).
    /// - Throws: ``RedisError``.
    @discardableResult
    public func pexpire(_ key: some RedisArgument, milliseconds: Int64) async throws -> Bool {
        try Self.expectInteger(try await send(RedisCommand("PEXPIRE", key, milliseconds)), from: "PEXPIRE") == 1
    }

    /// TTL, in seconds.
    /// - Parameter key: The key.
    /// - Returns: Missing, persistent, or the seconds left.
    /// - Throws: ``RedisError``.
    public func ttl(_ key: some RedisArgument) async throws -> RedisTTL {
        RedisTTL(reply: try Self.expectInteger(try await send(RedisCommand("TTL", key)), from: "TTL"))
    }

    /// PTTL, in milliseconds.
    /// - Parameter key: The key.
    /// - Returns: Missing, persistent, or the milliseconds left.
    /// - Throws: ``RedisError``.
    public func pttl(_ key: some RedisArgument) async throws -> RedisTTL {
        RedisTTL(reply: try Self.expectInteger(try await send(RedisCommand("PTTL", key)), from: "PTTL"))
    }

    /// HGET.
    /// - Parameters:
    ///   - key: The hash.
    ///   - field: The field.
    /// - Returns: The field's value, or `nil` when the hash or field does not exist.
    /// - Throws: ``RedisError``.
    public func hget(_ key: some RedisArgument, field: some RedisArgument) async throws -> [UInt8]? {
        try Self.expectOptionalBytes(try await send(RedisCommand("HGET", key, field)), from: "HGET")
    }

    /// HSET of one or more fields.
    /// - Parameters:
    ///   - key: The hash.
    ///   - fields: Field and value pairs.
    /// - Returns: How many fields were new.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func hset(_ key: some RedisArgument, fields: [(field: any RedisArgument, value: any RedisArgument)])
        async throws -> Int64
    {
        var arguments: [any RedisArgument] = [key]
        for pair in fields { arguments += [pair.field, pair.value] }
        return try Self.expectInteger(try await send(RedisCommand("HSET", arguments: arguments)), from: "HSET")
    }

    /// HSET of one field.
    /// - Parameters:
    ///   - key: The hash.
    ///   - field: The field.
    ///   - value: Its value.
    /// - Returns: Whether the field was new.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func hset(_ key: some RedisArgument, field: some RedisArgument, to value: some RedisArgument)
        async throws -> Bool
    {
        try await hset(key, fields: [(field, value)]) == 1
    }

    /// HINCRBY.
    /// - Parameters:
    ///   - key: The hash.
    ///   - field: The counter field (created at 0).
    ///   - increment: What to add.
    /// - Returns: The new value.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func hincrBy(_ key: some RedisArgument, field: some RedisArgument, by increment: Int64) async throws -> Int64 {
        try Self.expectInteger(try await send(RedisCommand("HINCRBY", key, field, increment)), from: "HINCRBY")
    }

    /// HINCRBYFLOAT.
    /// - Parameters:
    ///   - key: The hash.
    ///   - field: The field (created at 0).
    ///   - increment: What to add.
    /// - Returns: The new value.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func hincrByFloat(_ key: some RedisArgument, field: some RedisArgument, by increment: Double)
        async throws -> Double
    {
        let reply = try await send(RedisCommand("HINCRBYFLOAT", key, field, increment))
        let text = try Self.expectString(reply, from: "HINCRBYFLOAT")
        guard let value = Double(text) else {
            throw RedisError(.unexpectedReply, "HINCRBYFLOAT replied '\(text)', which is not a number")
        }
        return value
    }

    /// PUBLISH.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - message: The message.
    /// - Returns: How many subscribers received it.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func publish(_ channel: some RedisArgument, message: some RedisArgument) async throws -> Int64 {
        try Self.expectInteger(try await send(RedisCommand("PUBLISH", channel, message)), from: "PUBLISH")
    }

    // MARK: - Replies

    static func expectInteger(_ reply: RESPValue, from command: String) throws(RedisError) -> Int64 {
        guard case .integer(let value) = reply else { throw unexpected(reply, from: command, expected: "an integer") }
        return value
    }

    static func expectOptionalBytes(_ reply: RESPValue, from command: String) throws(RedisError) -> [UInt8]? {
        switch reply {
        case .bulkString(let bytes): return bytes
        case .null: return nil
        default: throw unexpected(reply, from: command, expected: "a bulk string or null")
        }
    }

    static func expectString(_ reply: RESPValue, from command: String) throws(RedisError) -> String {
        guard let text = reply.string else { throw unexpected(reply, from: command, expected: "a string") }
        return text
    }

    static func unexpected(_ reply: RESPValue, from command: String, expected: String) -> RedisError {
        RedisError(.unexpectedReply, "\(command) replied with \(reply.kindDescription), expected \(expected)")
    }
}
