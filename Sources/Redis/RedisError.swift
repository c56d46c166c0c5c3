import Basics

/// Why a command or a connection failed.
///
/// ``isRetryable`` says whether the same command may succeed later (the connection came back, the
/// server caught up); ``mayHaveRun`` says whether the server may have executed it anyway, which
/// matters before retrying a command that changes data (INCRBY, a Lua script).
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this was; compare with the static members (`error.code == .timeout`).
    public typealias Code = ErrorCode<RedisError>

    /// The kind of failure.
    public let code: Code
    /// What failed and why, naming the command or server address where known.
    public let message: String

    /// For a ``Code/serverError``, the server's error reply as it sent it ("NOSCRIPT No matching script.").
    public let serverReply: String?

    init(_ code: Code, _ message: String, serverReply: String? = nil) {
        self.code = code
        self.message = message
        self.serverReply = serverReply
    }

    /// Whether sending the command again later may succeed.
    public var isRetryable: Bool {
        [.timeout, .connectionLost, .notConnected, .overloaded].contains(code)
    }

    /// Whether the server may have executed the command although the caller got this error (for a
    /// ``Code/serverError`` only in part: a Lua script that failed after some of its writes).
    public var mayHaveRun: Bool {
        [.timeout, .connectionLost, .protocolViolation, .serverError, .unexpectedReply].contains(code)
    }

    /// For a ``Code/serverError``, the first word of the server's message (`NOSCRIPT`, `WRONGTYPE`,
    /// `ERR`); `nil` for other errors.
    public var serverErrorPrefix: Substring? {
        serverReply.map { $0.prefix { $0 != " " } }
    }

    public var description: String { "Redis \(code): \(message)" }

    static func server(_ reply: String, command: String) -> RedisError {
        RedisError(.serverError, "\(command): \(reply)", serverReply: reply)
    }
}

extension ErrorCode where Domain == RedisError {
    /// The server answered with an error reply (`ERR`, `WRONGTYPE`, `NOSCRIPT`, ...); see
    /// ``RedisError/serverErrorPrefix``.
    public static var serverError: Self { Self("server error") }
    /// No reply within the command timeout. The reply, if it comes, is discarded.
    public static var timeout: Self { Self("timeout") }
    /// The connection dropped while the command was queued or in flight.
    public static var connectionLost: Self { Self("connection lost") }
    /// The client is between connection attempts (the server is down or unreachable); the command
    /// was not sent.
    public static var notConnected: Self { Self("not connected") }
    /// The server refused the AUTH, SELECT or CLIENT SETNAME run on connecting (wrong password,
    /// database out of range): a configuration error.
    public static var handshakeFailed: Self { Self("handshake failed") }
    /// The server sent bytes that are not RESP2, exceed the parser's limits, or answer no command;
    /// the connection was dropped (and is made again), failing every command in flight. Not retryable:
    /// it usually means the URL names something that is not Redis.
    public static var protocolViolation: Self { Self("protocol violation") }
    /// The reply's type is not what the command returns (an array where an integer was due).
    public static var unexpectedReply: Self { Self("unexpected reply") }
    /// More commands are waiting for replies than the configured maximum; the command was not sent.
    public static var overloaded: Self { Self("overloaded") }
    /// The client was closed.
    public static var closed: Self { Self("closed") }
    /// The client could not be created: the process has no file descriptor or thread to spare.
    public static var startFailed: Self { Self("start failed") }
}
