import Glibc

/// A system call on a socket failed: which call, on which path, and the system's reason.
public struct SocketError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The operation that failed, e.g. `connect`.
    public let operation: String
    /// The socket path, when there is one.
    public let path: String?
    /// The `errno` value (0 when the failure is not a system error).
    public let code: Int32
    /// A description replacing the system's text, when the system's would mislead.
    public let detail: String?

    /// Creates an error.
    /// - Parameters:
    ///   - operation: The operation that failed.
    ///   - path: The socket path, if any.
    ///   - errno: The `errno` value.
    ///   - detail: Text to show instead of `strerror(errno)`.
    public init(operation: String, path: String? = nil, errno: Int32, detail: String? = nil) {
        self.operation = operation
        self.path = path
        self.code = errno
        self.detail = detail
    }

    /// `operation path: reason`.
    public var description: String {
        let reason = detail ?? String(cString: strerror(code))
        if let path { return "\(operation) \(path): \(reason)" }
        return "\(operation): \(reason)"
    }
}
