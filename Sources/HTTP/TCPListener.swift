import Basics
import CLinux
import Glibc

/// Opens listening TCP sockets for servers that are not handed one by systemd.
public enum TCPListener {
    /// Binds and listens on `host:port` with `SO_REUSEADDR`.
    /// - Parameters:
    ///   - host: an IPv4 or IPv6 literal (`127.0.0.1`, `::1`, `[::1]`), `localhost` (127.0.0.1), or
    ///     `0.0.0.0`, `*` or an empty string for every IPv4 address, `::` for every IPv4 and IPv6 address.
    ///   - port: 0...65535; 0 picks a free port (read it back with ``localPort(of:)``).
    ///   - backlog: the accept queue length, default 1024.
    ///   - reusePort: also set `SO_REUSEPORT`, so that several processes can listen on the same port.
    /// - Returns: the listening socket (close-on-exec, blocking; the server makes it non-blocking).
    /// - Throws: ``HTTPServerError`` naming the host and port when the host is not understood or a call fails.
    public static func bind(host: String, port: Int, backlog: Int32 = 1024, reusePort: Bool = false) throws(HTTPServerError) -> Int32 {
        let place = "\(host):\(port)"
        guard (0...65535).contains(port) else { throw HTTPServerError("bind \(place): port out of range", errno: 0) }
        var literal = host
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        if literal.isEmpty || literal == "*" { literal = "0.0.0.0" }
        if literal == "localhost" { literal = "127.0.0.1" }

        guard let address = SocketAddress(ipLiteral: literal, port: UInt16(port)) else {
            throw HTTPServerError("bind \(place): host is not an IP address, localhost or *", errno: 0)
        }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError("socket for \(place)", errno: errno) }
        var one: Int32 = 1
        var zero: Int32 = 0
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
        if reusePort { _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) }
        if address.family == AF_INET6 && literal == "::" {
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, size)  // dual stack
        }
        let bound = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0 else {
            let error = errno
            Glibc.close(fd)
            throw HTTPServerError("bind \(place)", errno: error)
        }
        guard listen(fd, backlog) == 0 else {
            let error = errno
            Glibc.close(fd)
            throw HTTPServerError("listen \(place)", errno: error)
        }
        return fd
    }

    /// The local port a socket is bound to, or `nil` when it is not a bound TCP socket.
    public static func localPort(of fd: Int32) -> Int? {
        SocketAddress.localPort(of: fd)
    }
}
