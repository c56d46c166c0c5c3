import Foundation
import HTTP
import Testing

@testable import frontd

/// ``JSONBody`` (one pass through ``JSONReader``) against the reading it replaced — the strict check
/// (``LegacyJSONSyntax``), then JSONSerialization — on many generated bodies, valid and not: both must
/// refuse the same bodies with the same status, message and param, and read the others to the same
/// values (a boolean never a number; each number the same double and the same exact integer).
///
/// One difference is meant: a number literal too long for the short path (an integer of 19 characters
/// or more, a fraction or exponent of 18 or more) was read by JSONSerialization, mostly through
/// `Decimal`, whose double is not always the nearest one (it divides by ten step by step). Today's is:
/// for those literals the reference's double is `Double(literal)` (strtod, correctly rounded). Nor was its
/// integer always exact: a literal whose digits before `e` were few enough went through a double
/// (`26308149839122948e-1` read as the integer 2630814983912295). The reference integer of a long
/// literal is `Decimal`'s reading where that is exact (38 significant digits at most, no underflow),
/// JSONSerialization's otherwise (``exactLongNumbers(_:literal:)``).
@Suite struct JSONReaderDifferentialTests {
    /// What reading a body gave: its value, or the refusal as the client sees it.
    enum Outcome: CustomStringConvertible {
        case value(JSONValue)
        case refused(status: Int, message: String, param: String?)

        var description: String {
            switch self {
            case .value(let v): "value \(v)"
            case .refused(let status, let message, let param): "\(status) \(message) [\(param ?? "-")]"
            }
        }
    }

    static func today(_ bytes: [UInt8]) -> Outcome {
        do {
            return .value(.object(try JSONBody.object(bytes)))
        } catch {
            return .refused(status: error.status.code, message: error.message, param: error.param)
        }
    }

    /// `JSONBody.object` as it was before `JSONReader` (main d03741c), its object bridged to a `JSONValue`.
    static func before(_ bytes: [UInt8]) -> Outcome {
        func refused(_ error: APIError) -> Outcome { .refused(status: error.status.code, message: error.message, param: error.param) }
        guard !bytes.isEmpty else { return refused(.invalid("the request body is empty; expected a JSON object")) }
        guard String(validating: bytes, as: UTF8.self) != nil else { return refused(.invalid("the request body is not valid UTF-8")) }
        do {
            try LegacyJSONSyntax.check(bytes, maxDepth: JSONBody.maxDepth)
        } catch {
            switch error {
            case .malformed(let what, let offset):
                return refused(.invalid("the request body is not valid JSON: \(what) (at byte \(offset))"))
            case .tooDeep(let limit):
                return refused(.invalid("the request body nests deeper than \(limit) levels"))
            case .outOfRange(let path, let literal):
                let shown = literal.utf8.count > 40 ? String(literal.prefix(40)) + "…" : literal
                if path.isEmpty { return refused(.invalid("the request body must be a JSON object")) }
                return refused(.unprocessable("\(path) is out of range: \(shown)", param: path))
            }
        }
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            return refused(.invalid("the request body could not be read as JSON: \(detail)"))
        }
        guard any is [String: Any] else { return refused(.invalid("the request body must be a JSON object")) }
        return .value(bridge(any))
    }

    /// A JSONSerialization result as the request parsers read it (their rules: ``LegacyJSONNumber``).
    static func bridge(_ any: Any) -> JSONValue {
        switch any {
        case is NSNull: return .null
        case let s as String: return .string(s)
        case let n as NSNumber:
            if LegacyJSONNumber.isBool(n) { return .bool(n.boolValue) }
            return .number(JSONNumberValue(double: n.doubleValue, exactInteger: LegacyJSONNumber.exactInteger(n)))
        case let a as [Any]: return .array(a.map(bridge))
        case let o as [String: Any]: return .object(JSONObject(o.map { ($0.key, bridge($0.value)) }))
        default: return .string("unexpected \(type(of: any))")
        }
    }

    /// Whether two readings agree: strings byte for byte, doubles bit for bit, members in any order
    /// (a dictionary has none), keys as the dictionary saw them (canonically equivalent keys are one, the
    /// last value read; ``JSONObject``'s lookups do the same).
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.number(let x), .number(let y)): return x.double.bitPattern == y.double.bitPattern && x.exactInteger == y.exactInteger
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            let xs = collapsed(x), ys = collapsed(y)
            guard xs.count == ys.count else { return false }
            return xs.allSatisfy { m in ys.contains { $0.key == m.key && same($0.value, m.value) } }
        default: return false
        }
    }

    static func collapsed(_ o: JSONObject) -> [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = []
        for m in o.members {
            if let i = members.firstIndex(where: { $0.key == m.key }) { members[i].value = m.value } else { members.append(m) }
        }
        return members
    }

    /// The reference reading of a body whose numbers are all `literal`: ``before(_:)``, with the nearest
    /// double in place of JSONSerialization's when the literal is past the short path's length, and
    /// ``decimalInteger(_:)``'s integer where it can tell.
    static func exactLongNumbers(_ bytes: [UInt8], literal: String) -> Outcome {
        let outcome = before(bytes)
        let integral = !literal.contains { $0 == "." || $0 == "e" || $0 == "E" }
        guard case .value(let value) = outcome, literal.utf8.count > (integral ? 18 : 17), let nearest = Double(literal) else {
            return outcome
        }
        func replaced(_ v: JSONValue) -> JSONValue {
            switch v {
            case .number(let n): return .number(JSONNumberValue(double: nearest, exactInteger: decimalInteger(literal) ?? n.exactInteger))
            case .array(let a): return .array(a.map(replaced))
            case .object(let o): return .object(JSONObject(o.members.map { ($0.key, replaced($0.value)) }))
            default: return v
            }
        }
        return .value(replaced(value))
    }

    /// The integer `literal` stands for exactly (nil inside: none), read by `Decimal`; nil when `Decimal`
    /// cannot tell: more than its 38 significant digits, or a value it cannot hold (an underflow reads 0).
    static func decimalInteger(_ literal: String) -> Int64?? {
        let mantissa = literal.prefix { $0 != "e" && $0 != "E" }
        let significant = mantissa.filter(\.isNumber).drop { $0 == "0" }
        guard significant.count <= 38, let decimal = Decimal(string: literal), decimal.isFinite,
              !decimal.isZero || significant.isEmpty else { return nil }
        return .some(LegacyJSONNumber.exactInteger(NSDecimalNumber(decimal: decimal)))
    }

    static func agree(_ bytes: [UInt8], reference: ([UInt8]) -> Outcome = before) -> Bool {
        switch (today(bytes), reference(bytes)) {
        case (.value(let a), .value(let b)): return same(a, b)
        case (.refused(let s1, let m1, let p1), .refused(let s2, let m2, let p2)): return s1 == s2 && m1 == m2 && p1 == p2
        default: return false
        }
    }

    /// Checks every body, recording the first few disagreements in full.
    static func check(_ bodies: [[UInt8]], reference: ([UInt8]) -> Outcome = before, sourceLocation: SourceLocation = #_sourceLocation) {
        var disagreements = 0
        for body in bodies where !agree(body, reference: reference) {
            disagreements += 1
            if disagreements <= 5 {
                Issue.record("""
                    \(String(decoding: body, as: UTF8.self).debugDescription)
                      today:  \(today(body))
                      before: \(reference(body))
                    """, sourceLocation: sourceLocation)
            }
        }
        #expect(disagreements == 0, "\(disagreements) of \(bodies.count) bodies read differently", sourceLocation: sourceLocation)
    }

    /// A fixed-seed generator (SplitMix64), so a failure is the same on every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seeds = [
        #"{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":16}"#,
        #"{"model":"smollm2","prompt":["Once upon"],"max_tokens":8,"seed":42,"stop":["\n","."],"stream":true,"stream_options":{"include_usage":true}}"#,
        #"{"input":["a","b\u00e9\ud83d\ude00"],"encoding_format":"base64","model":null}"#,
        #"{"prompt":"x","params":{"max_new_tokens":4096,"temperature":0.7,"top_p":0.5,"top_k":40,"seed":-7},"cache":{"ttl":60,"no-store":false}}"#,
        #"{"requests":[{"prompt":"a"},{"prompt":"b","params":{"top_p":1e-3}}],"params":{"temperature":2E0}}"#,
        " {\"a\" : [1, -2.5e3, 0, -0, 1E+2, true, false, null, \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"]} ",
    ]

    @Test("number literals of every shape and length read the same")
    func numbers() {
        var random = Seeded(state: 17)
        var bodies: [[UInt8]] = []
        var literals: [[UInt8]: String] = [:]
        func digits(_ n: Int) -> String { String((0..<n).map { _ in Character(String(Int.random(in: 0...9, using: &random))) }) }
        for _ in 0..<6000 {
            var literal = Bool.random(using: &random) ? "-" : ""
            let whole = Int.random(in: 0...24, using: &random)
            literal += whole == 0 ? "0" : String(Int.random(in: 1...9, using: &random)) + digits(whole - 1)
            if Int.random(in: 0..<3, using: &random) > 0 { literal += "." + digits(Int.random(in: 1...22, using: &random)) }
            if Int.random(in: 0..<3, using: &random) == 0 {
                literal += ["e", "E", "e+", "e-", "E-"].randomElement(using: &random)! + digits(Int.random(in: 1...3, using: &random))
            }
            bodies.append(Array(#"{"max_tokens":\#(literal),"t":[\#(literal)]}"#.utf8))
            literals[bodies[bodies.count - 1]] = literal
        }
        for literal in ["9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
                        "18446744073709551615", "18446744073709551616", "9007199254740993", "9007199254740993.0",
                        "9007199254740993e0", "1.0000000000000000", "1.000000000000000", "-1.000000000000000", "0.30000000000000004",
                        "1e308", "1e309", "-1e400", "4.9e-324", "1e-400", "1" + String(repeating: "0", count: 166),
                        "1" + String(repeating: "0", count: 200), "1." + String(repeating: "0", count: 200),
                        "0." + String(repeating: "0", count: 200) + "1", "-0", "-0.0", "0e0", "01", "1.", ".5", "-", "1e", "+1"] {
            bodies.append(Array(#"{"seed":\#(literal)}"#.utf8))
            literals[bodies[bodies.count - 1]] = literal
        }
        Self.check(bodies) { Self.exactLongNumbers($0, literal: literals[$0] ?? "") }
    }

    @Test("bodies with random edits are refused or read the same")
    func mutations() {
        var random = Seeded(state: 44)
        let alphabet = Array(#"{}[]":,\ u0123456789aeEfnrtl.-+ "#.utf8) + [0x09, 0x0A, 0x00, 0x7F, 0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80]
        var bodies: [[UInt8]] = []
        for _ in 0..<8000 {
            var body = Array(Self.seeds.randomElement(using: &random)!.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = Int.random(in: 0..<body.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: body.insert(alphabet.randomElement(using: &random)!, at: at)
                case 1: body.remove(at: at)
                default: body[at] = alphabet.randomElement(using: &random)!
                }
                if body.isEmpty { break }
            }
            bodies.append(body)
        }
        Self.check(bodies + Self.seeds.map { Array($0.utf8) })
    }

    @Test("strings, escapes, surrogates, keys, nesting and odd shapes read the same")
    func shapes() {
        var random = Seeded(state: 7)
        let pieces = [#"\u0041"#, #"\u00e9"#, #"\ud83d\ude00"#, #"\ud800"#, #"\udc00"#, #"\ud800\u0041"#, #"\u12"#, #"\x"#, #"\/"#,
                      #"\""#, #"\\"#, #"\n"#, "é", "😀", "e\u{301}", "\t", #"\u0000"#, "a", "[1]", "\u{FEFF}"]
        var bodies: [[UInt8]] = []
        for _ in 0..<3000 {
            let s = (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            let t = (0..<Int.random(in: 0...2, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            bodies.append(Array(#"{"content":"\#(s)","\#(t)":1e999,"k\#(t)":[{"\#(s)":1}]}"#.utf8))
        }
        for depth in [30, 31, 32, 33, 34, 200] {
            bodies.append(Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8))
            bodies.append(Array(("{\"a\":" + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}").utf8))
            bodies.append(Array((String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)).utf8))
        }
        let manyKeys = (0..<40).map { #""k\#($0)":\#($0)"# }
        bodies += [
            "", " ", "{}", "[]", "1", "\"s\"", "null", "true", "1e999", "{\"a\":1}x", "\u{FEFF}{}", #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#,
            #"{"é":1,"e\u0301":2}"#, "{\"é\":1,\"e\u{301}\":2}", "{" + manyKeys.joined(separator: ",") + "}",
            "{" + (manyKeys + [#""k3":0"#]).joined(separator: ",") + "}", #"{"a":[1,]}"#, #"{"a":tru}"#, #"{"a":nul}"#,
            "{\"a\":\"\u{1}\"}", #"{"[0]":{"x":1e400}}"#, #"{"a":[{"[0]":[1,2,-1e999]}]}"#,
        ].map { Array($0.utf8) }
        bodies.append([0xEF, 0xBB, 0xBF] + Array("{}".utf8))
        bodies.append([0xEF, 0xBB] + Array("{}".utf8))
        bodies.append(Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8))
        Self.check(bodies)
    }
}
