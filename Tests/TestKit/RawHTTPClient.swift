import Foundation
import Glibc

/// A blocking TCP client that sends exact bytes and reads HTTP/1.1 responses by hand, for driving an HTTP
/// server the way a broken or hostile client does: malformed requests, dribbled headers, pipelining,
/// hanging up. curl cannot send most of these (it fixes or refuses them), which is why this exists.
/// Used by HTTPTests (the server alone) and StackTests (frontd in a real stack).
public final class RawHTTPClient {
    /// One response as read off the wire.
    public struct Response {
        public var status: Int
        /// Header fields in order, names as sent.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// The first value of `name` (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// How reading ended when no response came.
    public enum ReadFailure: Error, CustomStringConvertible {
        /// The server closed the connection (FIN, or a reset) after sending these bytes.
        case closed(received: [UInt8], reset: Bool)
        /// Nothing (more) arrived in time.
        case timedOut(received: [UInt8])
        case malformed(String)
        /// No connection could be made.
        case connect(String)

        public var description: String {
            switch self {
            case .closed(let bytes, let reset): return "connection \(reset ? "reset" : "closed") after \(bytes.count) bytes: \(String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription)"
            case .timedOut(let bytes): return "timed out after \(bytes.count) bytes: \(String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription)"
            case .malformed(let what): return "malformed response: \(what)"
            case .connect(let what): return what
            }
        }
    }

    public let fd: Int32
    private var buffer: [UInt8] = []

    public init(port: Int) throws(ReadFailure) {
        // The socket is stored only once connected: a class whose init throws after every stored property
        // is set still runs its deinit, which would close the descriptor a second time (and with it
        // whatever another thread had opened under the same number meanwhile).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connect("socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .connect("connect to 127.0.0.1:\(port) failed: errno \(code)")
        }
        self.fd = fd
    }

    deinit { Glibc.close(fd) }

    /// Sends every byte; false when the server has closed or reset the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Closes the socket at once (a client going away mid-response).
    public func hangUp() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Monotonic seconds, for timing what the server does.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Reads what arrives before `deadline`: the byte count, 0 at EOF, -1 on timeout, -2 on reset.
    private func fill(deadline: Double) -> Int {
        let remaining = deadline - Self.now()
        if remaining <= 0 { return -1 }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, Int32(remaining * 1000) + 1) <= 0 { return -1 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffer.append(contentsOf: chunk[0..<n])
            return n
        }
        if n == 0 { return 0 }
        return errno == ECONNRESET ? -2 : -1
    }

    private func more(_ deadline: Double) throws(ReadFailure) {
        switch fill(deadline: deadline) {
        case 0: throw .closed(received: buffer, reset: false)
        case -2: throw .closed(received: buffer, reset: true)
        case -1: throw .timedOut(received: buffer)
        default: return
        }
    }

    private func line(_ deadline: Double) throws(ReadFailure) -> String {
        while true {
            if let lf = buffer.firstIndex(of: 0x0A) {
                var bytes = Array(buffer[0..<lf])
                buffer.removeFirst(lf + 1)
                if bytes.last == 0x0D { bytes.removeLast() }
                return String(decoding: bytes, as: UTF8.self)
            }
            try more(deadline)
        }
    }

    private func exactly(_ count: Int, _ deadline: Double) throws(ReadFailure) -> [UInt8] {
        while buffer.count < count { try more(deadline) }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads one whole response (a chunked body is de-chunked; one with neither Content-Length nor chunked
    /// framing ends when the connection does, RFC 9112 §6.3). With `headOnly` (or for a HEAD request's
    /// response), stops after the head.
    public func readResponse(timeout: Double = 10, headOnly: Bool = false) throws(ReadFailure) -> Response {
        let deadline = Self.now() + timeout
        let statusLine = try line(deadline)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw .malformed("status line \(statusLine.debugDescription)")
        }
        var response = Response(status: status, headers: [], body: [])
        while true {
            let field = try line(deadline)
            if field.isEmpty { break }
            guard let colon = field.firstIndex(of: ":") else { throw .malformed("header line \(field.debugDescription)") }
            response.headers.append((String(field[..<colon]), field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        if headOnly || status == 204 || status == 304 || status < 200 { return response }
        if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try exactly(length, deadline)
        } else if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try line(deadline)
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw .malformed("chunk size line \(sizeLine.debugDescription)")
                }
                if size == 0 {
                    while try !line(deadline).isEmpty {}
                    break
                }
                response.body += try exactly(size, deadline)
                _ = try line(deadline)
            }
        } else {
            response.body = try toEnd(deadline)  // neither framing: the body ends with the connection
        }
        return response
    }

    /// Reads until the server closes the connection; what came is returned.
    public func readToEnd(timeout: Double = 10) throws(ReadFailure) -> [UInt8] {
        try toEnd(Self.now() + timeout)
    }

    private func toEnd(_ deadline: Double) throws(ReadFailure) -> [UInt8] {
        while true {
            switch fill(deadline: deadline) {
            case 0, -2:
                defer { buffer = [] }
                return buffer
            case -1: throw .timedOut(received: buffer)
            default: continue
            }
        }
    }

    /// Reads one chunk of a chunked body whose head was read with `headOnly` (watching a stream arrive).
    public func readChunk(timeout: Double = 30) throws(ReadFailure) -> [UInt8] {
        let deadline = Self.now() + timeout
        let sizeLine = try line(deadline)
        guard let size = Int(sizeLine, radix: 16) else { throw .malformed("chunk size line \(sizeLine.debugDescription)") }
        let bytes = try exactly(size, deadline)
        _ = try line(deadline)
        return bytes
    }

    /// Whether the server closes the connection within `timeout` seconds without sending another byte.
    public func closesWithoutReply(within timeout: Double) -> Bool {
        let deadline = Self.now() + timeout
        while true {
            if !buffer.isEmpty { return false }
            switch fill(deadline: deadline) {
            case 0, -2: return buffer.isEmpty
            case -1: return false
            default: continue
            }
        }
    }

    /// Whether bytes (or the end of the connection) arrive within `timeout` seconds; they stay buffered.
    public func hasInput(within timeout: Double) -> Bool {
        if !buffer.isEmpty { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, Int32(timeout * 1000)) > 0
    }

    /// Whether the server has sent nothing within `timeout` seconds and kept the connection open.
    public func staysSilent(for timeout: Double) -> Bool {
        buffer.isEmpty && fill(deadline: Self.now() + timeout) == -1
    }
}
