import Glibc
import Testing
import TestKit

import IPC
import Metrics
import Services
import Wire

/// The shell every daemon's socket dispatches with, over a real Unix socket: typed handlers, the stats
/// call, and the ERRORs for what it cannot take, on a connection that goes on serving.
@Suite struct ServiceShellTests {
    /// A request the test service knows: one string, read with a length bound.
    struct Shout: WireMessage, Equatable {
        static let type: UInt16 = 1
        var text: String
        init(text: String) { self.text = text }
        init(from r: inout WireReader) throws { text = try r.readString(maxLength: 16) }
        func encode(to w: inout WireWriter) { w.writeString(text) }
    }

    /// A second request type, to show calls reach their own handler.
    struct Count: WireMessage, Equatable {
        static let type: UInt16 = 2
        var value: UInt32
        init(value: UInt32) { self.value = value }
        init(from r: inout WireReader) throws { value = try r.readUInt32() }
        func encode(to w: inout WireWriter) { w.writeUInt32(value) }
    }

    /// The shell's refusals and stats refreshes, as a daemon's hooks would see them.
    final class Observed: Sendable {
        let refusals = Recorder<ServiceShell.Refusal>()
        let statsRefreshes = Counter()
    }

    /// A shell-served socket in a fresh directory, and a client connected to it.
    struct Running {
        let directory: TemporaryDirectory
        let server: IPCServer
        let client: IPCClient
        let path: String
        let registry = MetricsRegistry()
        let observed = Observed()

        init() throws {
            directory = try TemporaryDirectory()
            path = directory.file("test.sock")
            let gauge = registry.gauge("infer_test_refreshed", help: "Stats refreshes.")
            let observed = observed
            var shell = ServiceShell(name: "testd", metrics: registry) {
                gauge.set(Double(observed.statsRefreshes.increment()))
            } onRefusal: { refusal in
                observed.refusals.append(refusal)
            }
            shell.register(Shout.self) { shout, call in
                call.reply(Shout(text: shout.text.uppercased()))
            }
            shell.register(Count.self) { count, call in
                call.reply(Count(value: count.value + 1))
            }
            server = shell.server(listenFD: try UnixSocket.listen(path: path), protocolName: "infer.testd")
            try server.start()
            client = IPCClient(path: path, protocolName: "infer.testd", version: ServiceName.version)
        }

        func stop() async {
            client.close()
            await server.drain(timeout: .seconds(1))
            close(server.listenFD)
        }
    }

    private static let timeout = Duration.seconds(5)

    @Test("a known type reaches its handler with the payload decoded")
    func dispatchesByType() async throws {
        let running = try Running()
        #expect(try await running.client.call(Shout(text: "hi"), returning: Shout.self, timeout: Self.timeout) == Shout(text: "HI"))
        #expect(try await running.client.call(Count(value: 41), returning: Count.self, timeout: Self.timeout) == Count(value: 42))
        #expect(running.observed.refusals.all.isEmpty)
        await running.stop()
    }

    @Test("an unknown type is answered with unknownType, naming the daemon and the type")
    func unknownType() async throws {
        let running = try Running()
        await #expect(throws: IPCError.remote(code: IPCErrorCode.unknownType, message: "testd does not know message type 77")) {
            _ = try await running.client.call(type: 77, payload: [], timeout: Self.timeout)
        }
        let refusals = running.observed.refusals.all
        #expect(refusals.count == 1)
        #expect(refusals.first?.type == 77 && refusals.first?.code == IPCErrorCode.unknownType)
        #expect(refusals.first?.message == "testd does not know message type 77")
        await running.stop()
    }

    @Test("a payload that does not decode is answered with badRequest naming the message; the connection goes on",
          arguments: [[UInt8]([0, 0, 0, 9, 65]), [0, 0, 0, 1, 65, 0], [0, 0, 0, 17] + [UInt8](repeating: 65, count: 17)])
    func undecodable(payload: [UInt8]) async throws {
        let running = try Running()
        do {
            _ = try await running.client.call(type: Shout.type, payload: payload, timeout: Self.timeout)
            Issue.record("an undecodable Shout was answered")
        } catch IPCError.remote(let code, let message) {
            #expect(code == IPCErrorCode.badRequest)
            #expect(message.hasPrefix("undecodable Shout: "))
        }
        let refusals = running.observed.refusals.all
        #expect(refusals.map(\.code) == [IPCErrorCode.badRequest] && refusals.map(\.type) == [Shout.type])
        // The same connection still serves.
        #expect(try await running.client.call(Shout(text: "ok"), returning: Shout.self, timeout: Self.timeout) == Shout(text: "OK"))
        await running.stop()
    }

    @Test("the stats call is answered from the registry, refreshed just before")
    func stats() async throws {
        let running = try Running()
        let stats = StatsClient(path: running.path, protocolName: "infer.testd")
        defer { stats.client.close() }
        let first = try await stats.snapshot(timeout: Self.timeout)
        #expect(first.first { $0.name == "infer_test_refreshed" }?.samples.first?.value == 1)
        let second = try await stats.snapshot(timeout: Self.timeout)
        #expect(second.first { $0.name == "infer_test_refreshed" }?.samples.first?.value == 2)
        #expect(running.observed.refusals.all.isEmpty)
        await running.stop()
    }
}
