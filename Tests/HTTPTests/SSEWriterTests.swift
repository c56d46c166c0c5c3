import Foundation
import HTTP
import Testing
import TestKit

@Suite("Server-sent events")
struct SSEWriterTests {
    @Test("event encoding", arguments: [
        (data: "hello", event: String?.none, id: String?.none, wire: "data: hello\n\n"),
        (data: "hello", event: "token", id: nil, wire: "event: token\ndata: hello\n\n"),
        (data: "a\nb\r\nc\rd", event: nil, id: nil, wire: "data: a\ndata: b\ndata: c\ndata: d\n\n"),
        (data: "", event: nil, id: nil, wire: "data: \n\n"),
        (data: "x\n", event: nil, id: nil, wire: "data: x\ndata: \n\n"),
        (data: "{\"done\":true}", event: "end", id: "42", wire: "event: end\nid: 42\ndata: {\"done\":true}\n\n"),
        (data: "x", event: "evil\ndata: forged", id: "1\r\n", wire: "event: evil data: forged\nid: 1  \ndata: x\n\n"),
    ])
    func encoding(data: String, event: String?, id: String?, wire: String) {
        #expect(String(decoding: SSEWriter.encode(data: data, event: event, id: id), as: UTF8.self) == wire)
    }
}

/// SSE over real sockets, in the serialized server suite.
extension HTTPServerTests {
    @Test("events over a raw socket, with the event-stream headers")
    func overSocket() async throws {
        try await withServer(handler: { _, response in
            guard let events = try? SSEWriter.start(on: response) else { return }
            events.send(data: "one", event: "token")
            events.comment("keep-alive")
            events.send(data: "[DONE]")
            events.end()
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("Content-Type") == "text/event-stream")
            #expect(response.header("Cache-Control") == "no-cache")
            #expect(response.text == "event: token\ndata: one\n\n: keep-alive\n\ndata: [DONE]\n\n")
        }
    }

    /// curl -N must see the first event before the server sends the rest: proof that events are not held
    /// back until the end of the response.
    @Test("curl -N reads an SSE stream as it is written", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs /usr/bin/curl (apt-get install -y curl)"))
    func curlReadsStream() async throws {
        let firstSeen = Latch()
        let waitedForClient = Latch()
        try await withServer(handler: { request, response in
            guard let events = try? SSEWriter.start(on: response) else { return }
            events.send(data: "first", event: "token")
            if await firstSeen.wait(.seconds(5)) { waitedForClient.signal() }
            events.send(data: "line 1\nline 2")
            events.send(data: "[DONE]")
            events.end()
        }) { port, _ in
            let curl = try PipedProgram("/usr/bin/curl", ["-sN", "--max-time", "10", "http://127.0.0.1:\(port)/v1/infer/stream"])
            var output: [UInt8] = []
            while !String(decoding: output, as: UTF8.self).contains("data: first\n\n") {
                let more = curl.readOutputChunk()
                if more.isEmpty { break }
                output += more
            }
            #expect(String(decoding: output, as: UTF8.self) == "event: token\ndata: first\n\n")
            firstSeen.signal()
            output += curl.readOutput()
            #expect(curl.finish(timeout: .seconds(20)) == .exited(0))
            #expect(waitedForClient.isSignaled)
            #expect(String(decoding: output, as: UTF8.self)
                == "event: token\ndata: first\n\ndata: line 1\ndata: line 2\n\ndata: [DONE]\n\n")
        }
    }
}
