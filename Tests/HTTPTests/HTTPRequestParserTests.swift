import HTTP
import Testing

/// What a parser case should produce from its input.
enum ParserExpectation: Sendable {
    /// These requests, in order, and nothing left over.
    case requests([ExpectedRequest])
    /// This error status (after any requests before the bad one).
    case error(Int)
    /// Nothing yet: the input is a valid prefix.
    case incomplete(HTTPRequestParser.Phase)
}

struct ExpectedRequest: Sendable {
    var method = "GET"
    var path = "/"
    var query: String?
    var version = HTTPVersion.http1_1
    var body = ""
    var keepAlive = true
    var headers: [(String, String)] = []
}

struct ParserCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [UInt8]
    let expectation: ParserExpectation
    var limits = HTTPLimits()

    init(_ name: String, _ input: String, _ expectation: ParserExpectation, limits: HTTPLimits = HTTPLimits()) {
        self.name = name
        self.input = Array(input.utf8)
        self.expectation = expectation
        self.limits = limits
    }

    init(_ name: String, bytes: [UInt8], _ expectation: ParserExpectation) {
        self.name = name
        self.input = bytes
        self.expectation = expectation
    }

    var testDescription: String { name }
}

/// How the bytes reach the parser: the decoder must not care.
enum FeedMode: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case allAtOnce
    case byteByByte
    case threeBytesAtATime

    var testDescription: String { rawValue }

    var sliceSize: Int {
        switch self {
        case .allAtOnce: return Int.max
        case .byteByByte: return 1
        case .threeBytesAtATime: return 3
        }
    }
}

private let smallHeaders = HTTPLimits(maxHeaderBytes: 256, maxHeaderCount: 4, maxBodyBytes: 16)
private let bigHeader = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "a", count: 17 * 1024) + "\r\n\r\n"
private let manyHeaders = "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n"

let parserCases: [ParserCase] = [
    // Good requests
    ParserCase("simple GET", "GET / HTTP/1.1\r\nHost: example\r\n\r\n",
               .requests([ExpectedRequest(headers: [("host", "example")])])),
    ParserCase("GET with query", "GET /v1/models?limit=5&x=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(path: "/v1/models", query: "limit=5&x=%20")])),
    ParserCase("empty query", "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(path: "/a", query: "")])),
    ParserCase("POST with Content-Length", "POST /v1/infer HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}",
               .requests([ExpectedRequest(method: "POST", path: "/v1/infer", body: "{\"a\":\"bcd\"}")])),
    ParserCase("header names are case-insensitive, values trimmed",
               "GET / HTTP/1.1\r\nhOsT: a\r\nX-Thing:   spaced\tvalue  \r\nAUTHORIZATION: Bearer k\r\n\r\n",
               .requests([ExpectedRequest(headers: [("Host", "a"), ("x-thing", "spaced\tvalue"), ("authorization", "Bearer k")])])),
    ParserCase("bare LF line endings", "GET /lf HTTP/1.1\nHost: a\nX-A: b\n\n",
               .requests([ExpectedRequest(path: "/lf", headers: [("x-a", "b")])])),
    ParserCase("empty header value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
               .requests([ExpectedRequest(headers: [("x-empty", "")])])),
    ParserCase("HTTP/1.0 without Host closes", "GET /old HTTP/1.0\r\n\r\n",
               .requests([ExpectedRequest(path: "/old", version: .http1_0, keepAlive: false)])),
    ParserCase("HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
               .requests([ExpectedRequest(version: .http1_0, keepAlive: true)])),
    ParserCase("HTTP/1.1 Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
               .requests([ExpectedRequest(keepAlive: false)])),
    ParserCase("HTTP/1.2 is answered as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(version: .http1_1)])),
    ParserCase("pipelined GET pair", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(path: "/1"), ExpectedRequest(path: "/2")])),
    ParserCase("pipelined POST then GET",
               "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /g HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(method: "POST", path: "/p", body: "abc"), ExpectedRequest(path: "/g")])),
    ParserCase("empty lines before a request are skipped",
               "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET /g HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(method: "POST", path: "/p", body: "x"), ExpectedRequest(path: "/g")])),
    ParserCase("chunked body", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
               .requests([ExpectedRequest(method: "POST", body: "hello world")])),
    ParserCase("chunked with extensions, upper-case hex and trailers",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\nA;name=value\r\n0123456789\r\n1 ; ext\r\n!\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n",
               .requests([ExpectedRequest(method: "POST", body: "0123456789!")])),
    ParserCase("chunked then pipelined GET",
               "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\nGET /n HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(method: "POST", body: "abc"), ExpectedRequest(path: "/n")])),
    ParserCase("absolute-form target", "GET http://example.com:8080/v1/x?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
               .requests([ExpectedRequest(path: "/v1/x", query: "q=1")])),
    ParserCase("asterisk-form target", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(method: "OPTIONS", path: "*")])),
    ParserCase("identical duplicate Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
               .requests([ExpectedRequest(method: "POST", body: "ok")])),
    ParserCase("Content-Length list of identical values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nok",
               .requests([ExpectedRequest(method: "POST", body: "ok")])),
    ParserCase("Content-Length zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
               .requests([ExpectedRequest(method: "POST")])),
    ParserCase("non-UTF-8 bytes in the target are just bytes",
               bytes: Array("GET /caf".utf8) + [0xC3, 0xA9, 0xFF] + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8),
               .requests([ExpectedRequest(path: "/café\u{FFFD}")])),
    ParserCase("custom method token", "PURGE /cache HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(method: "PURGE", path: "/cache")])),
    ParserCase("exactly at the header count limit", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
               .requests([ExpectedRequest()]), limits: smallHeaders),
    ParserCase("body exactly at the limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
               .requests([ExpectedRequest(method: "POST", body: "0123456789abcdef")]), limits: smallHeaders),

    // Incomplete input
    ParserCase("partial head", "GET / HTTP/1.1\r\nHost: a\r\n", .incomplete(.head)),
    ParserCase("partial body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", .incomplete(.body)),
    ParserCase("partial chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", .incomplete(.body)),
    ParserCase("nothing but empty lines", "\r\n\r\n", .incomplete(.idle)),

    // Errors, each with its status
    ParserCase("request line without version", "GET /\r\nHost: a\r\n\r\n", .error(400)),
    ParserCase("request line with two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .error(400)),
    ParserCase("bad method character", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", .error(400)),
    ParserCase("lower-case protocol name", "GET / http/1.1\r\nHost: a\r\n\r\n", .error(400)),
    ParserCase("garbage version", "GET / HTTP/x.y\r\nHost: a\r\n\r\n", .error(400)),
    ParserCase("HTTP/2.0 is 505", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .error(505)),
    ParserCase("HTTP/0.9 is 505", "GET / HTTP/0.9\r\n\r\n", .error(505)),
    ParserCase("HTTP/2 preface is 505", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .error(505)),
    ParserCase("relative target", "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", .error(400)),
    ParserCase("control byte in target", bytes: Array("GET /a".utf8) + [0x01] + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8), .error(400)),
    ParserCase("header section too large", bigHeader, .error(431)),
    ParserCase("header section too large without its end", "GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 300), .error(431), limits: smallHeaders),
    ParserCase("request line alone too large", "GET /" + String(repeating: "a", count: 300), .error(431), limits: smallHeaders),
    ParserCase("too many headers", manyHeaders, .error(431)),
    ParserCase("one header over a small count limit", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", .error(431), limits: smallHeaders),
    ParserCase("Content-Length over the body limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n", .error(413), limits: smallHeaders),
    ParserCase("huge Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n", .error(413)),
    ParserCase("chunks over the body limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n9\r\n012345678\r\n0\r\n\r\n", .error(413), limits: smallHeaders),
    ParserCase("Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .error(400)),
    ParserCase("Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", .error(400)),
    ParserCase("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .error(400)),
    ParserCase("Content-Length not a number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", .error(400)),
    ParserCase("negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .error(400)),
    ParserCase("signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", .error(400)),
    ParserCase("hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", .error(400)),
    ParserCase("empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", .error(400)),
    ParserCase("differing duplicate Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", .error(400)),
    ParserCase("differing Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\nab", .error(400)),
    ParserCase("gzip transfer coding is 501", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .error(501)),
    ParserCase("two Transfer-Encoding lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .error(501)),
    ParserCase("negative chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", .error(400)),
    ParserCase("overflowing chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n", .error(400)),
    ParserCase("chunk size past the body limit", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nx\r\n", .error(413)),
    ParserCase("chunk size with junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", .error(400)),
    ParserCase("empty chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", .error(400)),
    ParserCase("chunk longer than its size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", .error(400)),
    ParserCase("NUL in a header value", bytes: Array("GET / HTTP/1.1\r\nHost: a\r\nX-A: b".utf8) + [0] + Array("c\r\n\r\n".utf8), .error(400)),
    ParserCase("bare CR in a header value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", .error(400)),
    ParserCase("bare CR ending a header line", "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", .error(400)),
    ParserCase("obsolete line folding", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n", .error(400)),
    ParserCase("whitespace before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", .error(400)),
    ParserCase("header without colon", "GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n", .error(400)),
    ParserCase("empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n", .error(400)),
    ParserCase("non-token byte in a header name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", .error(400)),
    ParserCase("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", .error(400)),
    ParserCase("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .error(400)),
    ParserCase("unsupported expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx", .error(417)),
    ParserCase("target over the target limit is 414", "GET /" + String(repeating: "u", count: 8 * 1024) + " HTTP/1.1\r\nHost: a\r\n\r\n", .error(414)),
    ParserCase("query over the target limit is 414", "GET /a?" + String(repeating: "q", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", .error(414)),
    ParserCase("target over the limit before its line ends is 414", "GET /" + String(repeating: "u", count: 9000), .error(414)),
    ParserCase("target over both limits is 414", "GET /" + String(repeating: "u", count: 20_000) + " HTTP/1.1\r\n", .error(414)),
    ParserCase("target exactly at the limit", "GET /" + String(repeating: "u", count: 8 * 1024 - 1) + " HTTP/1.1\r\nHost: a\r\n\r\n",
               .requests([ExpectedRequest(path: "/" + String(repeating: "u", count: 8 * 1024 - 1))])),
    ParserCase("target past a small header limit is 431 first", "GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\n\r\n", .error(431), limits: smallHeaders),
    ParserCase("long method and short target is 431", String(repeating: "M", count: 20_000) + " / HTTP/1.1\r\n", .error(431)),
    ParserCase("asterisk target with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", .error(400)),
    ParserCase("chunked, identity is 501", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", .error(501)),
    ParserCase("xchunked is 501", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", .error(501)),
    ParserCase("chunk size of 17 hex digits", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n", .error(400)),
    ParserCase("chunk data without its CR LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n", .error(400)),
    ParserCase("good request then a bad one", "GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/9.9\r\nHost: a\r\n\r\n", .error(505)),
]

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    @Test("parser table", arguments: parserCases, FeedMode.allCases)
    func table(_ testCase: ParserCase, mode: FeedMode) {
        var parser = HTTPRequestParser(limits: testCase.limits)
        var requests: [HTTPRequest] = []
        var failure: HTTPParseError?
        var offset = 0
        feeding: while offset < testCase.input.count {
            let end = min(testCase.input.count, offset + min(mode.sliceSize, testCase.input.count))
            parser.feed(testCase.input[offset..<end])
            offset = end
            while true {
                do {
                    guard let request = try parser.next() else { break }
                    requests.append(request)
                } catch {
                    failure = error
                    break feeding
                }
            }
        }
        switch testCase.expectation {
        case .requests(let expected):
            #expect(failure == nil, "unexpected error \(String(describing: failure))")
            #expect(requests.count == expected.count)
            for (request, wanted) in zip(requests, expected) {
                #expect(request.method.rawValue == wanted.method)
                #expect(request.path == wanted.path)
                #expect(request.query == wanted.query)
                #expect(request.version == wanted.version)
                #expect(String(decoding: request.body, as: UTF8.self) == wanted.body)
                #expect(request.keepAlive == wanted.keepAlive)
                for (name, value) in wanted.headers {
                    #expect(request.headers[name] == value, "header \(name)")
                }
            }
            #expect(parser.phase == .idle)
            #expect(parser.bufferedByteCount == 0)
        case .error(let status):
            #expect(failure?.status.code == status, "got \(String(describing: failure)) after \(requests.count) requests")
            // The parser stays failed.
            #expect(throws: HTTPParseError.self) { try parser.next() }
        case .incomplete(let phase):
            #expect(failure == nil)
            #expect(requests.isEmpty)
            #expect(parser.phase == phase)
        }
    }

    @Test("errors name the problem and its line")
    func errorMessages() throws {
        var parser = HTTPRequestParser()
        parser.feed(Array("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.badHeaderName) { try parser.next() }
        #expect(parser.error?.message.contains("header line 3") == true)
    }

    @Test("Expect: 100-continue is reported once, before the body")
    func expectContinue() throws {
        var parser = HTTPRequestParser()
        parser.feed(Array("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8))
        #expect(try parser.next() == nil)
        let first = parser.takeContinueExpectation()
        let second = parser.takeContinueExpectation()
        #expect(first)
        #expect(!second)
        parser.feed(Array("abc".utf8))
        let request = try #require(try parser.next())
        #expect(request.body == Array("abc".utf8))
    }

    @Test("no 100 Continue for a request without body")
    func expectContinueWithoutBody() throws {
        var parser = HTTPRequestParser()
        parser.feed(Array("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n".utf8))
        #expect(try parser.next() != nil)
        let expects = parser.takeContinueExpectation()
        #expect(!expects)
    }

    @Test("a thousand pipelined requests keep the buffer bounded")
    func manyPipelined() throws {
        var parser = HTTPRequestParser()
        let one = Array("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody".utf8)
        var count = 0
        for _ in 0..<1000 {
            parser.feed(one)
            while let request = try parser.next() {
                #expect(request.body == Array("body".utf8))
                count += 1
            }
            #expect(parser.bufferedByteCount < one.count)
        }
        #expect(count == 1000)
    }

    @Test("a large body arrives in pieces")
    func largeBody() throws {
        var parser = HTTPRequestParser()
        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        parser.feed(Array("PUT /blob HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\n\r\n".utf8))
        var offset = 0
        var request: HTTPRequest?
        while offset < body.count {
            #expect(request == nil)
            let end = min(body.count, offset + 1000)
            parser.feed(body[offset..<end])
            offset = end
            request = try parser.next()
            #expect(parser.bufferedByteCount == 0)
        }
        #expect(request?.body == body)
    }

    @Test("feeding raw buffers")
    func rawBuffers() throws {
        var parser = HTTPRequestParser()
        let bytes = Array("GET /raw HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        bytes.withUnsafeBytes { parser.feed($0) }
        #expect(try parser.next()?.path == "/raw")
        #expect(try parser.next() == nil)
    }

    @Test("the request target is rebuilt from path and query")
    func target() throws {
        var parser = HTTPRequestParser()
        parser.feed(Array("GET /a/b?c=d HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(try parser.next()?.target == "/a/b?c=d")
    }
}
