import Glibc
import TestKit

@testable import IPC
import Wire

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
    /// Answers the call's trace context (`opt<block>`) and whether the handler ran with it as
    /// `TraceContext.current` (bool).
    static let trace: UInt16 = 10
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
        case TestType.trace:
            var writer = WireWriter()
            writer.writeOptional(call.traceContext) { $0.write($1) }
            writer.writeBool(TraceContext.current == call.traceContext)
            call.reply(writer.bytes)
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
    /// Where the socket is; a second server given the same directory takes over the path (a restart).
    let directory: TemporaryDirectory
    let path: String
    let fd: Int32
    let server: IPCServer
    let probe: ServiceProbe

    init(
        directory: TemporaryDirectory? = nil, protocolName: String = "infer.test", version: UInt16 = 1, name: String = "A",
        maxFrame: Int = Frame.defaultMaxPayload, maxCallsPerConnection: Int = IPCServer.defaultMaxCallsPerConnection,
        inlineHandlers: Bool = false
    ) throws {
        let directory = try directory ?? TemporaryDirectory()
        let probe = ServiceProbe()
        self.directory = directory
        self.path = directory.file("s.sock")
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
