import Basics
import CSystemd
import Glibc

/// Binds the listening sockets a daemon makes itself when systemd did not pass them.
package enum SocketBinder {
    /// Mode of the runtime directory when the daemon creates it: others may reach the sockets inside.
    static let directoryMode: mode_t = 0o755
    /// Mode of a Unix socket the daemon binds: its user and group may connect (as `SocketMode=0660`).
    static let socketMode: mode_t = 0o660
    /// Connections the kernel queues before accept(2): as many as it allows (net.core.somaxconn).
    static let backlog = SOMAXCONN

    /// Binds and listens on a Unix stream socket at `directory/fileName`.
    ///
    /// Creates the directory (0755, with parents) when missing. A socket file left by a daemon that died
    /// is removed; one that still accepts connections, or a path that is not a socket, is left alone.
    /// - Returns: The listening descriptor (non-blocking, close-on-exec) and its path.
    /// - Throws: ``ListenerError`` naming the path and the system's reason.
    package static func bindUnix(directory: String, fileName: String) throws(ListenerError) -> (Int32, String) {
        try makeDirectory(directory)
        let path = directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
        guard let address = SocketAddress(unixPath: path) else {
            throw .pathTooLong(path, limit: SocketAddress.maxUnixPathLength)
        }
        try removeStaleSocket(path, address)

        return (try listen(address, shown: path), path)
    }

    /// Binds and listens on a TCP socket.
    /// - Parameters:
    ///   - host: An IPv4 or IPv6 literal (`0.0.0.0`, `::`, `127.0.0.1`).
    ///   - port: The port; 0 lets the kernel pick one.
    /// - Returns: The listening descriptor (non-blocking, close-on-exec) and `host:port` with the real port.
    /// - Throws: ``ListenerError`` naming the address and the system's reason.
    package static func bindTCP(host: String, port: Int) throws(ListenerError) -> (Int32, String) {
        let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let address = SocketAddress(ipLiteral: host, port: UInt16(truncatingIfNeeded: port)) else {
            throw .system("parse the address", shown, errno: EINVAL)
        }
        let descriptor = try listen(address, shown: shown)
        return (descriptor, localAddress(descriptor))
    }

    /// A non-blocking listening socket at `address` with the daemon's backlog and socket mode.
    private static func listen(_ address: SocketAddress, shown: String) throws(ListenerError) -> Int32 {
        do throws(SocketError) {
            return try address.listen(.init(backlog: backlog, nonBlocking: true, unixMode: socketMode), shown: shown)
        } catch {
            throw .system(error.operation, error.path ?? shown, errno: error.code)
        }
    }

    /// The local address of a listening socket as text: a path, or `host:port`.
    static func localAddress(_ descriptor: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard ok == 0 else { return "fd \(descriptor)" }
        switch Int32(storage.ss_family) {
        case AF_UNIX:
            return withUnsafeBytes(of: &storage) { raw in
                let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
                let bytes = raw[pathOffset..<Int(length)]
                if bytes.first == 0 { return "@" + String(decoding: bytes.dropFirst(), as: UTF8.self) }
                return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
        case AF_INET, AF_INET6:
            var host = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            let family = Int32(storage.ss_family)
            let port: UInt16 = withUnsafeBytes(of: &storage) { raw in
                if family == AF_INET {
                    var address = raw.load(as: sockaddr_in.self)
                    inet_ntop(AF_INET, &address.sin_addr, &host, socklen_t(host.count))
                    return UInt16(bigEndian: address.sin_port)
                }
                var address = raw.load(as: sockaddr_in6.self)
                inet_ntop(AF_INET6, &address.sin6_addr, &host, socklen_t(host.count))
                return UInt16(bigEndian: address.sin6_port)
            }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return family == AF_INET6 ? "[\(text)]:\(port)" : "\(text):\(port)"
        default:
            return "fd \(descriptor)"
        }
    }

    /// Sets O_NONBLOCK and FD_CLOEXEC on a descriptor (systemd passes sockets blocking by default).
    static func prepare(_ descriptor: Int32) {
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) }
        let descriptorFlags = fcntl(descriptor, F_GETFD)
        if descriptorFlags >= 0 { _ = fcntl(descriptor, F_SETFD, descriptorFlags | FD_CLOEXEC) }
    }

    /// Creates the runtime directory and its parents when missing; the new ones get mode 0755 whatever
    /// the umask.
    private static func makeDirectory(_ directory: String) throws(ListenerError) {
        do throws(FileError) {
            try FileIO.makeDirectories(directory, mode: directoryMode, durable: false)
        } catch {
            throw .system(error.operation, error.path, errno: error.code)
        }
    }

    /// Removes a socket file that no process accepts on any more; refuses to touch anything else.
    private static func removeStaleSocket(_ path: String, _ address: SocketAddress) throws(ListenerError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
        let probe = address.probeStreamConnection()
        if probe == 0 { throw .inUse(path) }
        guard probe == ECONNREFUSED || probe == ENOENT else { throw .system("check the old socket", path, errno: probe) }
        if unlink(path) != 0 && errno != ENOENT { throw .system("remove the stale socket", path, errno: errno) }
    }
}
