import Testing

@testable import Redis

/// Tests against a real redis-server, one per test, run one after another: several depend on timing
/// (timeouts, reconnection), and the machine has two cores.
@Suite("Against a real redis-server", .serialized)
enum RedisIntegration {
    /// A client for `url` with short timeouts and a fast backoff, so failure tests finish quickly.
    static func client(
        _ url: String, commandTimeout: Duration = .seconds(5), observer: (@Sendable (RedisConnectionState) -> Void)? = nil
    ) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: url)
        configuration.connectTimeout = .seconds(2)
        configuration.commandTimeout = commandTimeout
        configuration.reconnectBackoff = RedisBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        configuration.stateObserver = observer
        return try RedisClient(configuration: configuration)
    }

    /// Retries `body` on retryable errors until it succeeds or `seconds` pass.
    @discardableResult
    static func retrying<T>(within seconds: Int = 10, _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            do {
                return try await body()
            } catch let error as RedisError where error.isRetryable && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(25))
            }
        }
    }
}

extension RESPValue {
    /// Convenience for tests: a bulk string from text.
    static func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }
}

extension [UInt8] {
    var text: String { String(decoding: self, as: UTF8.self) }
}
