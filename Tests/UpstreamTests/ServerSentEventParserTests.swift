import Testing

@testable import Upstream

@Suite("ServerSentEventParser: the WHATWG event-stream rules, whatever the byte split")
struct ServerSentEventParserTests {
    /// Feeds all bytes at once.
    private func parseWhole(_ text: String) throws -> [ServerSentEvent] {
        var parser = ServerSentEventParser()
        return try parser.feed(Array(text.utf8))
    }

    /// Feeds one byte at a time.
    private func parseBytewise(_ text: String) throws -> [ServerSentEvent] {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for byte in text.utf8 { events += try parser.feed([byte]) }
        return events
    }

    static let cases: [(String, [ServerSentEvent])] = [
        ("data: a\n\ndata: b\n\n", [.init(data: "a"), .init(data: "b")]),
        ("data: a\r\n\r\ndata: b\r\n\r\n", [.init(data: "a"), .init(data: "b")]),
        ("data: a\r\rdata: b\r\r", [.init(data: "a"), .init(data: "b")]),
        ("data: {\"a\":\ndata: 1}\n\n", [.init(data: "{\"a\":\n1}")]),
        (": keep-alive\n\ndata: x\n: comment inside\n\n", [.init(data: "x")]),
        ("data:no-space\n\ndata:  two spaces\n\n", [.init(data: "no-space"), .init(data: " two spaces")]),
        ("event: delta\nid: 7\ndata: x\n\ndata: y\n\n",
         [.init(data: "x", event: "delta", id: "7"), .init(data: "y", event: nil, id: "7")]),
        ("\u{FEFF}data: bom\n\n", [.init(data: "bom")]),
        ("data\n\n", [.init(data: "")]),
        ("event: only\n\n", []),
        ("data: [DONE]\n\n", [.init(data: "[DONE]")]),
        ("data: unfinished\n", []),
        ("data: é ☃ 🎉\n\n", [.init(data: "é ☃ 🎉")]),
        ("retry: 100\nunknown: z\ndata: kept\n\n", [.init(data: "kept")]),
    ]

    @Test("events parse the same fed whole or byte by byte", arguments: cases)
    func parses(text: String, expected: [ServerSentEvent]) throws {
        #expect(try parseWhole(text) == expected)
        #expect(try parseBytewise(text) == expected)
    }

    @Test("a CR at the end of one piece and its LF at the start of the next make one line end")
    func splitCRLF() throws {
        var parser = ServerSentEventParser()
        var events = try parser.feed(Array("data: a\r".utf8))
        events += try parser.feed(Array("\n\r".utf8))
        events += try parser.feed(Array("\ndata: b\r\n\r\n".utf8))
        #expect(events == [.init(data: "a"), .init(data: "b")])
    }

    @Test("a line longer than the limit is refused, not buffered without end")
    func refusesHugeLines() {
        var parser = ServerSentEventParser(limit: 64)
        #expect(throws: ServerSentEventParser.TooLarge.self) {
            _ = try parser.feed(Array(repeating: UInt8(ascii: "x"), count: 100))
        }
        var dataParser = ServerSentEventParser(limit: 64)
        #expect(throws: ServerSentEventParser.TooLarge.self) {
            for _ in 0..<10 { _ = try dataParser.feed(Array("data: 0123456789\n".utf8)) }
        }
    }

    @Test("[DONE] is recognised; usage is read from the final chunk only")
    func doneAndUsage() {
        #expect(ServerSentEvent(data: "[DONE]").isDone)
        #expect(ServerSentEvent(data: " [DONE]\t").isDone && !ServerSentEvent(data: "[DONE]x").isDone && !ServerSentEvent(data: "").isDone)
        #expect(!ServerSentEvent(data: "{\"choices\":[]}").isDone)
        #expect(ServerSentEvent(data: "{\"usage\":null}").usage == nil)
        let usage = ServerSentEvent(data: "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}").usage
        #expect(usage == UpstreamUsage(promptTokens: 5, completionTokens: 3, totalTokens: 8))
    }
}
