import Foundation
import Glibc
import Testing
import TestKit

/// What a row of the hostile-input table expects.
enum HostileExpectation: Sendable {
    /// One reply with this status; then the server closes the connection (`closes`), or keeps it and
    /// answers a following `GET /health` on it.
    case reply(Int, closes: Bool)
    /// Pipelined requests: these statuses in order, then a close without another byte.
    case replies([Int])
    /// No reply at all: the server closes the connection.
    case closeWithoutReply
}

/// Who writes a row's reply, which decides what it must carry.
enum HostileAnswerer: Sendable {
    /// frontd's router: X-Request-ID, the JSON error shape, and a debug log line under that id.
    case router
    /// The HTTP layer, before a request exists (parse errors, timeouts): X-Request-ID from the same
    /// generator and the JSON error shape, but no router log line; the connection is closed.
    case httpLayer
}

/// One hostile request: the exact bytes, what frontd must answer, and why.
struct HostileCase: Sendable, CustomStringConvertible {
    let name: String
    let why: String
    var bytes: [UInt8] = []
    let expect: HostileExpectation
    var answerer = HostileAnswerer.router
    /// The `param` of a 422.
    var param: String?
    /// The exact `Allow` of a 405 (or the methods a 204 OPTIONS answer must list).
    var allow: String?
    var allowIncludes: [String] = []
    /// The X-Request-ID the reply must echo; nil: a generated one (32 hex digits).
    var echoedID: String?
    /// Headers the reply must not have (what an injection would have added).
    var absentHeaders: [String] = []
    /// Sends the request instead of `bytes` (dribbling, stopping half-way).
    var drive: (@Sendable (RawHTTPClient) -> Void)?

    var description: String { name }
}

/// The key the table's API requests carry; the stack's keys file holds it (`HarnessKey.fixed`).
private let bearer = "Authorization: Bearer hostile-table-key\r\n"

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A POST with a body and exact headers (`Content-Length` computed unless `length` is given).
private func post(_ path: String, body: [UInt8], type: String? = "application/json", length: Int? = nil, extra: String = "") -> [UInt8] {
    var head = "POST \(path) HTTP/1.1\r\nHost: hostile.test\r\n" + bearer
    if let type { head += "Content-Type: \(type)\r\n" }
    head += "Content-Length: \(length ?? body.count)\r\n" + extra + "\r\n"
    return bytes(head) + body
}

private func chat(_ json: String, extra: String = "") -> [UInt8] {
    post("/v1/chat/completions", body: bytes(json), extra: extra)
}

private func chat(raw: [UInt8]) -> [UInt8] {
    post("/v1/chat/completions", body: raw)
}

/// A well-formed chat body with `fields` spliced in (e.g. `"temperature":"hot"`).
private func chatWith(_ fields: String) -> [UInt8] {
    chat(#"{"model":"smollm2","messages":[{"role":"user","content":"Hi"}],"max_tokens":1,"# + fields + "}")
}

private func get(_ target: String, extra: String = "", version: String = "HTTP/1.1") -> [UInt8] {
    bytes("GET \(target) \(version)\r\nHost: hostile.test\r\n" + extra + "\r\n")
}

private func parserError(_ name: String, _ status: Int, _ why: String, _ input: [UInt8], absent: [String] = []) -> HostileCase {
    HostileCase(name: name, why: why, bytes: input, expect: .reply(status, closes: true), answerer: .httpLayer, absentHeaders: absent)
}

private func api(_ name: String, _ status: Int, _ why: String, _ input: [UInt8], param: String? = nil, allow: String? = nil) -> HostileCase {
    HostileCase(name: name, why: why, bytes: input, expect: .reply(status, closes: false), param: param, allow: allow)
}

/// Sends `text` one byte every 100 ms until the server answers or `limit` seconds pass.
private func dribble(_ client: RawHTTPClient, _ text: String, limit: Double = 8) {
    let start = ContinuousClock.now
    for byte in text.utf8 {
        if client.hasInput(within: 0.1) || ContinuousClock.now - start > .seconds(limit) { return }
        if !client.send([byte]) { return }
    }
}

private let deepArrays = "{\"messages\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
private let deepObjects = String(repeating: "{\"a\":", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
private let fourHundredDigits = String(repeating: "7", count: 400)
private let longID = String(repeating: "i", count: 129)
private let okMessages = #""messages":[{"role":"user","content":"Hi"}]"#

/// The table: at least 60 malformed or hostile requests, each with its expected answer and the reason.
let hostileCases: [HostileCase] = [
    // Malformed JSON: 400 from frontd, the connection stays usable.
    api("truncated JSON", 400, "the body ends inside an object", bytes(#"{"messages":[{"role":"user","content":"hi"}"#).withChat),
    api("trailing garbage", 400, "one JSON value, then only whitespace", bytes(#"{"# + okMessages + #"} xyz"#).withChat),
    api("trailing comma", 400, "JSONSerialization accepts it; JSON does not", bytes(#"{"# + okMessages + #",}"#).withChat),
    api("single quotes", 400, "strings take double quotes", bytes(#"{'messages':[]}"#).withChat),
    api("NaN", 400, "JSON has no NaN", chatWith(#""temperature":NaN"#)),
    api("Infinity", 400, "JSON has no Infinity", chatWith(#""temperature":Infinity"#)),
    api("block comment", 400, "JSON has no comments", bytes("{" + okMessages + " /* hi */}").withChat),
    api("line comment", 400, "JSON has no comments", bytes("{" + okMessages + " // hi\n}").withChat),
    api("leading zero", 400, "numbers have no leading zeros", chatWith(#""seed":012"#)),
    api("hex number", 400, "numbers are decimal", chatWith(#""seed":0x10"#)),
    api("10 000 nested arrays", 400, "nesting is bounded (32) so the parser cannot be recursed off its stack", bytes(deepArrays).withChat),
    api("10 000 nested objects", 400, "the same bound for objects", bytes(deepObjects).withChat),
    api("duplicate keys", 400, "two parsers could read different values from one body", chatWith(#""max_tokens":2"#)),
    api("empty body", 400, "a POST that needs a body, Content-Length 0", chat("")),
    api("no Content-Length at all", 400, "no framing means no body", bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n" + bearer + "Content-Type: application/json\r\n\r\n")),
    api("body is an array", 400, "the body must be an object", chat("[]")),
    api("body is a string", 400, "the body must be an object", chat(#""hello""#)),
    api("body is null", 400, "the body must be an object", chat("null")),
    api("invalid UTF-8 in the body", 400, "0xFF is never UTF-8", chat(raw: bytes(#"{"messages":[{"role":"user","content":""#) + [0xFF, 0xFE] + bytes(#""}]}"#))),
    api("overlong UTF-8 in the body", 400, "C0 AF is an overlong '/', a classic filter bypass", chat(raw: bytes(#"{"messages":[{"role":"user","content":"a"#) + [0xC0, 0xAF] + bytes(#""}]}"#))),
    api("UTF-16 body", 400, "JSON on the wire is UTF-8", chat(raw: [0xFE, 0xFF] + Array("{}".utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }))),
    api("lone high surrogate", 400, "\\ud800 alone is no character", chat(#"{"messages":[{"role":"user","content":"\ud800"}]}"#)),
    api("lone low surrogate", 400, "\\udc00 alone is no character", chat(#"{"messages":[{"role":"user","content":"\udc00x"}]}"#)),
    api("raw NUL in a string", 400, "control characters must be escaped", chat(raw: bytes(#"{"messages":[{"role":"user","content":"a"#) + [0] + bytes(#"b"}]}"#))),
    api("NUL between tokens", 400, "NUL is not whitespace", chat(raw: bytes("{") + [0] + bytes(okMessages + "}"))),
    api("escaped NUL is fine", 200, "\\u0000 is a valid escape; the model just sees a NUL",
        chat(#"{"model":"smollm2","messages":[{"role":"user","content":"a\u0000b"}],"max_tokens":1,"temperature":0}"#)),

    // Numbers out of range: 422 naming the field.
    api("temperature 1e999", 422, "beyond a Double: out of range, not malformed", chatWith(#""temperature":1e999"#), param: "temperature"),
    api("max_tokens of 400 digits", 422, "an integer no type holds", chat(#"{"# + okMessages + #","max_tokens":"# + fourHundredDigits + "}"), param: "max_tokens"),
    api("max_tokens -0", 422, "-0 is 0, below the minimum of 1", chat(#"{"# + okMessages + #","max_tokens":-0}"#), param: "max_tokens"),
    api("max_tokens 1e30", 422, "representable, but far past the maximum", chat(#"{"# + okMessages + #","max_tokens":1e30}"#), param: "max_tokens"),
    api("seed 1e300", 422, "a seed must fit 64 bits", chatWith(#""seed":1e300"#), param: "seed"),
    api("nested 1e999", 422, "the param names the nested field", chat(#"{"messages":[{"role":"user","content":-1e999}]}"#), param: "messages[0].content"),
    api("temperature -0 is 0", 200, "-0 is a valid temperature", chat(#"{"model":"smollm2",\#(okMessages),"max_tokens":1,"temperature":-0}"#)),

    // Wrong types and values: 422 naming `param`.
    api("messages is a string", 422, "messages is an array", chat(#"{"messages":"hi"}"#), param: "messages"),
    api("messages is empty", 422, "at least one message", chat(#"{"messages":[]}"#), param: "messages"),
    api("content is a number", 422, "content is a string", chat(#"{"messages":[{"role":"user","content":5}]}"#), param: "messages"),
    api("unknown role", 422, "roles are system, user, assistant, developer", chat(#"{"messages":[{"role":"root","content":"x"}]}"#), param: "messages"),
    api("temperature is a string", 422, "numbers are numbers", chatWith(#""temperature":"0.5""#), param: "temperature"),
    api("max_tokens is a boolean", 422, "true is not 1", chat(#"{"# + okMessages + #","max_tokens":true}"#), param: "max_tokens"),
    api("max_tokens 1.5", 422, "an integer", chat(#"{"# + okMessages + #","max_tokens":1.5}"#), param: "max_tokens"),
    api("max_tokens 0", 422, "at least 1", chat(#"{"# + okMessages + #","max_tokens":0}"#), param: "max_tokens"),
    api("temperature 2.5", 422, "0 to 2", chatWith(#""temperature":2.5"#), param: "temperature"),
    api("top_p 0", 422, "greater than 0", chatWith(#""top_p":0"#), param: "top_p"),
    api("frequency_penalty 3", 422, "-2 to 2", chatWith(#""frequency_penalty":3"#), param: "frequency_penalty"),
    api("stream is a string", 422, "a boolean", chatWith(#""stream":"yes""#), param: "stream"),
    api("five stop strings", 422, "at most 4", chatWith(#""stop":["a","b","c","d","e"]"#), param: "stop"),
    api("stop of numbers", 422, "strings only", chatWith(#""stop":[1,2]"#), param: "stop"),
    api("n 2", 422, "one choice only", chatWith(#""n":2"#), param: "n"),
    api("model is a number", 422, "a model name", chat(#"{"model":42,"# + okMessages + "}"), param: "model"),
    api("model is a path", 422, "names are [a-z0-9_-]", chat(#"{"model":"../../etc/passwd","# + okMessages + "}"), param: "model"),
    api("unknown model", 404, "a well-formed name no registry entry has", chat(#"{"model":"nosuchmodel","# + okMessages + #","max_tokens":1}"#), param: "model"),
    api("embeddings input is a number", 422, "a string or an array of strings", post("/v1/embeddings", body: bytes(#"{"input":42}"#)), param: "input"),
    api("embeddings input is empty", 422, "at least one input", post("/v1/embeddings", body: bytes(#"{"input":[]}"#)), param: "input"),

    // Media types.
    api("text/plain body", 415, "JSON only", post("/v1/chat/completions", body: bytes("{}"), type: "text/plain")),
    api("form body", 415, "JSON only", post("/v1/chat/completions", body: bytes("a=b"), type: "application/x-www-form-urlencoded")),

    // Methods, paths, targets.
    api("GET on a POST route", 405, "Allow names what is", get("/v1/chat/completions", extra: bearer), allow: "POST, OPTIONS"),
    api("DELETE /health", 405, "Allow names what is", bytes("DELETE /health HTTP/1.1\r\nHost: h\r\n\r\n"), allow: "GET, HEAD, OPTIONS"),
    api("lower-case method", 405, "methods are case-sensitive: get is not GET", bytes("get /health HTTP/1.1\r\nHost: h\r\n\r\n"), allow: "GET, HEAD, OPTIONS"),
    api("unknown path", 404, "no such route", get("/v1/nope")),
    api("dot segments are not resolved", 404, "/v1/../health is no route (no path normalisation to trick)", get("/v1/../health")),
    api("invalid UTF-8 in the path", 404, "bytes are bytes; no route has them", bytes("GET /v1/") + [0xFF, 0xC0] + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n")),
    api("absolute-form target", 200, "servers must accept it (RFC 9112 3.2.2); the authority is ignored", get("http://elsewhere.example/health")),
    HostileCase(name: "OPTIONS *", why: "a question about the server as a whole", bytes: bytes("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
                expect: .reply(204, closes: false), allowIncludes: ["GET", "POST", "OPTIONS"]),
    api("HTTP/1.0 without Host", 200, "1.0 needs no Host; the connection closes after", get("/health", version: "HTTP/1.0"))
        .closing,
    parserError("GET *", 400, "the asterisk form is for OPTIONS only", bytes("GET * HTTP/1.1\r\nHost: h\r\n\r\n")),
    parserError("NUL in the path", 400, "a control byte in the target", bytes("GET /he") + [0] + bytes("alth HTTP/1.1\r\nHost: h\r\n\r\n")),
    parserError("URI too long", 414, "targets are bounded (8 KiB)", get("/" + String(repeating: "a", count: 9000))),
    parserError("query too long", 414, "the query is part of the target", get("/health?q=" + String(repeating: "b", count: 9000))),
    parserError("HTTP/0.9 request line", 400, "no version: HTTP/0.9 is not spoken", bytes("GET /health\r\n\r\n")),
    parserError("HTTP/0.9 version", 505, "only 1.x", get("/health", version: "HTTP/0.9")),
    parserError("HTTP/2.0 version", 505, "only 1.x over this port", get("/health", version: "HTTP/2.0")),
    parserError("HTTP/2 preface", 505, "a prior-knowledge h2 client", bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")),
    parserError("missing Host", 400, "HTTP/1.1 needs exactly one Host", bytes("GET /health HTTP/1.1\r\n\r\n")),
    parserError("two Hosts", 400, "which one would route?", bytes("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")),
    parserError("Expect: magic", 417, "only 100-continue", bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n{}")),

    // Headers: bytes, injection, request ids.
    api("invalid UTF-8 in a header value", 200, "obs-text is allowed in values and never echoed", bytes("GET /health HTTP/1.1\r\nHost: h\r\nX-Note: ") + [0xFF, 0xFE] + bytes("\r\n\r\n")),
    parserError("invalid UTF-8 in a header name", 400, "names are tokens", bytes("GET /health HTTP/1.1\r\nHost: h\r\nX-") + [0xFF] + bytes(": v\r\n\r\n")),
    parserError("NUL in a header value", 400, "a control byte", bytes("GET /health HTTP/1.1\r\nHost: h\r\nX-A: a") + [0] + bytes("b\r\n\r\n")),
    parserError("bare CR in a header value", 400, "a CR must end a line", get("/health", extra: "X-A: a\rb\r\n")),
    HostileCase(name: "valid X-Request-ID is echoed", why: "1-128 of [A-Za-z0-9._-]", bytes: get("/health", extra: "X-Request-ID: client-id_1.2\r\n"),
                expect: .reply(200, closes: false), echoedID: "client-id_1.2"),
    api("X-Request-ID of 129 bytes", 200, "too long: a fresh id instead", get("/health", extra: "X-Request-ID: \(longID)\r\n")),
    api("X-Request-ID with a space", 200, "not in the allowed set: a fresh id", get("/health", extra: "X-Request-ID: a b\r\n")),
    api("X-Request-ID with percent-encoded CR LF", 200, "%0d%0a stays text and is refused", get("/health", extra: "X-Request-ID: a%0d%0aSet-Cookie:x=1\r\n")),
    api("X-Request-ID with invalid UTF-8", 200, "refused, a fresh id", bytes("GET /health HTTP/1.1\r\nHost: h\r\nX-Request-ID: ab") + [0xFF] + bytes("\r\n\r\n")),
    HostileCase(name: "CR LF after X-Request-ID starts a new header", why: "the next line is a request header, never a reply header",
                bytes: get("/health", extra: "X-Request-ID: abc\r\nSet-Cookie: stolen=1\r\n"), expect: .reply(200, closes: false),
                echoedID: "abc", absentHeaders: ["Set-Cookie"]),
    parserError("bare CR in X-Request-ID", 400, "header injection through a bare CR", get("/health", extra: "X-Request-ID: abc\rSet-Cookie: stolen=1\r\n"),
                absent: ["Set-Cookie"]),
    HostileCase(name: "bare LF in X-Request-ID ends the line", why: "a bare LF is a line end: two request headers, nothing echoed",
                bytes: bytes("GET /health HTTP/1.1\r\nHost: h\r\nX-Request-ID: abc\nSet-Cookie: stolen=1\r\n\r\n"), expect: .reply(200, closes: false),
                echoedID: "abc", absentHeaders: ["Set-Cookie"]),

    // Framing and smuggling: 400 (or 501) and close.
    parserError("Content-Length and Transfer-Encoding", 400, "request smuggling: which framing wins?",
                post("/v1/chat/completions", body: bytes("0\r\n\r\n"), extra: "Transfer-Encoding: chunked\r\n")),
    parserError("Transfer-Encoding then Content-Length", 400, "the same, in the other order",
                bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n")),
    parserError("two different Content-Lengths", 400, "request smuggling",
                bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x")),
    parserError("Transfer-Encoding: chunked, identity", 501, "only chunked alone is understood",
                bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n")),
    parserError("Transfer-Encoding: xchunked", 501, "not chunked, whatever a lax parser thinks",
                bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n")),
    parserError("Transfer-Encoding in HTTP/1.0", 400, "1.0 has no chunked coding",
                bytes("POST /v1/chat/completions HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")),
    parserError("space before the colon", 400, "RFC 9112 5.1: must be rejected", bytes("GET /health HTTP/1.1\r\nHost: h\r\nContent-Length : 0\r\n\r\n")),
    parserError("obs-fold continuation line", 400, "obsolete line folding", bytes("GET /health HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n")),
    parserError("chunk size overflow", 400, "17 hex digits overflow 64 bits",
                bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n0\r\n\r\n")),
    parserError("chunk without its CR LF", 400, "chunk data longer than its size",
                bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n")),
    api("chunked upload reaches frontd", 400, "valid chunked framing of an invalid body: frontd answers, the connection stays",
        bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n" + bearer + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"m\r\n2\r\n\":\r\n0\r\n\r\n")),

    // Sizes.
    parserError("body too large by Content-Length", 413, "refused before a body byte is read", post("/v1/chat/completions", body: [], length: 2 << 20)),
    parserError("body too large by chunks", 413, "chunk sizes add up past the limit",
                bytes("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n")),
    parserError("body too large with Expect", 413, "refused instead of 100 Continue", post("/v1/chat/completions", body: [], length: 2 << 20, extra: "Expect: 100-continue\r\n")),
    parserError("headers too large", 431, "16 KiB of head", get("/health", extra: "X-Big: " + String(repeating: "h", count: 20_000) + "\r\n")),
    parserError("too many headers", 431, "100 lines", get("/health", extra: (0..<101).map { "X-\($0): v\r\n" }.joined())),

    // Pipelining and slow or silent clients (timeouts set low for this stack: 1 s, 1 s, idle 2 s).
    HostileCase(name: "pipelined garbage after a valid request", why: "the first is answered, the garbage gets 400 and a close",
                bytes: get("/health") + bytes("GARBAGE\r\n\r\n"), expect: .replies([200, 400])),
    HostileCase(name: "two pipelined requests", why: "answered in order on one connection",
                bytes: get("/health") + get("/health/live"), expect: .replies([200, 200])),
    HostileCase(name: "slowloris", why: "headers dribbled one byte per 100 ms past the header timeout", expect: .reply(408, closes: true),
                answerer: .httpLayer, drive: { dribble($0, "GET /health HTTP/1.1\r\nHost: h\r\nX-Slow: " + String(repeating: "s", count: 200) + "\r\n\r\n") }),
    HostileCase(name: "head never finishes", why: "stops after one header line", bytes: bytes("GET /health HTTP/1.1\r\nHost: h\r\n"),
                expect: .reply(408, closes: true), answerer: .httpLayer),
    HostileCase(name: "body stops half-way", why: "Content-Length 100, 10 bytes sent", bytes: post("/v1/chat/completions", body: bytes("{\"messages\""), length: 100),
                expect: .reply(408, closes: true), answerer: .httpLayer),
    HostileCase(name: "idle keep-alive connection", why: "closed silently after the idle timeout", bytes: get("/health"), expect: .replies([200])),
    HostileCase(name: "connect and say nothing", why: "closed silently after the header timeout", expect: .closeWithoutReply),
    HostileCase(name: "only blank lines", why: "blank lines before a request are skipped; nothing follows", bytes: bytes("\r\n\r\n\r\n"), expect: .closeWithoutReply),
]

extension Array where Element == UInt8 {
    /// These bytes as a chat completions body.
    fileprivate var withChat: [UInt8] { post("/v1/chat/completions", body: self) }
}

extension HostileCase {
    /// The reply closes the connection (HTTP/1.0).
    fileprivate var closing: HostileCase {
        var c = self
        if case .reply(let status, _) = expect { c = HostileCase(name: name, why: why, bytes: bytes, expect: .reply(status, closes: true)) }
        return c
    }
}

/// frontd under a table of malformed and hostile requests, on a real stack, sent as exact bytes.
@Suite("hostile input against the real stack", .serialized)
struct HostileInputTests {
    /// The checks every reply gets: X-Request-ID, and for errors the one JSON shape carrying the same id.
    /// - Returns: the reply's request id.
    @discardableResult
    static func checkReply(_ r: RawHTTPClient.Response, _ row: HostileCase) -> String? {
        let id = r.header("X-Request-ID")
        #expect(id != nil, "\(row): no X-Request-ID")
        if let echoed = row.echoedID {
            #expect(id == echoed, "\(row): X-Request-ID \(id ?? "nil"), expected \(echoed)")
        } else if let id {
            #expect(id.utf8.count == 32 && id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) },
                    "\(row): X-Request-ID \(id.debugDescription) is not a generated id")
        }
        for name in row.absentHeaders { #expect(r.header(name) == nil, "\(row): reply has \(name)") }
        if r.status >= 400 {
            #expect(r.header("Content-Type") == "application/json", "\(row): \(r.header("Content-Type") ?? "no content type")")
            let object = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any]
            let error = object?["error"] as? [String: Any]
            #expect(error != nil, "\(row): not the error shape: \(r.text.prefix(300))")
            if let error {
                #expect(error["message"] is String && error["type"] is String, "\(row): \(error)")
                #expect(error["code"] is String || error["code"] is NSNull, "\(row): code \(String(describing: error["code"]))")
                #expect(error["param"] is String || error["param"] is NSNull, "\(row): param \(String(describing: error["param"]))")
                #expect(error["request_id"] as? String == id, "\(row): request_id \(String(describing: error["request_id"])) vs header \(id ?? "nil")")
                if let param = row.param { #expect(error["param"] as? String == param, "\(row): param \(String(describing: error["param"]))") }
            }
        }
        if let allow = row.allow { #expect(r.header("Allow") == allow, "\(row): Allow \(r.header("Allow") ?? "nil")") }
        for method in row.allowIncludes {
            #expect(r.header("Allow")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains(method) == true,
                    "\(row): Allow \(r.header("Allow") ?? "nil") lacks \(method)")
        }
        return id
    }

    /// Runs one row on a fresh connection. Returns the request ids of the router's replies.
    static func run(_ row: HostileCase, port: Int) throws -> [String] {
        let client = try RawHTTPClient(port: port)
        if let drive = row.drive { drive(client) } else if !row.bytes.isEmpty { client.send(row.bytes) }
        var routerIDs: [String] = []
        switch row.expect {
        case .reply(let status, let closes):
            let r: RawHTTPClient.Response
            do {
                r = try client.readResponse(timeout: 30)
            } catch {
                Issue.record("\(row): no reply (\(error)); expected \(status). Why: \(row.why)")
                return []
            }
            #expect(r.status == status, "\(row): got \(r.status), expected \(status) (\(row.why)): \(r.text.prefix(300))")
            let id = checkReply(r, row)
            if row.answerer == .router, let id { routerIDs.append(id) }
            if closes {
                #expect(client.closesWithoutReply(within: 5), "\(row): the connection was not closed after \(status)")
            } else {
                // Still usable: the next request on the same connection is answered.
                client.send(get("/health"))
                let next = try? client.readResponse(timeout: 10)
                #expect(next?.status == 200, "\(row): the connection did not serve a next request")
            }
        case .replies(let statuses):
            for (i, status) in statuses.enumerated() {
                guard let r = try? client.readResponse(timeout: 30) else {
                    Issue.record("\(row): no reply \(i + 1) of \(statuses.count)")
                    return routerIDs
                }
                #expect(r.status == status, "\(row): reply \(i + 1) is \(r.status), expected \(status)")
                if let id = checkReply(r, row), status < 400 { routerIDs.append(id) }
            }
            // Garbage closes at once; a clean pipeline is closed by the idle timeout (2 s on this stack).
            #expect(client.closesWithoutReply(within: 8), "\(row): the connection was not closed afterwards")
        case .closeWithoutReply:
            #expect(client.closesWithoutReply(within: 8), "\(row): expected a close without a reply")
        }
        return routerIDs
    }

    @Test("60+ malformed and hostile requests: each answered as the table says, nothing crashes, the stack keeps serving")
    func hostileTable() throws {
        #expect(hostileCases.count >= 60)
        let run = try StackRun(
            models: [("smollm2", "chat"), ("minilm", "embedding")],
            environmentFile: ["LOG_LEVEL=debug", "RATE_LIMIT_RPM=100000",
                              "HTTP_HEADER_TIMEOUT_SEC=1", "HTTP_BODY_TIMEOUT_SEC=1", "HTTP_IDLE_TIMEOUT_SEC=2"],
            realDaemons: true, apiKeys: [.fixed("hostile-table-key")])
        #expect(run.wait(.seconds(120)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let pidsBefore = run.pids()
        #expect(pidsBefore.count >= 6, "\(pidsBefore)")

        var routerIDs: [(String, String)] = []
        for row in hostileCases {
            for id in try Self.run(row, port: port) { routerIDs.append((id, row.name)) }
        }

        try streamDisconnectCancelsGeneration(run, port: port)

        // Nothing crashed or restarted, and the stack still serves health and a real completion.
        #expect(run.pids() == pidsBefore, "daemons restarted: before \(pidsBefore), after \(run.pids())")
        let health = try RawHTTPClient(port: port)
        health.send(get("/health"))
        #expect((try? health.readResponse())?.status == 200)
        let completion = curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer hostile-table-key",
                               "-d", PipelineTests.chatBody("What is the capital of France?"), "http://127.0.0.1:\(port)/v1/chat/completions"])
        #expect(completion.status == 200 && completion.body.contains("Paris"), "\(completion.status) \(completion.body.prefix(300))")
        #expect(completion.headers["x-request-id"] != nil)

        // Every request the router answered has its id on frontd's access line for it, and every frontd line
        // about a request carries a request_id.
        let frontdLines = run.logLines().filter { $0["daemon"] as? String == "frontd" }
        let logged = Set(frontdLines.compactMap { $0["msg"] as? String == "access" ? $0["request_id"] as? String : nil })
        for (id, name) in routerIDs {
            #expect(logged.contains(id), "\(name): no frontd log line with request_id \(id)")
        }
        for line in frontdLines where line["route"] != nil {
            #expect(line["request_id"] is String, "frontd line about a request without request_id: \(line)")
        }
        #expect(run.stop() == 0)
    }

    /// A streaming client that hangs up mid-stream: frontd cancels, batchd and modeld count the request
    /// cancelled, and the model stops generating for it.
    func streamDisconnectCancelsGeneration(_ run: StackRun, port: Int) throws {
        let metricsPort = try #require(run.port("metrics-http"))
        func metric(_ name: String, _ labels: [String]) -> Double {
            let text = curl(["http://127.0.0.1:\(metricsPort)/metrics"], timeout: 10).body
            for line in text.split(separator: "\n") where line.hasPrefix(name + "{") && labels.allSatisfy({ line.contains($0) }) {
                return Double(line.split(separator: " ").last ?? "") ?? 0
            }
            return 0
        }
        let model = #"model="smollm2""#
        let modeldCancelled = { metric("infer_modeld_requests_total", [model, #"outcome="cancelled""#]) }
        let batchdCancelled = { metric("infer_batchd_requests_total", [model, #"outcome="cancelled""#]) }
        let generated = { metric("infer_modeld_generated_tokens_total", [model]) }
        let (modeldBefore, batchdBefore, tokensBefore) = (modeldCancelled(), batchdCancelled(), generated())

        // SmolLM2 loops on this prompt until max_tokens (checked with `modeld generate`): a generation that
        // is not cancelled runs on for a long time.
        let maxTokens = 1500
        let client = try RawHTTPClient(port: port)
        client.send(chat(#"{"model":"smollm2","messages":[{"role":"user","content":"Repeat the word hello 500 times."}],"# +
                         #""max_tokens":\#(maxTokens),"temperature":0,"stream":true}"#, extra: "X-Request-ID: sse-hangup-1\r\n"))
        let head = try client.readResponse(timeout: 60, headOnly: true)
        #expect(head.status == 200 && head.header("Content-Type")?.hasPrefix("text/event-stream") == true)
        #expect(head.header("X-Request-ID") == "sse-hangup-1")
        var events = 0
        while events < 6 {
            let chunk = try client.readChunk(timeout: 60)
            #expect(String(decoding: chunk, as: UTF8.self).hasPrefix("data: {"))
            events += 1
        }
        client.hangUp()

        // batchd and modeld both count the request as cancelled, and modeld's token counter stops.
        #expect(run.wait(.seconds(30)) { modeldCancelled() >= modeldBefore + 1 && batchdCancelled() >= batchdBefore + 1 },
                "not cancelled: modeld \(modeldCancelled()) (was \(modeldBefore)), batchd \(batchdCancelled()) (was \(batchdBefore))")
        var last = generated()
        #expect(run.wait(.seconds(20)) {
            usleep(500_000)
            let now = generated()
            defer { last = now }
            return now == last
        }, "modeld kept generating after the client left")
        #expect(last - tokensBefore < Double(maxTokens), "the generation ran to its end: \(last - tokensBefore) tokens")
        let gone = run.logLines().contains {
            $0["daemon"] as? String == "frontd" && $0["request_id"] as? String == "sse-hangup-1"
                && ($0["msg"] as? String)?.hasPrefix("client closed") == true
        }
        #expect(gone, "frontd did not log the client's departure under its request id")
    }
}
