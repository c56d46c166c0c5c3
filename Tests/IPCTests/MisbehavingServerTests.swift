import Foundation
import Glibc
import Testing
import TestKit

@testable import IPC
@testable import Reactor
import Wire

/// A hand-written peer on a real socket: accepts one connection on its own thread, greets the client,
/// reads its first REQUEST, then does what the test says.
final class RawServer: Sendable {
    enum Act: Sendable {
        /// Writes these bytes after the first REQUEST.
        case send([UInt8])
        /// Closes the connection after the first REQUEST.
        case close
    }

    let directory: TemporaryDirectory
    let path: String
    let fd: Int32
    let finished = Latch()

    init(act: Act) throws {
        directory = try TemporaryDirectory()
        path = directory.file("raw.sock")
        fd = try UnixSocket.listen(path: path)
        let fd = fd
        let finished = finished
        Thread.detachNewThread {
            defer { finished.signal() }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 5000) == 1 else { return }
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            var decoder = FrameDecoder()
            guard case let .frame(hello)? = try? readFrame(connection, decoder: &decoder), hello.kind == .hello else { return }
            try? writeAll(connection, FrameEncoder.encode(Frame(kind: .helloAck, payload: hello.payload)))
            guard case let .frame(request)? = try? readFrame(connection, decoder: &decoder), request.kind == .request
            else { return }
            switch act {
            case let .send(bytes): try? writeAll(connection, bytes)
            case .close: return
            }
            // Wait for the client to hang up.
            _ = try? readFrame(connection, decoder: &decoder, timeoutMilliseconds: 2000)
        }
    }

    func stop() async {
        _ = await finished.wait()
        close(fd)
        directory.remove()
    }
}

@Suite("IPC client against a misbehaving server")
struct MisbehavingServerTests {
    static let cases: [(String, RawServer.Act)] = [
        ("garbage", .send(Array(repeating: 0xEE, count: 32))),
        ("a REQUEST frame", .send(FrameEncoder.encode(Frame(kind: .request, type: 1, correlation: 1, payload: [0, 0, 0, 0])))),
        ("an oversized header", .send([0x7F, 0xFF, 0xFF, 0xFF, 1, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
        ("a malformed ERROR", .send(FrameEncoder.encode(Frame(kind: .error, type: 1, correlation: 1, payload: [1])))),
    ]

    @Test("a bad frame from the server fails the calls sent as a protocol violation", arguments: cases)
    func badFrame(_ label: String, _ act: RawServer.Act) async throws {
        let server = try RawServer(act: act)
        let client = IPCClient(path: server.path, protocolName: "infer.test", version: 1)
        do {
            _ = try await client.call(type: 1, payload: [], timeout: .seconds(5))
            Issue.record("\(label): expected a protocol violation")
        } catch IPCError.protocolViolation {
        } catch {
            Issue.record("\(label): unexpected \(error)")
        }
        client.close()
        await server.stop()
    }

    @Test("a server that closes after reading the request: connectionLost")
    func closedAfterRequest() async throws {
        let server = try RawServer(act: .close)
        let client = IPCClient(path: server.path, protocolName: "infer.test", version: 1)
        await #expect(throws: IPCError.connectionLost) {
            try await client.call(type: 1, payload: [], timeout: .seconds(5))
        }
        await server.stop()
    }

    @Test("a server that never answers HELLO: unavailable at the deadline")
    func silentServer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("silent.sock")
        let fd = try UnixSocket.listen(path: path)  // listening, never accepting: the backlog holds us
        defer { close(fd) }
        let client = IPCClient(path: path, protocolName: "infer.test", version: 1)
        do {
            _ = try await client.call(type: 1, payload: [], timeout: .milliseconds(80))
            Issue.record("expected unavailable")
        } catch let IPCError.unavailable(reason) {
            #expect(reason.contains("HELLO_ACK"))
        }
    }
}

@Suite("IPC event loop timers")
struct TimerHeapTests {
    @Test("timers pop in deadline order, and removal anywhere keeps the order")
    func order() {
        var heap = TimerHeap()
        let deadlines: [UInt64] = [50, 10, 40, 30, 20, 60, 5, 45, 15, 35]
        let timers = deadlines.map { LoopTimer(deadline: $0) {} }
        for timer in timers { heap.insert(timer) }
        heap.remove(timers[2])  // 40
        heap.remove(timers[6])  // 5
        heap.remove(timers[6])  // twice: harmless
        var popped: [UInt64] = []
        while let timer = heap.popFirst() { popped.append(timer.deadline) }
        #expect(popped == [10, 15, 20, 30, 35, 45, 50, 60])
    }
}
