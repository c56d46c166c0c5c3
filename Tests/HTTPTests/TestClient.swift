import Glibc
import HTTP
import Synchronization

/// A minimal blocking HTTP/1.1 client over a raw socket, for driving the server the way hostile or
/// unusual clients do (pipelining, dribbling bytes, hanging up mid-stream).
final class TestClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw Failure("connect to port \(port) failed: errno \(errno)")
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends everything; returns false when the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Closes the client's socket (a client hanging up).
    func hangUp() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Waits up to `timeout` seconds for readable bytes; returns false on timeout. EOF counts as readable.
    func waitReadable(timeout: Double) -> Bool {
        if !buffer.isEmpty { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, Int32(timeout * 1000)) > 0
    }

    /// Reads more bytes into the buffer; returns 0 at EOF, -1 on timeout or error.
    private func fill(deadline: Double) -> Int {
        let remaining = deadline - Self.now()
        if remaining <= 0 { return -1 }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(remaining * 1000) + 1)
        if ready <= 0 { return -1 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { buffer.append(contentsOf: chunk[0..<n]) }
        return n < 0 ? (errno == ECONNRESET ? 0 : -1) : n
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func readLine(deadline: Double) throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[0..<lf])
                buffer.removeFirst(lf + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            let n = fill(deadline: deadline)
            if n == 0 { throw Failure("connection closed while reading a line") }
            if n < 0 { throw Failure("timed out reading a line") }
        }
    }

    private func readExactly(_ count: Int, deadline: Double) throws -> [UInt8] {
        while buffer.count < count {
            let n = fill(deadline: deadline)
            if n == 0 { throw Failure("connection closed after \(buffer.count) of \(count) body bytes") }
            if n < 0 { throw Failure("timed out reading the body") }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads one response (interim 1xx responses included, as their own response).
    func readResponse(timeout: Double = 5, headRequest: Bool = false) throws -> Response {
        let deadline = Self.now() + timeout
        let statusLine = try readLine(deadline: deadline)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw Failure("bad status line \(statusLine.debugDescription)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine(deadline: deadline)
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw Failure("bad header line \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters()))
        }
        var response = Response(status: status, headers: headers, body: [])
        if status < 200 || status == 204 || status == 304 || headRequest { return response }
        if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try readExactly(length, deadline: deadline)
        } else if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine(deadline: deadline)
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw Failure("bad chunk size line \(sizeLine.debugDescription)")
                }
                if size == 0 {
                    while try !readLine(deadline: deadline).isEmpty {}
                    break
                }
                response.body += try readExactly(size, deadline: deadline)
                guard try readLine(deadline: deadline).isEmpty else { throw Failure("chunk not followed by CRLF") }
            }
        } else {
            response.body = try readToEnd(timeout: max(0.1, deadline - Self.now()))
        }
        return response
    }

    /// Reads one chunk of a chunked body whose head was already read (for watching a stream as it comes).
    func readChunk(timeout: Double = 5) throws -> [UInt8] {
        let deadline = Self.now() + timeout
        let sizeLine = try readLine(deadline: deadline)
        guard let size = Int(sizeLine, radix: 16) else { throw Failure("bad chunk size line \(sizeLine.debugDescription)") }
        let bytes = try readExactly(size, deadline: deadline)
        _ = try readLine(deadline: deadline)
        return bytes
    }

    /// Reads the head of a response only.
    func readHead(timeout: Double = 5) throws -> Response {
        try readResponse(timeout: timeout, headRequest: true)
    }

    /// Reads until EOF; throws on timeout.
    func readToEnd(timeout: Double = 5) throws -> [UInt8] {
        let deadline = Self.now() + timeout
        while true {
            let n = fill(deadline: deadline)
            if n == 0 { break }
            if n < 0 { throw Failure("timed out waiting for the server to close") }
        }
        defer { buffer = [] }
        return buffer
    }

    /// Whether the server closes the connection within `timeout` seconds without sending anything more.
    func closesSilently(within timeout: Double) -> Bool {
        guard let rest = try? readToEnd(timeout: timeout) else { return false }
        return rest.isEmpty
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self[...]
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// A flag one side sets and the other waits for, across threads and tasks.
final class TestFlag: Sendable {
    private let state = Mutex(false)

    func set() { state.withLock { $0 = true } }

    var isSet: Bool { state.withLock { $0 } }

    /// Waits up to `timeout` seconds for the flag; returns whether it was set.
    func wait(timeout: Double) async -> Bool {
        let deadline = TestClient.now() + timeout
        while !isSet {
            if TestClient.now() > deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}

/// A value shared between a handler and a test.
final class TestBox<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    init(_ value: Value) { state = Mutex(value) }

    var value: Value {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    func update(_ body: (inout Value) -> Void) { state.withLock { body(&$0) } }
}

/// Runs `body` against a server on 127.0.0.1 with an ephemeral port, then drains it.
func withServer(
    limits: HTTPLimits = HTTPLimits(),
    eventLoops: Int = 1,
    requestIDs: HTTPServer.RequestIDGenerator? = nil,
    handler: @escaping HTTPServer.Handler,
    _ body: (_ port: Int, _ server: HTTPServer) async throws -> Void
) async throws {
    let fd = try TCPListener.bind(host: "127.0.0.1", port: 0)
    defer { close(fd) }
    guard let port = TCPListener.localPort(of: fd) else { throw TestClient.Failure("no local port") }
    let server = HTTPServer(listenFD: fd, limits: limits, eventLoops: eventLoops, requestIDs: requestIDs, handler: handler)
    try server.start()
    do {
        try await body(port, server)
    } catch {
        await server.drain(timeout: .zero)
        throw error
    }
    await server.drain(timeout: .milliseconds(200))
}
