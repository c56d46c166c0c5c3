import Foundation
import Glibc
import Testing
import TestKit

@testable import IPC
import Wire

/// A server as it was before protocol features: one thread, any number of connections one after another,
/// a HELLO decoded strictly (`name · version` and nothing more, else ERROR 1 and close) and frames with a
/// flag refused, as every version 1 server did. Each REQUEST is answered with its own payload.
final class LegacyServer: Sendable {
    let directory: TemporaryDirectory
    let path: String
    let fd: Int32
    let finished = Latch()
    /// HELLO payloads received, in order.
    let hellos = Recorder<[UInt8]>()
    /// REQUEST frames received.
    let requests = Recorder<Frame>()

    init(connections: Int) throws {
        directory = try TemporaryDirectory()
        path = directory.file("legacy.sock")
        fd = try UnixSocket.listen(path: path)
        let fd = fd, finished = finished, hellos = hellos, requests = requests
        Thread.detachNewThread {
            defer { finished.signal() }
            for _ in 0..<connections {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 5000) == 1 else { return }
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                defer { close(connection) }
                var decoder = FrameDecoder()
                guard case let .frame(hello)? = try? readFrame(connection, decoder: &decoder), hello.kind == .hello else { continue }
                hellos.append(hello.payload)
                var reader = WireReader(hello.payload)
                do {
                    _ = try reader.readString(maxLength: 256)
                    _ = try reader.readUInt16()
                    try reader.expectEnd()
                } catch {
                    let refusal = ErrorPayload(code: IPCErrorCode.protocolViolation, message: "malformed HELLO: \(error)")
                    try? writeAll(connection, FrameEncoder.encode(Frame(kind: .error, payload: refusal.encoded())))
                    continue
                }
                try? writeAll(connection, FrameEncoder.encode(Frame(kind: .helloAck, payload: hello.payload)))
                while case let .frame(request)? = try? readFrame(connection, decoder: &decoder, timeoutMilliseconds: 2000) {
                    requests.append(request)
                    try? writeAll(connection, FrameEncoder.encode(Frame(
                        kind: .reply, type: request.type, correlation: request.correlation, payload: request.payload)))
                }
            }
        }
    }

    func stop() async {
        _ = await finished.wait()
        close(fd)
        directory.remove()
    }
}

/// A trace context for the tests.
let sampleTrace = TraceContext(
    traceID: TraceID(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736)!, spanID: SpanID(0x00f0_67aa_0ba9_02b7)!,
    flags: 1, state: "congo=t61rcWkgMzE")

@Suite("IPC trace context: negotiated in HELLO, compatible both ways")
struct TraceContextIPCTests {
    /// Decodes the test service's trace answer.
    static func traced(_ bytes: [UInt8]) throws -> (TraceContext?, Bool) {
        var reader = WireReader(bytes)
        let trace = try reader.readOptional { try $0.read(TraceContext.self) }
        return (trace, try reader.readBool())
    }

    @Test("a new client and a new server: the handler gets the caller's context, also as TraceContext.current")
    func newToNew() async throws {
        let server = try TestServer()
        let client = server.client()
        let answer = try await TraceContext.$current.withValue(sampleTrace) {
            try await client.call(type: TestType.trace, payload: [], timeout: .seconds(5))
        }
        let (trace, bound) = try Self.traced(answer)
        #expect(trace == sampleTrace)
        #expect(bound)
        // No context in the task: none on the wire.
        let (none, _) = try Self.traced(try await client.call(type: TestType.trace, payload: [], timeout: .seconds(5)))
        #expect(none == nil)
        // Streams carry it too.
        var streamed: [[UInt8]] = []
        for try await piece in TraceContext.$current.withValue(sampleTrace, operation: {
            client.stream(type: TestType.trace, payload: [], timeout: .seconds(5))
        }) { streamed.append(piece) }
        #expect(try Self.traced(try #require(streamed.first)).0 == sampleTrace)
        client.close()
        await server.stop()
        server.directory.remove()
    }

    @Test("a new client and a server from before features: refused once, greeted again the version 1 way, no flag sent")
    func newClientOldServer() async throws {
        let legacy = try LegacyServer(connections: 2)
        let client = IPCClient(path: legacy.path, protocolName: "infer.test", version: 1)
        let answer = try await TraceContext.$current.withValue(sampleTrace) {
            try await client.call(type: 1, payload: Array("ping".utf8), timeout: .seconds(5))
        }
        // The legacy server echoes the payload it read: the timeout, then the message, no block.
        #expect(Array(answer.dropFirst(4)) == Array("ping".utf8))
        let hellos = legacy.hellos.all
        #expect(hellos.count == 2)
        #expect(hellos.first == HelloPayload(name: "infer.test", version: 1, features: ProtocolFeatures.supported).encoded())
        #expect(hellos.last == HelloPayload(name: "infer.test", version: 1).encoded())
        #expect(legacy.requests.all.map(\.flags) == [0])
        client.close()
        await legacy.stop()
    }

    /// Writes `bytes` on a raw connection and reads the one frame that answers them.
    static func exchange(_ fd: Int32, _ bytes: [UInt8], _ decoder: inout FrameDecoder) throws -> Frame {
        try writeAll(fd, bytes)
        guard case let .frame(frame) = try readFrame(fd, decoder: &decoder) else {
            throw TestTimeout(what: "an answer from the server")
        }
        return frame
    }

    static let plainRequest = FrameEncoder.encode(Frame(kind: .request, type: TestType.trace, correlation: 1, payload: [0, 0, 3, 0xE8]))

    @Test("an old client and a new server: the HELLO_ACK it knows, its requests served, no context")
    func oldClientNewServer() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let fd = try UnixSocket.connect(path: server.path)
        defer { close(fd) }
        var decoder = FrameDecoder()
        let ack = try Self.exchange(fd, helloFrame("infer.test"), &decoder)
        // Byte for byte the version 1 answer: a client from before features decodes it strictly.
        #expect(ack.kind == .helloAck)
        #expect(ack.payload == HelloPayload(name: "infer.test", version: 1).encoded())
        let reply = try Self.exchange(fd, Self.plainRequest, &decoder)
        #expect(try Self.traced(reply.payload).0 == nil)
        await server.stop()
    }

    @Test("a REQUEST with a flag the connection did not negotiate, an unknown flag or a malformed block is a protocol violation",
          arguments: [(false, FrameFlags.traceContext, sampleTrace.encoded()), (true, UInt16(0x0004), []),
                      (true, FrameFlags.traceContext, [0, 3, 1, 2, 3])])
    func refusedFlags(negotiate: Bool, flags: UInt16, block: [UInt8]) async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let fd = try UnixSocket.connect(path: server.path)
        defer { close(fd) }
        var decoder = FrameDecoder()
        let hello = HelloPayload(name: "infer.test", version: 1, features: negotiate ? ProtocolFeatures.supported : nil)
        let ack = try Self.exchange(fd, FrameEncoder.encode(Frame(kind: .hello, payload: hello.encoded())), &decoder)
        #expect(try HelloPayload(decoding: ack.payload).features == (negotiate ? ProtocolFeatures.traceContext : nil))
        let request = Frame(kind: .request, type: TestType.trace, correlation: 1, flags: flags, payload: block + [0, 0, 3, 0xE8])
        let refusal = try Self.exchange(fd, FrameEncoder.encode(request), &decoder)
        #expect(refusal.kind == .error && refusal.correlation == 0)
        #expect(try ErrorPayload(decoding: refusal.payload).code == IPCErrorCode.protocolViolation)
        await server.stop()
    }

    @Test("the trace-context block: round trip, fed one byte at a time in a frame, invalid ids refused")
    func block() throws {
        #expect(try TraceContext(decoding: sampleTrace.encoded()) == sampleTrace)
        let frame = Frame(kind: .request, type: 1, correlation: 9, flags: FrameFlags.traceContext,
                          payload: sampleTrace.encoded() + [0, 0, 0, 1])
        var decoder = FrameDecoder(acceptedFlags: FrameFlags.known)
        var decoded: Frame?
        for byte in FrameEncoder.encode(frame) {
            decoder.feed([byte])
            if let next = try decoder.next() { decoded = next }
        }
        #expect(decoded == frame)
        var zeroTrace = sampleTrace.encoded()
        for index in 2..<18 { zeroTrace[index] = 0 }
        #expect(throws: WireError.self) { try TraceContext(decoding: zeroTrace) }
        var zeroSpan = sampleTrace.encoded()
        for index in 18..<26 { zeroSpan[index] = 0 }
        #expect(throws: WireError.self) { try TraceContext(decoding: zeroSpan) }
        // A version 1 decoder (no flags accepted) refuses the frame before its payload.
        var old = FrameDecoder()
        old.feed(FrameEncoder.encode(frame))
        #expect(throws: WireError.self) { try old.next() }
    }
}
