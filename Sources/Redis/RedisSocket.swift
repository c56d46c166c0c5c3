import Glibc

/// The few socket calls the client makes, on non-blocking descriptors, with errors as ``RedisError``.
enum RedisSocket {
    /// What the caller's poll loop reports while a non-blocking connect is under way.
    typealias Wait = (_ descriptor: Int32, _ events: Int16, _ deadline: MonotonicTime) throws(RedisError) -> Bool

    /// Opens a non-blocking, close-on-exec stream socket connected to `endpoint`.
    /// - Parameters:
    ///   - endpoint: The server.
    ///   - deadline: When to give up.
    ///   - wait: Waits for the descriptor to become ready; `false` when the deadline passed.
    /// - Returns: The connected descriptor.
    /// - Throws: ``RedisError`` (``RedisError/Code/notConnected``) naming the address and the cause.
    static func connect(to endpoint: RedisURL.Endpoint, deadline: MonotonicTime, wait: Wait) throws(RedisError) -> Int32 {
        switch endpoint {
        case .tcp(let host, let port):
            return try connectTCP(host: host, port: port, deadline: deadline, wait: wait)
        case .unix(let path):
            return try connectUnix(path: path)
        }
    }

    private static func connectTCP(host: String, port: Int, deadline: MonotonicTime, wait: Wait) throws(RedisError) -> Int32 {
        let endpoint = RedisURL.Endpoint.tcp(host: host, port: port)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var addresses: UnsafeMutablePointer<addrinfo>?
        // Blocking name resolution, on the client's own I/O thread; an address literal never blocks.
        let status = getaddrinfo(host, String(port), &hints, &addresses)
        guard status == 0, let addresses else {
            throw RedisError(.notConnected, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(addresses) }

        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = addresses
        while let info = cursor {
            cursor = info.pointee.ai_next
            let descriptor = socket(
                info.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else {
                lastError = "socket: \(errorText(errno))"
                continue
            }
            // Commands are small and latency is the point: no Nagle delay.
            setOption(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY)
            // A server host that vanishes without a FIN (gone from the network) must not leave the
            // connection half-open for the kernel's defaults (2 h idle, ~15 min of retransmissions):
            // keepalive probes an idle connection after 5 s, every 2 s, 3 times; and data unacknowledged
            // for 10 s drops it. Either way the client sees an error and reconnects. A stopped server
            // (SIGSTOP) still has its kernel acknowledge, so it is met by command timeouts instead.
            setOption(descriptor, SOL_SOCKET, SO_KEEPALIVE)
            setOption(descriptor, Int32(IPPROTO_TCP), TCP_KEEPIDLE, 5)
            setOption(descriptor, Int32(IPPROTO_TCP), TCP_KEEPINTVL, 2)
            setOption(descriptor, Int32(IPPROTO_TCP), TCP_KEEPCNT, 3)
            setOption(descriptor, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT, 10_000)
            if Glibc.connect(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                return descriptor
            }
            var code = errno
            if code == EINPROGRESS {
                do throws(RedisError) {
                    guard try wait(descriptor, Int16(POLLOUT), deadline) else {
                        close(descriptor)
                        throw RedisError(.notConnected, "connecting to \(endpoint) timed out")
                    }
                } catch {
                    close(descriptor)
                    throw error
                }
                var socketError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                code = getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &socketError, &length) == 0 ? socketError : errno
                if code == 0 { return descriptor }
            }
            close(descriptor)
            lastError = errorText(code)
        }
        throw RedisError(.notConnected, "cannot connect to \(endpoint): \(lastError)")
    }

    private static func connectUnix(path: String) throws(RedisError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count <= RedisURL.maxSocketPathLength else {
            throw RedisError(.notConnected, "socket path \(path) is longer than \(RedisURL.maxSocketPathLength) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let descriptor = socket(
            AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw RedisError(.notConnected, "socket: \(errorText(errno))")
        }
        // A Unix socket connects at once or fails at once (EAGAIN: the server's backlog is full).
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            close(descriptor)
            throw RedisError(.notConnected, "cannot connect to \(path): \(errorText(code))")
        }
        return descriptor
    }

    /// Writes what the socket takes now.
    /// - Returns: Bytes written (0 when the socket buffer is full).
    /// - Throws: The error text when the connection is broken.
    static func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Int, SocketFailure> {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .success(0) }
        while true {
            // MSG_NOSIGNAL: a peer that went away must be an error here, not a SIGPIPE for the process.
            let count = send(descriptor, base, bytes.count, Int32(MSG_NOSIGNAL))
            if count >= 0 { return .success(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .success(0)
            case let code: return .failure(SocketFailure("write failed: \(errorText(code))"))
            }
        }
    }

    /// Reads what has arrived.
    /// - Returns: Bytes read; `nil` when nothing is there now; 0 at end of stream.
    static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int?, SocketFailure> {
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return .success(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .success(nil)
            case let code: return .failure(SocketFailure("read failed: \(errorText(code))"))
            }
        }
    }

    /// A broken connection, in words.
    struct SocketFailure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    private static func setOption(_ descriptor: Int32, _ level: Int32, _ option: Int32, _ value: Int32 = 1) {
        var value = value
        _ = setsockopt(descriptor, level, option, &value, socklen_t(MemoryLayout<Int32>.size))
    }
}
