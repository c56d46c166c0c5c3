import Basics
import CLinux
import Glibc
import Reactor

/// Unix stream sockets: binding a listener, connecting a client.
public enum UnixSocket {
    /// Longest path a `sockaddr_un` holds (108 bytes with the terminating NUL).
    public static let maxPathLength = SocketAddress.maxUnixPathLength

    private static let fileTypeMask: mode_t = 0o170000
    private static let socketFileType: mode_t = 0o140000

    /// Binds and listens on `path`, replacing a stale socket file left by a process that is gone.
    ///
    /// A socket file nobody accepts on (connecting is refused) is unlinked; a path that is not a socket,
    /// or a socket a live process still listens on, is an error rather than something to steal.
    /// - Parameters:
    ///   - path: Filesystem path of the socket.
    ///   - backlog: Connections the kernel queues before they are accepted.
    ///   - permissions: Mode of the socket file (default 0660: owner and group may connect).
    /// - Returns: The listening descriptor (blocking, close-on-exec); hand it to ``IPCServer``.
    /// - Throws: ``SocketError`` naming the step that failed.
    public static func listen(path: String, backlog: Int32 = 4096, permissions: mode_t = 0o660) throws -> Int32 {
        let address = try makeAddress(path: path, operation: "listen")
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & fileTypeMask == socketFileType else {
                throw SocketError(operation: "listen", path: path, errno: EEXIST, detail: "exists and is not a socket")
            }
            if let live = try? connect(path: path) {
                close(live)
                throw SocketError(
                    operation: "listen", path: path, errno: EADDRINUSE, detail: "another process is listening on it")
            }
            guard unlink(path) == 0 || errno == ENOENT else {
                throw SocketError(operation: "unlink stale socket", path: path, errno: errno)
            }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", path: path, errno: errno) }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            let code = errno
            close(fd)
            throw SocketError(operation: "bind", path: path, errno: code)
        }
        guard chmod(path, permissions) == 0 else {
            let code = errno
            close(fd)
            throw SocketError(operation: "chmod", path: path, errno: code)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            throw SocketError(operation: "listen", path: path, errno: code)
        }
        return fd
    }

    /// Connects to the socket at `path`.
    /// - Parameter path: Filesystem path of the socket.
    /// - Returns: A connected, blocking, close-on-exec descriptor.
    /// - Throws: ``SocketError`` (`ENOENT`: no socket file; `ECONNREFUSED`: nobody listening).
    public static func connect(path: String) throws -> Int32 {
        try connect(path: path, nonBlocking: false).get()
    }

    /// Connects without blocking: for a Unix socket the connection is made at once or refused
    /// (`EAGAIN` when the listener's backlog is full).
    static func connect(path: String, nonBlocking: Bool) -> Result<Int32, SocketError> {
        let address: SocketAddress
        do {
            address = try makeAddress(path: path, operation: "connect")
        } catch {
            return .failure(error)
        }
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { return .failure(SocketError(operation: "socket", path: path, errno: errno)) }
        while true {
            let result = address.withSockaddr { Glibc.connect(fd, $0, $1) }
            if result == 0 { return .success(fd) }
            let code = errno
            if code == EINTR { continue }
            close(fd)
            return .failure(SocketError(operation: "connect", path: path, errno: code))
        }
    }

    private static func makeAddress(path: String, operation: String) throws(SocketError) -> SocketAddress {
        guard let address = SocketAddress(unixPath: path) else {
            throw SocketError(
                operation: operation, path: path, errno: ENAMETOOLONG,
                detail: "socket path must be 1 to \(maxPathLength) bytes without NUL, got \(path.utf8.count)")
        }
        return address
    }
}
