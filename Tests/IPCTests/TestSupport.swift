import Foundation
import Glibc
import Synchronization
import Testing
import TestKit

@testable import IPC
import Wire
import Basics

/// A one-shot signal between a server handler and the test.
final class Latch: Sendable {
    private struct State {
        var signaled = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    func signal() {
        let waiters = state.withLock { state in
            state.signaled = true
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    var isSignaled: Bool { state.withLock { $0.signaled } }

    /// Waits for the signal; false when `limit` passes first.
    func wait(_ limit: Duration = .seconds(5)) async -> Bool {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLock { state -> Bool in
                        if state.signaled { return true }
                        state.waiters[id] = continuation
                        return false
                    }
                    if now { continuation.resume(returning: true) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
                waiter?.resume(returning: false)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// Polls `condition` until it holds or `limit` passes (for counters with no event to wait on).
func eventually(_ limit: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now.advanced(by: limit)
    while clock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// A fresh directory under /tmp (short, so socket paths fit in `sun_path`).
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/ipc-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
        guard let base = buffer.baseAddress else { return false }
        return mkdtemp(base) != nil
    }
    guard made else { throw SocketError(operation: "mkdtemp", errno: errno) }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Message types of the test service.
enum TestType {
    static let echo: UInt16 = 1
    /// Payload: u32 count; answers "chunk 0" … then END "done".
    static let stream: UInt16 = 2
    /// Never answers; signals `started`, then `cancelled` from onCancel.
    static let hang: UInt16 = 3
    /// Payload: u32 milliseconds; answers "slept" after that long.
    static let sleep: UInt16 = 4
    /// Returns without answering.
    static let drop: UInt16 = 5
    /// Streams chunks until cancelled; signals `cancelled` from onCancel.
    static let endless: UInt16 = 6
    /// Answers with this server's name.
    static let whoami: UInt16 = 7
    /// Answers with a payload over the frame limit.
    static let oversized: UInt16 = 8
    /// ``AddRequest`` → ``AddResponse``.
    static let add: UInt16 = 9
}

/// A typed request of the test service.
struct AddRequest: WireMessage {
    static let type = TestType.add
    var numbers: [Int64]

    init(numbers: [Int64]) { self.numbers = numbers }

    init(from reader: inout WireReader) throws {
        numbers = try reader.readArray(maxCount: 1000, minElementSize: 8) { try $0.readInt64() }
    }

    func encode(to writer: inout WireWriter) {
        writer.writeArray(numbers) { $0.writeInt64($1) }
    }
}

/// The typed answer to ``AddRequest``.
struct AddResponse: WireCodable, Equatable {
    var sum: Int64

    init(sum: Int64) { self.sum = sum }

    init(from reader: inout WireReader) throws {
        sum = try reader.readInt64()
    }

    func encode(to writer: inout WireWriter) {
        writer.writeInt64(sum)
    }
}

/// Latches the test service signals.
final class ServiceProbe: Sendable {
    let started = Latch()
    let cancelled = Latch()
    let handlerTaskCancelled = Latch()
}

/// The test service's handler.
func testHandler(name: String = "A", probe: ServiceProbe = ServiceProbe()) -> @Sendable (IPCCall) async -> Void {
    { call in
        switch call.type {
        case TestType.echo:
            call.reply(call.payload)
        case TestType.stream:
            var reader = WireReader(call.payload)
            let count = (try? reader.readUInt32()) ?? 0
            for index in 0..<count {
                call.chunk(Array("chunk \(index)".utf8))
            }
            call.end(Array("done".utf8))
        case TestType.hang:
            call.onCancel { probe.cancelled.signal() }
            probe.started.signal()
            // Also prove the handler's task is cancelled with the call.
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
            }
            probe.handlerTaskCancelled.signal()
        case TestType.sleep:
            var reader = WireReader(call.payload)
            let milliseconds = (try? reader.readUInt32()) ?? 0
            probe.started.signal()
            try? await Task.sleep(for: .milliseconds(Int(milliseconds)))
            call.reply(Array("slept".utf8))
        case TestType.drop:
            return
        case TestType.endless:
            call.onCancel { probe.cancelled.signal() }
            var index = 0
            while call.chunk(Array("tick \(index)".utf8)) {
                index += 1
                try? await Task.sleep(for: .milliseconds(1))
            }
        case TestType.whoami:
            call.reply(Array(name.utf8))
        case TestType.oversized:
            call.reply([UInt8](repeating: 0, count: Frame.defaultMaxPayload + 1))
        case TestType.add:
            do {
                let request = try call.decode(AddRequest.self)
                call.reply(AddResponse(sum: request.numbers.reduce(0, +)))
            } catch {
                call.fail(code: IPCErrorCode.badRequest, message: "\(error)")
            }
        default:
            call.fail(code: IPCErrorCode.unknownType, message: "unknown message type \(call.type)")
        }
    }
}

/// A server of the test service on a socket in a temporary directory.
final class TestServer: Sendable {
    let directory: String
    let path: String
    let fd: Int32
    let server: IPCServer
    let probe: ServiceProbe

    init(
        directory: String? = nil, protocolName: String = "infer.test", version: UInt16 = 1, name: String = "A",
        maxFrame: Int = Frame.defaultMaxPayload, maxCallsPerConnection: Int = IPCServer.defaultMaxCallsPerConnection,
        inlineHandlers: Bool = false
    ) throws {
        let directory = try directory ?? makeTemporaryDirectory()
        let probe = ServiceProbe()
        self.directory = directory
        self.path = directory + "/s.sock"
        self.fd = try UnixSocket.listen(path: path)
        self.probe = probe
        self.server = IPCServer(
            listenFD: fd, protocolName: protocolName, version: version, maxFrame: maxFrame,
            maxCallsPerConnection: maxCallsPerConnection, inlineHandlers: inlineHandlers,
            handler: testHandler(name: name, probe: probe))
        try server.start()
    }

    func client(protocolName: String = "infer.test", version: UInt16 = 1, maxFrame: Int = Frame.defaultMaxPayload)
        -> IPCClient
    {
        IPCClient(path: path, protocolName: protocolName, version: version, maxFrame: maxFrame)
    }

    /// Drains, closes the listener; the directory stays (for a restart on the same path).
    func stop(drain: Duration = .milliseconds(200)) async {
        await server.drain(timeout: drain)
        close(fd)
    }
}

// MARK: Raw sockets

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

func helloFrame(_ name: String = "infer.test", version: UInt16 = 1) -> [UInt8] {
    FrameEncoder.encode(Frame(kind: .hello, payload: HelloPayload(name: name, version: version).encoded()))
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func u32Payload(_ value: UInt32) -> [UInt8] {
    var writer = WireWriter()
    writer.writeUInt32(value)
    return writer.bytes
}

// MARK: Hex

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

func bytesFromHex(_ text: String) -> [UInt8]? {
    let digits = Array(text.filter { !$0.isWhitespace })
    guard digits.count % 2 == 0 else { return nil }
    var result: [UInt8] = []
    result.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let byte = UInt8(String(digits[index..<(index + 2)]), radix: 16) else { return nil }
        result.append(byte)
        index += 2
    }
    return result
}
