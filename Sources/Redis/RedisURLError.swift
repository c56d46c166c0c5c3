/// A Redis URL that could not be used, with what was wrong in it.
///
/// The message never contains the password.
public struct RedisURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which part of the URL was wrong; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case empty, scheme, tlsUnsupported = "TLS unsupported", userInfo = "user info", host, port, database,
                socketPath = "socket path", query
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The URL is empty.
        public static let empty = Code(.empty)
        /// The scheme is missing or is not `redis` or `unix`.
        public static let scheme = Code(.scheme)
        /// `rediss://`: this client has no TLS.
        public static let tlsUnsupported = Code(.tlsUnsupported)
        /// The `user:password@` part is malformed.
        public static let userInfo = Code(.userInfo)
        /// The host is missing or malformed, or a `unix://` URL names one.
        public static let host = Code(.host)
        /// The port is not a number from 1 to 65535.
        public static let port = Code(.port)
        /// The database number is not a non-negative integer, or is given twice.
        public static let database = Code(.database)
        /// The Unix socket path is missing, relative or too long.
        public static let socketPath = Code(.socketPath)
        /// A query parameter is unknown, or the query or fragment is not allowed here.
        public static let query = Code(.query)

        public var description: String { base.rawValue }
    }

    /// The part that was wrong.
    public let code: Code
    /// What was wrong, and what is expected instead.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "invalid Redis URL: \(message)" }
}
