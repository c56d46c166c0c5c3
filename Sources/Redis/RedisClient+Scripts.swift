extension RedisClient {
    /// Runs a Lua script: EVALSHA, and EVAL with the whole source when the server answers NOSCRIPT (its
    /// script cache was flushed or the server restarted). EVAL caches the script again, so later calls
    /// go back to EVALSHA.
    /// - Parameters:
    ///   - script: The script.
    ///   - keys: KEYS[1...], the keys it touches (Redis Cluster routes by them).
    ///   - arguments: ARGV[1...].
    /// - Returns: The script's reply.
    /// - Throws: ``RedisError``: ``RedisError/Code/serverError`` when the script fails.
    public func evaluate(_ script: RedisScript, keys: [any RedisArgument] = [], arguments: [any RedisArgument] = [])
        async throws -> RESPValue
    {
        let tail: [any RedisArgument] = [keys.count] + keys + arguments
        do {
            return try await send(RedisCommand("EVALSHA", arguments: [script.sha1] + tail))
        } catch let error as RedisError where error.serverErrorPrefix == "NOSCRIPT" {
            return try await send(RedisCommand("EVAL", arguments: [script.source] + tail))
        }
    }

    /// SCRIPT LOAD: caches a script on the server ahead of its first use.
    /// - Parameter script: The script.
    /// - Returns: The SHA-1 the server computed (equal to ``RedisScript/sha1``).
    /// - Throws: ``RedisError`` (a server error when the script does not compile).
    @discardableResult
    public func load(_ script: RedisScript) async throws -> String {
        try Self.expectString(try await send(RedisCommand("SCRIPT", "LOAD", script.source)), from: "SCRIPT LOAD")
    }
}
