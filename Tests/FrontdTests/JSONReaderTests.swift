import Foundation
import Testing
@testable import frontd

@Suite("the strict one-pass JSON reader")
struct JSONReaderTests {
    private func check(_ text: String, depth: Int = 32) throws(JSONReader.Problem) {
        _ = try JSONReader.read(Array(text.utf8), maxDepth: depth)
    }

    @Test("valid JSON passes", arguments: [
        #"{}"#, #"[]"#, #" {"a" : [1, -2.5e3, 0, -0, 1E+2, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]} "#,
        #"{"a":{"b":{"c":[[[]]]}}}"#, #""just a string""#, "1e-400", #"{"a":1,"A":2}"#, #"{"\u0061":1,"b":2}"#,
    ])
    func valid(_ text: String) throws {
        try check(text)
    }

    @Test("malformed JSON is refused", arguments: [
        #"{"a":1,}"#, #"[1,]"#, #"{"a":1} x"#, #"{'a':1}"#, #"{"a":NaN}"#, #"{"a":Infinity}"#, #"{"a":01}"#, #"{"a":1.}"#,
        #"{"a":.5}"#, #"{"a":+1}"#, #"{"a":0x1}"#, #"{"a":1e}"#, #"{"a" 1}"#, #"{a:1}"#, #"{"a":tru}"#, #"{"a":"x"#,
        #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"tab\there\"}", "{\"a\":1 /* c */}", "{\"a\":1 // c\n}", "", " ", "{",
        #"{"a":"\ud800"}"#, #"{"a":"\ud800\u0041"}"#, #"{"a":"\udc00"}"#, #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#,
    ])
    func malformed(_ text: String) {
        #expect(throws: JSONReader.Problem.self) { try check(text) }
    }

    @Test("nesting deeper than the limit is refused without recursing further")
    func depth() throws {
        try check(String(repeating: "[", count: 32) + String(repeating: "]", count: 32))
        #expect(throws: JSONReader.Problem.tooDeep(32)) { try check(String(repeating: "[", count: 33) + String(repeating: "]", count: 33)) }
        #expect(throws: JSONReader.Problem.tooDeep(32)) { try check(String(repeating: "[", count: 100_000)) }
        #expect(throws: JSONReader.Problem.tooDeep(32)) { try check(String(repeating: #"{"a":"#, count: 100_000)) }
    }

    @Test("numbers beyond a Double name their field")
    func outOfRange() {
        #expect(throws: JSONReader.Problem.outOfRange(path: "temperature", literal: "1e999")) { try check(#"{"temperature":1e999}"#) }
        #expect(throws: JSONReader.Problem.outOfRange(path: "params.max_new_tokens", literal: "-" + String(repeating: "9", count: 400))) {
            try check(#"{"params":{"max_new_tokens":-"# + String(repeating: "9", count: 400) + "}}")
        }
        #expect(throws: JSONReader.Problem.outOfRange(path: "messages[1].content", literal: "1E400")) {
            try check(#"{"messages":[{"content":"a"},{"content":1E400}]}"#)
        }
    }

    @Test("long literals are read exactly: the nearest double, an integer only when the digits make one")
    func longLiterals() throws {
        func number(_ literal: String) throws -> JSONNumberValue? {
            guard case .number(let n)? = try JSONReader.read(Array(#"{"n":\#(literal)}"#.utf8), maxDepth: 32).object?["n"] else { return nil }
            return n
        }
        let zeros = String(repeating: "0", count: 30)
        let cases: [(String, Int64?)] = [
            ("123456789012345678.000e1", 1_234_567_890_123_456_780), ("9223372036854775807", Int64.max),
            ("9223372036854775808", nil), ("-9223372036854775808", Int64.min), ("-9223372036854775809", nil),
            ("26308149839122948e-1", nil), ("29948157871384691e2", 2_994_815_787_138_469_100), ("1." + zeros, 1),
            ("0." + zeros + "1", nil), ("0." + zeros + "e999999999", 0), ("1" + zeros + "e-30", 1), ("1" + zeros + "e-31", nil),
            ("-656701197681770611025453e-538", 0), ("1" + zeros, nil), ("1E+000000000000000000002", 100),
        ]
        for (literal, integer) in cases {
            let n = try #require(try number(literal), "\(literal)")
            #expect(n.exactInteger == integer, "\(literal)")
            #expect(n.double.bitPattern == (Double(literal) ?? .nan).bitPattern, "\(literal)")
        }
    }

    @Test("a UTF-8 byte order mark is skipped")
    func byteOrderMark() throws {
        _ = try JSONReader.read([0xEF, 0xBB, 0xBF] + Array("{}".utf8), maxDepth: 32)
    }

    @Test("the body reader: 400 for syntax, 422 with param for range")
    func bodyStatuses() {
        #expect(throws: APIError.self) { try JSONBody.object(Array(#"{"a":1,}"#.utf8)) }
        do {
            _ = try JSONBody.object(Array(#"{"temperature":1e999}"#.utf8))
            Issue.record("accepted 1e999")
        } catch {
            #expect(error.status.code == 422 && error.param == "temperature")
        }
        do {
            _ = try JSONBody.object(Array(#"{"a":1} junk"#.utf8))
            Issue.record("accepted trailing junk")
        } catch {
            #expect(error.status.code == 400 && error.message.contains("at byte 8"))
        }
        #expect(throws: APIError.self) { try JSONBody.object(Array("[]".utf8)) }
        #expect((try? JSONBody.object(Array(#"{"a":[1,2]}"#.utf8)))?["a"] != nil)
    }
}
