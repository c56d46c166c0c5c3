import Basics

/// Writes a ``JSONValue`` as compact JSON text: the replies built as values (errors, `/v1/models`, usage,
/// metrics, cache statistics, embeddings), byte for byte as JSONSerialization wrote them with
/// `.sortedKeys` and `.withoutEscapingSlashes` before frontd dropped Foundation.
///
/// - Members in ``JSONKeyOrder``, whatever order the value holds them in.
/// - Strings through Basics' ``JSONString`` (the one escaper; it also escapes DEL, which JSONSerialization
///   copied).
/// - An integer as its digits; any other number as Swift prints the double, less a trailing `.0`
///   (`0.5`, `1e-05`, `1e+16`), as JSONSerialization did. A non-finite double, which JSON cannot hold,
///   is written as `null`.
enum JSONWriter {
    /// `value` as JSON text.
    static func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out)
        return out
    }

    /// Appends `value` as JSON text.
    static func append(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): append(number, to: &out)
        case .string(let text): JSONString.append(text, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                append(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (index, member) in object.members.sorted(by: { JSONKeyOrder.precedes($0.key, $1.key) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.append(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// An integer as its digits (a double that is one within ±2^53 prints the same digits: `3.0` is `3`;
    /// `-0.0` keeps its sign, `-0`); any other double as Swift's shortest description without `.0`.
    private static func append(_ number: JSONNumberValue, to out: inout [UInt8]) {
        if let integer = number.exactInteger, integer != 0 || number.double.sign == .plus {
            out.append(contentsOf: String(integer).utf8)
            return
        }
        guard number.double.isFinite else {
            out.append(contentsOf: "null".utf8)
            return
        }
        var text = number.double.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }
}
