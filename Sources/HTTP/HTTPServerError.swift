import Glibc

/// A system call the server or listener needed failed; names the call and the errno.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    /// The failed operation, e.g. `bind 127.0.0.1:8080`.
    public let operation: String
    /// The errno it failed with (0 when not from a system call).
    public let errno: Int32

    /// Creates an error for `operation` failing with `errno`.
    public init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        guard errno != 0, let text = strerror(errno) else { return operation }
        return "\(operation): \(String(cString: text))"
    }
}
