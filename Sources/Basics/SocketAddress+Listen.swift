import Glibc

extension SocketAddress {
    /// How a listening socket is made, beyond its address.
    public struct ListenOptions: Sendable {
        /// listen(2)'s backlog (the kernel caps it at net.core.somaxconn).
        public var backlog: Int32
        /// Whether the descriptor is non-blocking (a daemon's own loop) or blocking (a socket handed to
        /// child processes, as systemd hands its sockets).
        public var nonBlocking: Bool
        /// The mode a Unix socket's file gets (who may connect).
        public var unixMode: mode_t
        /// TCP_NODELAY, which accepted connections inherit.
        public var noDelay: Bool

        /// Options of a listening socket.
        public init(backlog: Int32, nonBlocking: Bool, unixMode: mode_t = 0o660, noDelay: Bool = false) {
            self.backlog = backlog
            self.nonBlocking = nonBlocking
            self.unixMode = unixMode
            self.noDelay = noDelay
        }
    }

    /// A close-on-exec stream socket bound to this address and listening: a TCP one with SO_REUSEADDR (a
    /// restarted listener rebinds at once while old connections sit in TIME_WAIT), a Unix one's file with
    /// `options.unixMode` (removed again when listen fails). A stale Unix socket file is the caller's to
    /// remove first.
    /// - Parameters:
    ///   - options: Backlog, blocking, the file's mode, TCP_NODELAY.
    ///   - shown: The address as errors name it (the path, or `host:port`).
    /// - Returns: The listening descriptor.
    /// - Throws: ``SocketError`` whose operation is `create a socket for`, `bind` or `listen on`.
    public func listen(_ options: ListenOptions, shown: String) throws(SocketError) -> Int32 {
        let flags = SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | (options.nonBlocking ? SOCK_NONBLOCK.rawValue : 0)
        let descriptor = socket(family, Int32(flags), 0)
        guard descriptor >= 0 else { throw SocketError(operation: "create a socket for", path: shown, errno: errno) }
        let path = unixPath
        var one: Int32 = 1
        if path == nil {
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if options.noDelay {
                setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        guard withSockaddr({ bind(descriptor, $0, $1) }) == 0 else {
            let code = errno
            close(descriptor)
            throw SocketError(operation: "bind", path: shown, errno: code)
        }
        if let path { chmod(path, options.unixMode) }
        guard Glibc.listen(descriptor, options.backlog) == 0 else {
            let code = errno
            close(descriptor)
            if let path { unlink(path) }
            throw SocketError(operation: "listen on", path: shown, errno: code)
        }
        return descriptor
    }
}
