import Testing

@testable import Upstream

/// The event-loop transport's response parser, fed whole and one byte at a time.
@Suite("HTTP/1.1 response parser")
struct HTTP1ResponseParserTests {
    /// The events of `text`, fed in pieces of `piece` bytes (0: all at once), body pieces joined.
    private static func parse(_ text: String, piece: Int) throws -> [HTTP1ResponseParser.Event] {
        var parser = HTTP1ResponseParser()
        var events: [HTTP1ResponseParser.Event] = []
        let bytes = Array(text.utf8)
        let step = piece == 0 ? max(bytes.count, 1) : piece
        var start = 0
        while start < bytes.count {
            let end = min(start + step, bytes.count)
            let slice = Array(bytes[start..<end])
            try slice.withUnsafeBytes { raw in try parser.feed(raw, into: &events) }
            start = end
        }
        if let end = parser.finishOnClose() { events.append(end) }
        // Join body pieces, so that any split reads the same.
        var joined: [HTTP1ResponseParser.Event] = []
        for event in events {
            if case .body(let more) = event, case .body(let earlier)? = joined.last {
                joined[joined.count - 1] = .body(earlier + more)
            } else {
                joined.append(event)
            }
        }
        return joined
    }

    @Test("Content-Length, chunked with extensions and trailers, until-close, 204 and interim 100", arguments: [0, 1, 7])
    func framings(piece: Int) throws {
        let fixed = try Self.parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello", piece: piece)
        #expect(fixed == [.head(status: 200, headers: ["content-type": "application/json", "content-length": "5"]),
                          .body(Array("hello".utf8)), .end(reusable: true)])

        let chunked = try Self.parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\ndata:\r\n9\r\n 0123456\n\r\n0\r\nTrailer: t\r\n\r\n",
            piece: piece)
        #expect(chunked == [.head(status: 200, headers: ["transfer-encoding": "chunked"]),
                            .body(Array("data: 0123456\n".utf8)), .end(reusable: true)])

        let untilClose = try Self.parse("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n", piece: piece)
        #expect(untilClose == [.head(status: 200, headers: ["content-type": "text/event-stream"]),
                               .body(Array("data: x\n\n".utf8)), .end(reusable: false)])

        let empty = try Self.parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX-A: 1\r\nx-a: 2\r\n\r\n", piece: piece)
        #expect(empty == [.head(status: 204, headers: ["x-a": "1, 2"]), .end(reusable: true)])
    }

    @Test("Connection: close and HTTP/1.0 end the connection after the answer; 1.0 with keep-alive keeps it")
    func keepAlive() throws {
        #expect(try Self.parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", piece: 0).last == .end(reusable: false))
        #expect(try Self.parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", piece: 0).last == .end(reusable: false))
        #expect(try Self.parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", piece: 0).last
            == .end(reusable: true))
    }

    @Test("a body cut by the close before its length or last chunk is not complete")
    func cut() throws {
        #expect(try Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", piece: 0).last == .body(Array("hello".utf8)))
        #expect(try Self.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", piece: 0).last
            == .body(Array("hello".utf8)))
        #expect(try Self.parse("HTTP/1.1 200 OK\r\nContent-Len", piece: 0).isEmpty)
    }

    @Test("malformed answers are refused with what was wrong", arguments: [
        ("SSH-2.0-OpenSSH\r\n\r\n", "status line"),
        ("HTTP/1.1 2000 OK\r\n\r\n", "status line"),
        ("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "header line"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "Content-Length"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "hex digit"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", "CRLF"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab", "after the end"),
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched"),
    ])
    func malformed(text: String, words: String) {
        for piece in [0, 1] {
            do {
                _ = try Self.parse(text, piece: piece)
                Issue.record("accepted \(text.debugDescription)")
            } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
    }

    @Test("a head larger than the limit is refused before it is all in")
    func headLimit() {
        let filler = String(repeating: "a", count: 1000)
        var text = "HTTP/1.1 200 OK\r\n"
        for index in 0..<70 { text += "X-\(index): \(filler)\r\n" }
        #expect(throws: HTTP1ResponseParser.Malformed.self) { try Self.parse(text, piece: 4096) }
    }
}
