import Basics
import FoundationEssentials
import Glibc

/// One `POST` to a plain `http://` collector over a blocking socket, with one deadline for the whole
/// exchange: look up the host, connect, write the request (`Connection: close`), read the answer's status
/// line. This is all an OTLP export needs, and it keeps URLSession — FoundationNetworking, libcurl and the
/// thirty libraries it loads, ~6 MiB resident in every daemon — out of the processes that export spans.
/// Runs on the span processor's own thread; never on a loop's.
struct CollectorPost {
    /// The parts of the collector's URL a request needs.
    struct Target: Equatable {
        /// The host as the URL names it (an IP literal without brackets, or a name).
        var host: String
        var port: UInt16
        /// The path and query, percent-encoded as in the URL (`/` when empty).
        var pathAndQuery: String
        /// The `Host` header's value.
        var hostHeader: String

        /// - Returns: nil unless `url` is `http://` with a host and a valid port.
        init?(_ url: URL) {
            guard url.scheme?.lowercased() == "http", var host = url.host(percentEncoded: false), !host.isEmpty else { return nil }
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let port = url.port ?? 80
            guard (1...65535).contains(port) else { return nil }
            self.host = host
            self.port = UInt16(port)
            var path = url.path(percentEncoded: true)
            if path.isEmpty { path = "/" }
            if let query = url.query(percentEncoded: true) { path += "?" + query }
            pathAndQuery = path
            let shownHost = host.contains(":") ? "[\(host)]" : host
            hostHeader = url.port == nil ? shownHost : "\(shownHost):\(port)"
        }
    }

    /// Longest answer head read; a collector's is a few hundred bytes.
    static let maxHeadBytes = 16 * 1024

    let target: Target
    /// Extra headers, names and values already checked (``OTLPHTTPExporter/parseHeaders(_:)``).
    let headers: [(name: String, value: String)]

    /// The request's bytes: head and body.
    func request(body: [UInt8], contentType: String) -> [UInt8] {
        var head = "POST \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
        head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for header in headers { head += "\(header.name): \(header.value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// Sends `body` and waits for the answer's status, until `deadline` at most (connect, write and read;
    /// a host name's lookup, getaddrinfo, is not bounded by it — give an IP literal when that matters).
    /// A new connection each time: an export every few seconds does not need one kept alive.
    /// - Returns: The final (non-1xx) status code, or nil when the collector could not be reached, cut the
    ///   connection, answered something that is not HTTP/1.x, or the deadline passed.
    func send(body: [UInt8], contentType: String, deadline: ContinuousClock.Instant) -> Int? {
        guard let socket = connect(deadline: deadline) else { return nil }
        defer { Glibc.close(socket) }
        let bytes = request(body: body, contentType: contentType)
        guard write(bytes, to: socket, deadline: deadline) else { return nil }
        return readStatus(from: socket, deadline: deadline)
    }

    /// A connected non-blocking socket to the first address of the host that answers, or nil.
    private func connect(deadline: ContinuousClock.Instant) -> Int32? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(target.host, String(target.port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            entry = current.pointee.ai_next
            let fd = Glibc.socket(current.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { continue }
            if Glibc.connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 { return fd }
            if errno == EINPROGRESS, wait(fd, for: Int16(POLLOUT), deadline: deadline) {
                var failure: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                if getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) == 0, failure == 0 { return fd }
            }
            Glibc.close(fd)
            if ContinuousClock.now >= deadline { return nil }
        }
        return nil
    }

    private func write(_ bytes: [UInt8], to fd: Int32, deadline: ContinuousClock.Instant) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EAGAIN || errno == EINTR {
                guard wait(fd, for: Int16(POLLOUT), deadline: deadline) else { return false }
            } else {
                return false
            }
        }
        return true
    }

    private func readStatus(from fd: Int32, deadline: ContinuousClock.Instant) -> Int? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while received.count < Self.maxHeadBytes {
            if let status = Self.finalStatus(in: received) { return status }
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += chunk[..<count]
            } else if count < 0, errno == EAGAIN || errno == EINTR {
                guard wait(fd, for: Int16(POLLIN), deadline: deadline) else { return nil }
            } else {
                return nil
            }
        }
        return nil
    }

    /// The status of the first answer head in `bytes` that is complete and not 1xx (an interim
    /// `100 Continue` is skipped); nil while none is complete or when the bytes are not HTTP/1.x.
    static func finalStatus(in bytes: [UInt8]) -> Int? {
        var start = 0
        let end: [UInt8] = [13, 10, 13, 10]
        while true {
            guard let headEnd = firstIndex(of: end, in: bytes, from: start) else { return nil }
            let line = bytes[start..<headEnd].prefix { $0 != 13 }
            let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)), parts[1].count == 3,
                  let status = Int(String(decoding: parts[1], as: UTF8.self)) else { return nil }
            if status >= 200 { return status }
            start = headEnd + end.count
        }
    }

    private static func firstIndex(of needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for index in start...(bytes.count - needle.count) where bytes[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }

    /// Waits until `fd` is ready for `events` or `deadline` passes.
    private func wait(_ fd: Int32, for events: Int16, deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return false }
            // Rounded up, so that poll never returns just before the deadline and spins.
            let milliseconds = Int32(clamping: left.milliseconds &+ 1)
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = Glibc.poll(&entry, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0, errno != EINTR { return false }
        }
    }
}
