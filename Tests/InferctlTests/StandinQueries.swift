import Foundation
import Glibc

/// Connects to a Unix socket and reads until the peer closes: a stand-in writes one line.
/// - Returns: What was read, or nil when the connection failed or nothing came within `timeout`.
func askUnix(_ path: String, timeout: Duration = .seconds(5)) -> String? {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard connected == 0 else { return nil }
    return readAll(descriptor, timeout: timeout)
}

/// Sends a GET to 127.0.0.1:port and returns the response.
func askHTTP(port: Int, timeout: Duration = .seconds(5)) -> String? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET / HTTP/1.1\r\nHost: test\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    return readAll(descriptor, timeout: timeout)
}

private func readAll(_ descriptor: Int32, timeout: Duration) -> String? {
    let deadline = ContinuousClock.now + timeout
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1024)
    while true {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return nil }
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(max(1, left / .milliseconds(1)))
        guard poll(&waiting, 1, milliseconds) > 0 else { return nil }
        let count = read(descriptor, &buffer, buffer.count)
        if count > 0 {
            bytes.append(contentsOf: buffer[0..<count])
        } else {
            return count == 0 && !bytes.isEmpty ? String(decoding: bytes, as: UTF8.self) : nil
        }
    }
}

/// Whether a process exists (a zombie counts).
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}

/// The wall-clock time of a log line's `ts`.
func timestamp(_ line: [String: Any]) -> Date? {
    guard let text = line["ts"] as? String else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}
