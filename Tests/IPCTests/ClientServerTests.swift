import Glibc
import Synchronization
import Testing
import TestKit

@testable import IPC
import Wire
import Basics

@Suite("IPC client and server over a real socket")
struct ClientServerTests {
    @Test("100 concurrent calls share one connection", arguments: [false, true])
    func concurrentCalls(inlineHandlers: Bool) async throws {
        let server = try TestServer(inlineHandlers: inlineHandlers)
        defer { server.directory.remove() }
        let client = server.client()
        try await withTimeout(.seconds(10)) {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        let payload = bytes("call \(index)")
                        let answer = try await client.call(type: TestType.echo, payload: payload, timeout: .seconds(5))
                        return answer == payload
                    }
                }
                var matched = 0
                for try await ok in group where ok { matched += 1 }
                #expect(matched == 100)
            }
        }
        #expect(server.server.stats.acceptedConnections == 1)
        #expect(server.server.stats.startedCalls == 100)
        #expect(await eventually { server.server.inFlightCalls == 0 })
        #expect(client.pendingCount == 0)
        await server.stop()
    }

    @Test("large payloads cross in both directions")
    func largePayloads() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let payload = (0..<(Frame.defaultMaxPayload - 4)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let answers = try await withTimeout(.seconds(10)) {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await client.call(type: TestType.echo, payload: payload, timeout: .seconds(5)) == payload
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        #expect(answers == 4)
        await server.stop()
    }

    @Test("a streamed answer arrives chunk by chunk, END's payload last")
    func streamed() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let pieces = try await withTimeout(.seconds(5)) {
            var pieces: [String] = []
            for try await chunk in client.stream(type: TestType.stream, payload: u32Payload(5), timeout: .seconds(5)) {
                pieces.append(String(decoding: chunk, as: UTF8.self))
            }
            return pieces
        }
        #expect(pieces == ["chunk 0", "chunk 1", "chunk 2", "chunk 3", "chunk 4", "done"])
        // The same answer through call() comes back joined.
        let joined = try await client.call(type: TestType.stream, payload: u32Payload(2), timeout: .seconds(5))
        #expect(String(decoding: joined, as: UTF8.self) == "chunk 0chunk 1done")
        // A REPLY to a stream is one element.
        var single: [[UInt8]] = []
        for try await chunk in client.stream(type: TestType.echo, payload: bytes("one"), timeout: .seconds(5)) {
            single.append(chunk)
        }
        #expect(single == [bytes("one")])
        await server.stop()
    }

    @Test("cancelling the caller's task sends CANCEL: the server's onCancel fires, the caller gets CancellationError")
    func cancel() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let task = Task {
            try await client.call(type: TestType.hang, payload: [], timeout: .seconds(30))
        }
        #expect(await server.probe.started.wait())
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(await server.probe.cancelled.wait())
        #expect(await server.probe.handlerTaskCancelled.wait())
        #expect(await eventually { server.server.inFlightCalls == 0 })
        #expect(client.pendingCount == 0)
        // The connection is still good.
        #expect(try await client.call(type: TestType.echo, payload: bytes("after"), timeout: .seconds(5)) == bytes("after"))
        await server.stop()
    }

    @Test("a task cancelled before calling never sends")
    func cancelledBeforeCall() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.call(type: TestType.echo, payload: [], timeout: .seconds(5))
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(client.pendingCount == 0)
        await server.stop()
    }

    @Test("dropping a stream early sends CANCEL")
    func streamDropped() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        try await withTimeout(.seconds(5)) {
            var seen = 0
            for try await _ in client.stream(type: TestType.endless, payload: [], timeout: .seconds(30)) {
                seen += 1
                if seen == 3 { break }
            }
        }
        #expect(await server.probe.cancelled.wait())
        #expect(await eventually { server.server.inFlightCalls == 0 && client.pendingCount == 0 })
        await server.stop()
    }

    @Test("a deadline expiring throws timeout and cancels the call on the server")
    func deadline() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: IPCError.timeout) {
            try await client.call(type: TestType.hang, payload: [], timeout: .milliseconds(100))
        }
        let elapsed = clock.now - start
        #expect(elapsed >= .milliseconds(95))
        #expect(elapsed < .seconds(2))
        #expect(await server.probe.cancelled.wait())
        await server.stop()
    }

    @Test("the server sees the client's timeout as the call's deadline")
    func deadlineVisible() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("s.sock")
        let fd = try UnixSocket.listen(path: path)
        defer { close(fd) }
        let server = IPCServer(listenFD: fd, protocolName: "infer.test", version: 1) { call in
            guard let deadline = call.deadline else {
                call.reply(u32Payload(0))
                return
            }
            let left = ContinuousClock.now.duration(to: deadline)
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            call.reply(u32Payload(UInt32(max(0, milliseconds))))
        }
        try server.start()
        let client = IPCClient(path: path, protocolName: "infer.test", version: 1)
        let clock = ContinuousClock()
        let start = clock.now
        let answer = try await client.call(type: 1, payload: [], timeout: .seconds(3))
        let elapsed = clock.now - start
        var reader = WireReader(answer)
        let milliseconds = Int(try reader.readUInt32())
        // What the server saw left, plus what the round trip took (bounded by it), is the timeout given.
        let roundTrip = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        #expect(milliseconds <= 3000)
        #expect(milliseconds >= 3000 - roundTrip - 5)
        await server.drain(timeout: .milliseconds(100))
    }

    @Test("after a restart on the same path the client reconnects within the deadline")
    func restart() async throws {
        let first = try TestServer(name: "A")
        defer { first.directory.remove() }
        let client = first.client()
        #expect(try await client.call(type: TestType.whoami, payload: [], timeout: .seconds(2)) == bytes("A"))
        await first.stop()

        // Downtime is the scenario here, not synchronisation: B comes up 150 ms later on the same path.
        let directory = first.directory
        let second = Task {
            try await Task.sleep(for: .milliseconds(150))
            return try TestServer(directory: directory, name: "B")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let answer = try await client.call(type: TestType.whoami, payload: [], timeout: .seconds(5))
        #expect(answer == bytes("B"))
        #expect(clock.now - start >= .milliseconds(100))
        let restarted = try await second.value
        #expect(restarted.server.stats.acceptedConnections >= 1)
        await restarted.stop()
    }

    @Test("calls a draining server refuses are retried on the next server")
    func drainHandsOver() async throws {
        let first = try TestServer(name: "A")
        defer { first.directory.remove() }
        let client = first.client()
        // A call in flight keeps A draining.
        let slow = Task { try await client.call(type: TestType.sleep, payload: u32Payload(300), timeout: .seconds(5)) }
        #expect(await first.probe.started.wait())
        let drained = Task { await first.server.drain(timeout: .seconds(5)) }
        #expect(await eventually { first.server.isDraining })
        // A refuses this one (shutting down); the client holds it for a new connection.
        let handedOver = Task { try await client.call(type: TestType.whoami, payload: [], timeout: .seconds(5)) }
        #expect(try await slow.value == bytes("slept"))
        await drained.value
        close(first.fd)
        let second = try TestServer(directory: first.directory, name: "B")
        #expect(try await handedOver.value == bytes("B"))
        #expect(first.server.stats.rejectedCalls >= 1)
        await second.stop()
    }

    @Test("calls sent on a connection that dies fail with connectionLost")
    func connectionLost() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let task = Task { try await client.call(type: TestType.hang, payload: [], timeout: .seconds(10)) }
        #expect(await server.probe.started.wait())
        await server.server.drain(timeout: .zero)
        await #expect(throws: IPCError.connectionLost) { try await task.value }
        #expect(await server.probe.cancelled.wait())
        close(server.fd)
    }

    @Test("nobody listening: unavailable at the deadline, naming the reason")
    func unavailable() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let client = IPCClient(path: directory.file("missing.sock"), protocolName: "infer.test", version: 1)
        do {
            _ = try await client.call(type: 1, payload: [], timeout: .milliseconds(60))
            Issue.record("expected unavailable")
        } catch let IPCError.unavailable(reason) {
            #expect(reason.contains("No such file or directory"))
        }
    }

    @Test("a socket serving another protocol is refused at connect",
          arguments: [("infer.cached", UInt16(1), "infer.cached/1"), ("infer.test", UInt16(2), "infer.test/2")])
    func wrongProtocol(_ name: String, _ version: UInt16, _ expected: String) async throws {
        let server = try TestServer(protocolName: "infer.test", version: 1)
        defer { server.directory.remove() }
        let client = server.client(protocolName: name, version: version)
        await #expect(throws: IPCError.wrongProtocol(expected: expected, got: "infer.test/1")) {
            try await client.call(type: TestType.echo, payload: [], timeout: .seconds(2))
        }
        #expect(server.server.stats.protocolErrors == 1)
        #expect(await eventually { server.server.openConnections == 0 })
        await server.stop()
    }

    static let garbage: [(String, [UInt8])] = [
        ("HTTP request", bytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")),
        ("random bytes", (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 113 &+ 7) }),
        ("REQUEST before HELLO", FrameEncoder.encode(Frame(kind: .request, type: 1, correlation: 1, payload: [0, 0, 0, 0]))),
        ("HELLO then garbage", helloFrame() + Array(repeating: 0xEE, count: 40)),
        ("HELLO then an oversized header", helloFrame() + [0x7F, 0xFF, 0xFF, 0xFF, 1, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("HELLO then a REPLY", helloFrame() + FrameEncoder.encode(Frame(kind: .reply, type: 1, correlation: 1))),
        ("REQUEST without its timeout", helloFrame() + FrameEncoder.encode(Frame(kind: .request, type: 1, correlation: 1, payload: [1]))),
        ("duplicate correlation", helloFrame()
            + FrameEncoder.encode(Frame(kind: .request, type: TestType.hang, correlation: 5, payload: [0, 0, 0, 0]))
            + FrameEncoder.encode(Frame(kind: .request, type: TestType.hang, correlation: 5, payload: [0, 0, 0, 0]))),
    ]

    @Test("bad bytes get an ERROR frame and a closed connection; the server keeps serving others",
          arguments: garbage)
    func garbageRefused(_ label: String, _ input: [UInt8]) async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        #expect(try await client.call(type: TestType.echo, payload: bytes("before"), timeout: .seconds(2)) == bytes("before"))

        let fd = try UnixSocket.connect(path: server.path)
        defer { close(fd) }
        try writeAll(fd, input)
        var decoder = FrameDecoder()
        var sawError = false
        reading: while true {
            switch try readFrame(fd, decoder: &decoder) {
            case let .frame(frame) where frame.kind == .error && frame.correlation == 0:
                let error = try ErrorPayload(decoding: frame.payload)
                #expect(error.code == IPCErrorCode.protocolViolation || error.code == IPCErrorCode.frameTooLarge, "\(label)")
                sawError = true
            case .frame:
                continue  // HELLO_ACK
            case .closed:
                break reading
            case .timedOut:
                Issue.record("\(label): the server neither answered nor closed")
                break reading
            }
        }
        #expect(sawError, "\(label): no connection-level ERROR")
        #expect(try await client.call(type: TestType.echo, payload: bytes("after"), timeout: .seconds(2)) == bytes("after"))
        #expect(server.server.stats.protocolErrors == 1)
        await server.stop()
    }

    @Test("an unknown type is the handler's business: it fails the call")
    func unknownType() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        await #expect(throws: IPCError.remote(code: IPCErrorCode.unknownType, message: "unknown message type 999")) {
            try await client.call(type: 999, payload: [], timeout: .seconds(2))
        }
        await server.stop()
    }

    @Test("a handler that returns without answering produces an internal error")
    func dropped() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        do {
            _ = try await client.call(type: TestType.drop, payload: [], timeout: .seconds(2))
            Issue.record("expected an error")
        } catch let IPCError.remote(code, _) {
            #expect(code == IPCErrorCode.internalError)
        }
        #expect(await eventually { server.server.inFlightCalls == 0 })
        await server.stop()
    }

    @Test("too many calls in flight on one connection: the excess is refused as overloaded")
    func overloaded() async throws {
        let server = try TestServer(maxCallsPerConnection: 2)
        defer { server.directory.remove() }
        let client = server.client()
        let hanging = (0..<2).map { _ in
            Task { try await client.call(type: TestType.hang, payload: [], timeout: .seconds(10)) }
        }
        #expect(await eventually { server.server.inFlightCalls == 2 })
        do {
            _ = try await client.call(type: TestType.echo, payload: [], timeout: .seconds(2))
            Issue.record("expected overloaded")
        } catch let IPCError.remote(code, _) {
            #expect(code == IPCErrorCode.overloaded)
        }
        for task in hanging { task.cancel() }
        #expect(await eventually { server.server.inFlightCalls == 0 })
        await server.stop()
    }

    @Test("a request over the frame limit fails locally and harms no one")
    func oversizedRequest() async throws {
        let server = try TestServer(maxFrame: 1024)
        defer { server.directory.remove() }
        let client = server.client(maxFrame: 1024)
        await #expect(throws: IPCError.self) {
            try await client.call(type: TestType.echo, payload: Array(repeating: 0, count: 1021), timeout: .seconds(2))
        }
        let fits = Array(repeating: UInt8(1), count: 1020)
        #expect(try await client.call(type: TestType.echo, payload: fits, timeout: .seconds(2)) == fits)
        await server.stop()
    }

    @Test("drain waits for calls in flight, then closes")
    func drainWaits() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let call = Task { try await client.call(type: TestType.sleep, payload: u32Payload(100), timeout: .seconds(5)) }
        #expect(await server.probe.started.wait())
        await server.server.drain(timeout: .seconds(5))
        #expect(server.server.inFlightCalls == 0)
        #expect(try await call.value == bytes("slept"))
        #expect(await eventually { server.server.openConnections == 0 })
        close(server.fd)
    }

    /// A daemon exits as soon as its drain returns; a GOAWAY still queued on the loop would then never
    /// be written and the client would see its unanswered calls lost instead of handed over.
    @Test("drain returns only once every connection has been told to go away and closed")
    func drainFlushesGoAway() async throws {
        let first = try TestServer(name: "A")
        defer { first.directory.remove() }
        let clients = (0..<4).map { _ in first.client() }
        for client in clients {
            #expect(try await client.call(type: TestType.whoami, payload: [], timeout: .seconds(2)) == bytes("A"))
        }
        #expect(first.server.openConnections == 4)
        await first.server.drain(timeout: .zero)
        #expect(first.server.openConnections == 0)
        close(first.fd)
        // Every client was told, so its next call goes to the next server without an error.
        let second = try TestServer(directory: first.directory, name: "B")
        for client in clients {
            #expect(try await client.call(type: TestType.whoami, payload: [], timeout: .seconds(2)) == bytes("B"))
        }
        await second.stop()
    }

    @Test("typed messages round trip through call(_:returning:timeout:)")
    func typedCall() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let sum = try await client.call(AddRequest(numbers: [1, 2, 39]), returning: AddResponse.self, timeout: .seconds(2))
        #expect(sum == AddResponse(sum: 42))
        do {
            _ = try await client.call(type: TestType.add, payload: [0, 0, 0, 9], timeout: .seconds(2))
            Issue.record("expected bad request")
        } catch let IPCError.remote(code, message) {
            #expect(code == IPCErrorCode.badRequest)
            #expect(message.contains("exceeds remaining"))
        }
        await server.stop()
    }

    @Test("an answer over the frame limit becomes an internal error, and the connection survives")
    func oversizedAnswer() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        do {
            _ = try await client.call(type: TestType.oversized, payload: [], timeout: .seconds(2))
            Issue.record("expected an internal error")
        } catch let IPCError.remote(code, message) {
            #expect(code == IPCErrorCode.internalError)
            #expect(message.contains("exceeds the frame limit"))
        }
        #expect(try await client.call(type: TestType.echo, payload: bytes("ok"), timeout: .seconds(2)) == bytes("ok"))
        await server.stop()
    }

    @Test("a stale socket file is replaced; a live one is not stolen")
    func listenReplacesStale() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("s.sock")
        let first = try UnixSocket.listen(path: path)
        #expect(throws: SocketError.self) { _ = try UnixSocket.listen(path: path) }
        close(first)
        let second = try UnixSocket.listen(path: path)
        close(second)
        var status = stat()
        #expect(lstat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o660)
    }
}
