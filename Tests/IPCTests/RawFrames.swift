import Glibc

@testable import IPC
import Basics
import Wire

/// Writes all of `bytes` to a blocking socket.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if written < 0 {
            if errno == EINTR { continue }
            throw SocketError(operation: "send", errno: errno)
        }
        offset += written
    }
}

/// What a raw read saw.
enum RawRead: Equatable {
    case frame(Frame)
    case closed
    case timedOut
}

/// Reads one frame (or end of stream) from a blocking socket, waiting at most `timeoutMilliseconds`.
func readFrame(_ fd: Int32, decoder: inout FrameDecoder, timeoutMilliseconds: Int32 = 5000) throws -> RawRead {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        if let frame = try decoder.next() { return .frame(frame) }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, timeoutMilliseconds)
        if ready == 0 { return .timedOut }
        if ready < 0 {
            if errno == EINTR { continue }
            throw SocketError(operation: "poll", errno: errno)
        }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count == 0 { return .closed }
        if count < 0 {
            if errno == EINTR { continue }
            if errno == ECONNRESET { return .closed }
            throw SocketError(operation: "recv", errno: errno)
        }
        decoder.feed(buffer[0..<count])
    }
}

/// The bytes of a HELLO frame for protocol `name`.
func helloFrame(_ name: String = "infer.test", version: UInt16 = 1) -> [UInt8] {
    FrameEncoder.encode(Frame(kind: .hello, payload: HelloPayload(name: name, version: version).encoded()))
}

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A payload of one u32, as the test service's stream and sleep messages take.
func u32Payload(_ value: UInt32) -> [UInt8] {
    var writer = WireWriter()
    writer.writeUInt32(value)
    return writer.bytes
}
