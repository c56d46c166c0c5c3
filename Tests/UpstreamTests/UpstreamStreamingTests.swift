import Foundation
import Testing
import TestKit

@testable import Upstream

@Suite("UpstreamClient streaming: SSE relayed as it arrives, [DONE], usage, cuts")
struct UpstreamStreamingTests {
    /// The `delta.content` of a chat chunk.
    private func content(_ event: ServerSentEvent) -> String? {
        let choices = event.json()?["choices"] as? [[String: Any]]
        return (choices?.first?["delta"] as? [String: Any])?["content"] as? String
    }

    @Test("events arrive in order, [DONE] ends the stream, the usage chunk is there; stream_options was asked for")
    func inOrderWithUsage() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "ok", "chunks": 5], stream: true))
        #expect(stream.status == 200)
        var contents: [String] = []
        var usage: UpstreamUsage?
        for try await event in stream {
            if let text = content(event) { contents.append(text) }
            if let found = event.usage { usage = found }
        }
        #expect(contents == ["tok0 ", "tok1 ", "tok2 ", "tok3 ", "tok4 "])
        #expect(usage == UpstreamUsage(promptTokens: 5, completionTokens: 5, totalTokens: 10))
        let sent = try await server.lastRequestBody()
        #expect(sent["stream"] as? Bool == true)
        #expect((sent["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(sent["model"] as? String == "upstream-model")
    }

    @Test("a stream read to [DONE] leaves its connection to be reused")
    func reuseAfterDone() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        for _ in 0..<3 {
            let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "ok", "chunks": 2], stream: true))
            for try await _ in stream {}
        }
        _ = try await client.chatCompletion(try chatBody())
        let stats = try await server.stats()
        #expect(stats.requests == 4)
        #expect(stats.disconnects == 0)
        // One connection for the client's four requests, one for this stats call (its own session).
        #expect(stats.connections <= 2, "connections \(stats.connections)")
    }

    @Test("the first event is relayed before the upstream has sent the rest")
    func incremental() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        // The server sends one event, then waits at its gate until the test opens it: the first event
        // can only arrive here if it is relayed as it comes.
        let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "ok", "chunks": 4, "gate": true], stream: true))
        var iterator = stream.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first.flatMap(content) == "tok0 ")
        let during = try await server.stats()
        #expect(during.completed == 0 && during.active == 1)
        try await server.openGate()
        var count = 1
        while let event = try await iterator.next() { if content(event) != nil { count += 1 } }
        #expect(count == 4)
    }

    @Test("CRLF lines, comments, multi-line data and events split mid-line parse to the same chunks",
          arguments: [["crlf": true], ["comments": true], ["multiline": true], ["split": true],
                      ["crlf": true, "comments": true, "multiline": true, "split": true]])
    func sseStyles(style: [String: Bool]) async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let stream = try await client.streamChatCompletion(
            try chatBody(["behaviour": "ok", "chunks": 3, "sse": style], stream: true))
        var contents: [String] = []
        for try await event in stream {
            #expect(event.json() != nil, "not JSON: \(event.data)")
            if let text = content(event) { contents.append(text) }
        }
        #expect(contents == ["tok0 ", "tok1 ", "tok2 "])
    }

    @Test("text completions stream too")
    func completionStream() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let stream = try await client.streamCompletion(
            try UpstreamRequestBody(["model": "x", "prompt": "p", "x_script": ["behaviour": "ok", "chunks": 2]]))
        var texts: [String] = []
        for try await event in stream {
            if let text = (event.json()?["choices"] as? [[String: Any]])?.first?["text"] as? String, !text.isEmpty {
                texts.append(text)
            }
        }
        #expect(texts == ["tok0 ", "tok1 "])
    }

    @Test("a stream dropped after some events, without [DONE], is a stream cut, not retryable")
    func cut() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "cut", "chunks": 3], stream: true))
        var received = 0
        let error = try #require(await expectUpstreamError { () async throws in
            for try await _ in stream { received += 1 }
        })
        #expect(received == 3)
        #expect(error.kind == .streamCut, "\(error)")
        #expect(error.afterOutput)
        #expect(!error.isRetryable)
        #expect(error.clientStatus == 502)
    }

    @Test("a stream that ends cleanly but without [DONE] is a stream cut too")
    func endsWithoutDone() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "ok", "chunks": 2, "done": false], stream: true))
        let error = try #require(await expectUpstreamError { () async throws in
            for try await _ in stream {}
        })
        #expect(error.kind == .streamCut, "\(error)")
    }

    @Test("a JSON answer to a streaming request is an invalid response")
    func notAnEventStream() async throws {
        let server = try await ScriptedUpstream.start()
        let client = try makeClient(server)
        let error = try #require(await expectUpstreamError {
            try await client.streamChatCompletion(try chatBody(["behaviour": "ok", "format": "json"], stream: true))
        })
        #expect(error.kind == .invalidResponse, "\(error)")
        #expect(error.clientStatus == 502)
    }
}
