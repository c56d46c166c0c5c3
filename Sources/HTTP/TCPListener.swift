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

        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let family: Int32
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port)).bigEndian
        } else if inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port)).bigEndian
        } else {
            throw HTTPServerError("bind \(place): host is not an IP address, localhost or *", errno: 0)
        }

        let fd = socket(family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError("socket for \(place)", errno: errno) }
        var one: Int32 = 1
        var zero: Int32 = 0
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
        if reusePort { _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) }
        if family == AF_INET6 && literal == "::" {
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, size)  // dual stack
        }
        let bound: Int32
        if family == AF_INET {
            bound = withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } else {
            bound = withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
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
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        default:
            return nil
        }
    }
}
