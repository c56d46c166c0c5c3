import Glibc

/// An address to bind(2) or connect(2) a socket to, a Unix socket path or an IP literal and port, built
/// once with its length checked, so that no caller fills `sockaddr_un`, `sockaddr_in` or `sockaddr_in6`
/// by hand.
///
/// ```swift
/// guard let address = SocketAddress(unixPath: path) else { throw ... }
/// let fd = socket(address.family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
/// let bound = address.withSockaddr { bind(fd, $0, $1) }
/// ```
public struct SocketAddress {
    private enum Storage {
        case unix(sockaddr_un)
        case ipv4(sockaddr_in)
        case ipv6(sockaddr_in6)
    }

    /// Longest path a `sockaddr_un` holds: 107 bytes, with room for the terminating NUL.
    public static let maxUnixPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    private let storage: Storage

    /// The address family, for socket(2): `AF_UNIX`, `AF_INET` or `AF_INET6`.
    public var family: Int32 {
        switch storage {
        case .unix: AF_UNIX
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        }
    }

    /// The path of a Unix socket address; nil for an IP one.
    public var unixPath: String? {
        guard case .unix(let address) = storage else { return nil }
        return withUnsafeBytes(of: address.sun_path) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The address of a Unix socket file.
    /// - Parameter path: the socket's path.
    /// - Returns: nil when `path` is empty, holds a NUL or is longer than ``maxUnixPathLength`` bytes.
    public init?(unixPath path: String) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxUnixPathLength, !bytes.contains(0) else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        storage = .unix(address)
    }

    /// An IPv4 or IPv6 address and port.
    /// - Parameters:
    ///   - host: an IPv4 literal (`127.0.0.1`, `0.0.0.0`) or an IPv6 literal without brackets (`::1`, `::`).
    ///   - port: the port; 0 lets the kernel pick one when binding.
    /// - Returns: nil when `host` is neither literal.
    public init?(ipLiteral host: String, port: UInt16) {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(port).bigEndian
            storage = .ipv4(v4)
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(port).bigEndian
            storage = .ipv6(v6)
        } else {
            return nil
        }
    }

    /// Whether `text` is an IPv4 or IPv6 address literal (no host names: binding must not depend on DNS).
    public static func isIPLiteral(_ text: String) -> Bool {
        SocketAddress(ipLiteral: text, port: 0) != nil
    }

    /// Calls `body` with the address as bind(2) and connect(2) take it.
    /// - Parameter body: gets the address and its length.
    /// - Returns: what `body` returns.
    public func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result) rethrows -> Result {
        switch storage {
        case .unix(var address): try Self.rebound(&address, body)
        case .ipv4(var address): try Self.rebound(&address, body)
        case .ipv6(var address): try Self.rebound(&address, body)
        }
    }

    private static func rebound<Address, Result>(
        _ address: inout Address, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result
    ) rethrows -> Result {
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<Address>.size))
            }
        }
    }

    /// Whether a process accepts stream connections here, found by connecting a throwaway socket (the way
    /// to tell a live socket file from one a dead process left).
    /// - Returns: 0 when the connection was made, else the errno of socket(2) or connect(2)
    ///   (`ECONNREFUSED`: nothing listens; `ENOENT`: no socket file).
    public func probeStreamConnection() -> Int32 {
        let probe = socket(family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return errno }
        defer { close(probe) }
        let connected = withSockaddr { connect(probe, $0, $1) }
        return connected == 0 ? 0 : errno
    }

    /// The local port a socket is bound to.
    /// - Parameter fd: the socket.
    /// - Returns: the port, or nil when `fd` is not a bound IPv4 or IPv6 socket.
    public static func localPort(of fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { raw in
            switch Int32(raw.load(as: sa_family_t.self)) {
            case AF_INET: Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            case AF_INET6: Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            default: nil
            }
        }
    }
}
