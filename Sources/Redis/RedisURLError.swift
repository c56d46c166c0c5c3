import Basics

/// A Redis URL that could not be used: its code says which part was wrong (compare with the static
/// members below, `error.code == .port`), its message what was wrong and what is expected instead.
///
/// The message never contains the password.
public typealias RedisURLError = CodedError<RedisURLFault>

/// The tag of ``RedisURLError``.
public enum RedisURLFault: ErrorDomain {
    public static let summary = "invalid Redis URL"
}

extension ErrorCode where Domain == RedisURLError {
    /// The URL is empty.
    public static var empty: Self { Self("empty") }
    /// The scheme is missing or is not `redis` or `unix`.
    public static var scheme: Self { Self("scheme") }
    /// `rediss://`: this client has no TLS.
    public static var tlsUnsupported: Self { Self("TLS unsupported") }
    /// The `user:password@` part is malformed.
    public static var userInfo: Self { Self("user info") }
    /// The host is missing or malformed, or a `unix://` URL names one.
    public static var host: Self { Self("host") }
    /// The port is not a number from 1 to 65535.
    public static var port: Self { Self("port") }
    /// The database number is not a non-negative integer, or is given twice.
    public static var database: Self { Self("database") }
    /// The Unix socket path is missing, relative or too long.
    public static var socketPath: Self { Self("socket path") }
    /// A query parameter is unknown, or the query or fragment is not allowed here.
    public static var query: Self { Self("query") }
}
