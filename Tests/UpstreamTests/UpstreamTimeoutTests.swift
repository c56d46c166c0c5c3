import Foundation
import Testing
import TestKit

@testable import Upstream

@Suite("UpstreamClient timeouts, cancellation and the concurrency limit")
struct UpstreamTimeoutTests {
    @Test("an upstream that says nothing times out in the first-byte phase, and its connection is closed")
    func firstByteTimeout() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server, timeouts: UpstreamTimeouts(connect: .seconds(5), firstByte: .seconds(1), total: .seconds(30)))
        let started = ContinuousClock.now
        let error = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody(["behaviour": "hang"])) })
        #expect(error.kind == .timeout, "\(error)")
        #expect(error.timeoutPhase == .firstByte)
        #expect(error.isRetryable)
        #expect(error.clientStatus == 504)
        #expect(ContinuousClock.now - started < .seconds(15))
        let stats = try await server.waitForStats { $0.disconnects == 1 }
        #expect(stats.disconnects == 1)
    }

    @Test("a peer that never completes the TLS handshake times out in the connect phase")
    func connectTimeout() async throws {
        let listener = try SilentListener()
        let endpoint = try UpstreamEndpoint(
            baseURL: "https://127.0.0.1:\(listener.port)/v1", model: "m",
            timeouts: UpstreamTimeouts(connect: .seconds(1), firstByte: .seconds(20), total: .seconds(30)))
        let client = try UpstreamClient(endpoint: endpoint)
        let started = ContinuousClock.now
        let error = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody()) })
        #expect(error.kind == .timeout && error.timeoutPhase == .connect, "\(error)")
        #expect(error.isRetryable)
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test("a slow first byte within its budget succeeds, though longer than the connect timeout")
    func slowFirstByteWithinBudget() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server, timeouts: UpstreamTimeouts(connect: .milliseconds(500), firstByte: .seconds(20), total: .seconds(30)))
        let response = try await client.chatCompletion(try chatBody(["behaviour": "ok", "delay": 1.5]))
        #expect(response.status == 200)
    }

    @Test("a non-streaming answer slower than the total timeout times out in the total phase")
    func totalTimeout() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server, timeouts: UpstreamTimeouts(connect: .seconds(5), firstByte: .seconds(20), total: .seconds(1)))
        let error = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody(["behaviour": "ok", "delay": 10])) })
        #expect(error.kind == .timeout && error.timeoutPhase == .total, "\(error)")
    }

    @Test("a stream that stalls mid-way times out in the total phase, after output, so not retryable")
    func streamStall() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server, timeouts: UpstreamTimeouts(connect: .seconds(5), firstByte: .seconds(20), total: .seconds(2)))
        let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "stall", "chunks": 2], stream: true))
        var received = 0
        let error = try #require(await expectUpstreamError { () async throws in
            for try await _ in stream { received += 1 }
        })
        #expect(received == 2)
        #expect(error.kind == .timeout && error.timeoutPhase == .total, "\(error)")
        #expect(error.afterOutput && !error.isRetryable)
        let stats = try await server.waitForStats { $0.disconnects == 1 }
        #expect(stats.disconnects == 1)
    }

    @Test("cancelling the consuming task closes the upstream connection (streaming)")
    func cancelStream() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let gotFirst = AsyncStream.makeStream(of: Void.self)
        let consumer = Task { () async throws -> Int in
            let stream = try await client.streamChatCompletion(
                try chatBody(["behaviour": "ok", "chunks": 50, "interval": 0.2], stream: true))
            var count = 0
            for try await _ in stream {
                count += 1
                if count == 1 { gotFirst.continuation.yield() }
            }
            return count
        }
        for await _ in gotFirst.stream { break }
        consumer.cancel()
        let result = await consumer.result
        guard case .failure(let failure) = result, let error = failure as? UpstreamError else {
            Issue.record("the stream ran to its end despite the cancellation: \(result)")
            return
        }
        #expect(error.kind == .cancelled, "\(error)")
        let stats = try await server.waitForStats { $0.disconnects == 1 }
        #expect(stats.disconnects == 1, "the server did not see the client go")
        #expect(stats.completed == 0)
        #expect(client.load.inFlight == 0)
    }

    @Test("cancelling a non-streaming call closes the connection too")
    func cancelPlain() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let call = Task { () async throws in try await client.chatCompletion(try chatBody(["behaviour": "hang"])) }
        _ = try await server.waitForStats { $0.active == 1 }
        call.cancel()
        let result = await call.result
        guard case .failure(let failure) = result, let error = failure as? UpstreamError else {
            Issue.record("a hanging call did not fail as cancelled: \(result)")
            return
        }
        #expect(error.kind == .cancelled, "\(error)")
        let stats = try await server.waitForStats { $0.disconnects == 1 }
        #expect(stats.disconnects == 1)
    }

    @Test("dropping a stream before [DONE] closes its connection")
    func dropStream() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        do {
            let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "ok", "chunks": 50, "interval": 0.2], stream: true))
            var iterator = stream.makeAsyncIterator()
            _ = try await iterator.next()
        }
        let stats = try await server.waitForStats { $0.disconnects == 1 }
        #expect(stats.disconnects == 1)
    }

    @Test("with a limit of 2, five slow requests all succeed and the upstream never sees more than 2 at once")
    func concurrencyLimit() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server, limit: 2)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<5 {
                group.addTask { try await client.chatCompletion(try chatBody(["behaviour": "ok", "delay": 0.4])).status }
            }
            var sawWaiting = false
            for _ in 0..<40 where !sawWaiting {
                sawWaiting = client.load.waiting > 0
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(sawWaiting)
            for try await status in group { #expect(status == 200) }
        }
        let stats = try await server.stats()
        #expect(stats.requests == 5)
        #expect(stats.max_active <= 2, "max active \(stats.max_active)")
        #expect(stats.max_active == 2)
        #expect(client.load == UpstreamLoad(inFlight: 0, waiting: 0, limit: 2))
    }

    @Test("a request that waits for a slot past its deadline fails without reaching the upstream")
    func queueTimeout() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server, limit: 1)
        let blocker = Task { () async throws in try await client.chatCompletion(try chatBody(["behaviour": "hang"])) }
        _ = try await server.waitForStats { $0.active == 1 }
        let started = ContinuousClock.now
        let error = try #require(await expectUpstreamError {
            try await client.chatCompletion(try chatBody(), options: UpstreamRequestOptions(deadline: .now + .seconds(1)))
        })
        #expect(error.kind == .timeout && error.timeoutPhase == .total, "\(error)")
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(client.load.waiting == 0)
        blocker.cancel()
        _ = await blocker.result
        let stats = try await server.stats()
        #expect(stats.requests == 1)
    }

    @Test("a caller's deadline shorter than the total timeout ends the call in the total phase")
    func callerDeadline() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let error = try #require(await expectUpstreamError {
            try await client.chatCompletion(try chatBody(["behaviour": "hang"]), options: UpstreamRequestOptions(deadline: .now + .seconds(1)))
        })
        #expect(error.kind == .timeout && error.timeoutPhase == .total, "\(error)")
    }

    @Test("the model-list probe takes no slot: it answers while every slot is busy")
    func probeBypassesLimit() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server, limit: 1)
        let blocker = Task { () async throws in try await client.chatCompletion(try chatBody(["behaviour": "hang"])) }
        _ = try await server.waitForStats { $0.active == 1 }
        let models = try await client.models()
        #expect(models.status == 200)
        blocker.cancel()
        _ = await blocker.result
    }
}
