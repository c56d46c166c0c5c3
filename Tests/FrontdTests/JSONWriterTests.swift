import Foundation
import Testing

@testable import frontd

/// ``JSONWriter`` against what it replaced — JSONSerialization with `.sortedKeys` and
/// `.withoutEscapingSlashes` — on many generated reply values: the bytes must be the same (member order,
/// number forms and string escapes included), but for DEL, which Basics' escaper writes as `\u007f`.
@Suite struct JSONWriterTests {
    /// The differential reader tests' fixed-seed generator, so a failure is the same on every run.
    typealias Seeded = JSONReaderDifferentialTests.Seeded

    /// A random value, as a ``JSONValue`` and as the Foundation object the routes used to build.
    static func value(depth: Int, _ random: inout Seeded) -> (JSONValue, Any) {
        switch Int.random(in: 0..<(depth > 2 ? 6 : 8), using: &random) {
        case 0: return (.null, NSNull())
        case 1:
            let flag = Bool.random(using: &random)
            return (.bool(flag), flag)
        case 2:
            let n = [Int.random(in: -1000...1000, using: &random), Int.random(in: Int.min...Int.max, using: &random), 0].randomElement(using: &random) ?? 0
            return (.int(n), n)
        case 3:
            let d = double(&random)
            return (.double(d), d)
        case 4, 5:
            let s = text(&random)
            return (.string(s), s)
        case 6:
            var values: [JSONValue] = [], objects: [Any] = []
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                let (v, o) = value(depth: depth + 1, &random)
                values.append(v)
                objects.append(o)
            }
            return (.array(values), objects)
        default:
            var members: [(key: String, value: JSONValue)] = [], dictionary: [String: Any] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                let key = Self.key(&random)
                guard dictionary[key] == nil else { continue }
                let (v, o) = value(depth: depth + 1, &random)
                members.append((key, v))
                dictionary[key] = o
            }
            return (.object(JSONObject(members)), dictionary)
        }
    }

    /// Doubles of the kinds replies hold: costs, rates, latencies, prices, embeddings, whole numbers.
    static func double(_ random: inout Seeded) -> Double {
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return Double(Int.random(in: -100_000...100_000, using: &random))
        case 1: return Double.random(in: 0..<1, using: &random)
        case 2: return Double(Float.random(in: -1...1, using: &random))
        case 3: return Double(Int.random(in: 1...9_999, using: &random)) * 1e-9
        case 4: return [0, -0.0, 1e16, 1e21, 9_007_199_254_740_992, 9_007_199_254_740_993, 1e-7, 0.1 + 0.2, 123_456.789].randomElement(using: &random) ?? 0
        default:
            let d = Double(bitPattern: random.next())
            return d.isFinite ? d : 1.5
        }
    }

    static func text(_ random: inout Seeded) -> String {
        let pieces = ["a", "/", "\\", "\"", "\n", "\r", "\t", "\u{8}", "\u{C}", "\u{0}", "\u{1F}", "é", "😀", "e\u{301}", "\u{2028}", " ", "</script>"]
        return (0..<Int.random(in: 0...5, using: &random)).map { _ in pieces.randomElement(using: &random) ?? "" }.joined()
    }

    /// Keys like the replies' (`prompt_tokens`, `p50`, `price_input_per_1m`) and like daemon names.
    static func key(_ random: inout Seeded) -> String {
        let alphabet = Array("abcxyz_019-")
        let letters = (0..<Int.random(in: 1...4, using: &random)).map { _ in alphabet.randomElement(using: &random) ?? "a" }
        return ["object", "total_tokens", "p50", "p99", "p100", "price_input_per_1m", "price_output_per_1m", "modeld-2", "modeld-10",
                String(letters)].randomElement(using: &random) ?? "a"
    }

    @Test("reply values are written byte for byte as JSONSerialization wrote them")
    func differential() throws {
        var random = Seeded(state: 23)
        var disagreements = 0
        for _ in 0..<4000 {
            let (value, object) = Self.value(depth: 0, &random)
            let wrapped: [String: Any] = ["v": object]
            let expected = try JSONSerialization.data(withJSONObject: wrapped, options: [.sortedKeys, .withoutEscapingSlashes])
            let written = JSONWriter.bytes(["v": value])
            if written != [UInt8](expected) {
                disagreements += 1
                if disagreements <= 5 {
                    Issue.record("\(String(decoding: written, as: UTF8.self))\n  was: \(String(decoding: expected, as: UTF8.self))")
                }
            }
        }
        #expect(disagreements == 0)
    }

    @Test("numbers: integers as digits, doubles as Swift prints them without .0, non-finite as null")
    func numbers() {
        func written(_ v: JSONValue) -> String { String(decoding: JSONWriter.bytes(v), as: UTF8.self) }
        #expect(written(.int(Int64.min)) == "-9223372036854775808")
        #expect(written(.int(UInt64.max)) == "1.8446744073709552e+19")
        #expect(written(.double(3)) == "3" && written(.double(-0.0)) == "-0" && written(.double(0.5)) == "0.5")
        #expect(written(.double(2e-6)) == "2e-06" && written(.double(1e16)) == "1e+16")
        #expect(written(.double(.nan)) == "null" && written(.double(-.infinity)) == "null")
    }

    @Test("an error body: members in JSONSerialization's order, null for what is missing")
    func errorBody() {
        let body = APIError.invalid("bad \"x\"/y", param: "model").body(requestID: nil)
        #expect(String(decoding: body, as: UTF8.self)
            == #"{"error":{"code":null,"message":"bad \"x\"/y","param":"model","request_id":null,"type":"invalid_request_error"}}"#)
    }
}
