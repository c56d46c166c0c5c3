import Glibc
import Synchronization
import Testing
import TestKit

@testable import IPC
@testable import Reactor
import Wire

/// An IPC client called on the thread of a loop that hosts an attached IPC loop (an HTTP loop, in
/// frontd) uses a connection of its own, read on that thread; everyone else shares one.
@Suite("IPC connections per event loop")
struct LoopLaneTests {
    /// A loop core with an IPC loop attached, on a thread of its own, as an HTTP loop runs one.
    final class HostLoop: Sendable {
        let core: EpollLoopCore
        let ipc: EventLoop

        init(_ name: String) throws {
            let core = try EpollLoopCore()
            let ipc = EventLoop(attachedTo: core)
            self.core = core
            self.ipc = ipc
            try core.start(name: name) {
                ipc.bindToCurrentThread()
                core.run { events in
                    for event in events where EventLoop.isAttachedToken(event.data.u64) { ipc.handle(event) }
                }
                ipc.closeAll()
                core.runPendingWork()
                EventLoop.unbindCurrentThread()
                core.finish()
            }
        }

        /// Runs `body` in a task that prefers this loop, as an HTTP handler runs.
        func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
            try await Task(executorPreference: core) { try await body() }.value
        }
    }

    @Test("a call made on a host loop goes out on that loop's own connection and resumes on its thread")
    func ownConnection() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let host = try HostLoop("test-host-a")
        defer { host.core.stop() }
        let payload = bytes("from the host loop")
        let (answer, current, onLoop) = try await withTimeout(.seconds(10)) {
            try await host.run {
                let answer = try await client.call(type: TestType.echo, payload: payload, timeout: .seconds(5))
                return (answer, EventLoop.current === host.ipc, host.core.inLoop)
            }
        }
        #expect(answer == payload)
        #expect(current)
        #expect(onLoop)
        #expect(server.server.stats.acceptedConnections == 1)
        // A caller on no host loop shares the process-wide connection: a second one.
        #expect(EventLoop.current == nil)
        #expect(try await client.call(type: TestType.echo, payload: payload, timeout: .seconds(5)) == payload)
        #expect(server.server.stats.acceptedConnections == 2)
        // Many calls on the host loop at once still use its one connection.
        let matched = try await withTimeout(.seconds(10)) {
            try await host.run {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<50 {
                        group.addTask {
                            let p = bytes("call \(index)")
                            return try await client.call(type: TestType.echo, payload: p, timeout: .seconds(5)) == p
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
            }
        }
        #expect(matched == 50)
        #expect(server.server.stats.acceptedConnections == 2)
        #expect(client.pendingCount == 0)
        await server.stop()
    }

    @Test("a call in flight on a host loop that stops fails instead of waiting for its deadline")
    func hostStops() async throws {
        let server = try TestServer()
        defer { server.directory.remove() }
        let client = server.client()
        let host = try HostLoop("test-host-b")
        let started = ContinuousClock.now
        let call = Task {
            try await host.run { try await client.call(type: TestType.hang, payload: [], timeout: .seconds(30)) }
        }
        #expect(await server.probe.started.wait())
        host.core.stop()
        // Bounded: without the loop closing its connections the call would wait for ever (its deadline's
        // timer was on the loop that stopped).
        await #expect(throws: (any Error).self) { try await withTimeout(.seconds(10)) { try await call.value } }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(await eventually { client.pendingCount == 0 })
        await server.stop()
    }
}
