import Foundation
@testable import frontd

/// frontd's strict JSON check as it was before ``JSONReader`` (main d03741c, Sources/frontd/JSONSyntax.swift), kept
/// unchanged as the reference of ``JSONReaderDifferentialTests``: the old reading was this check, then JSONSerialization.
///
///
/// JSONSerialization accepts more than JSON (a trailing comma: `{"a":1,}`), keeps the last of duplicate
/// keys silently, recurses without a bound, and reports a number it cannot represent only as "not valid
/// JSON". This check runs first and says exactly what is wrong and where: a syntax error is a 400, a
/// number out of range (`1e999`, 400 digits) a 422 naming the field, as a value of the wrong size would be.
///
/// Rejected: anything outside the grammar, nesting deeper than the limit, duplicate keys in one object
/// (two parsers could read different values from the same body), lone UTF-16 surrogates in `\u`
/// escapes, and numbers beyond a Double's range. A leading UTF-8 byte order mark is skipped (RFC 8259 §8.1).
struct LegacyJSONSyntax {
    /// What is wrong with a body.
    enum Problem: Error, Equatable {
        /// Not JSON: what and at which byte offset.
        case malformed(String, at: Int)
        /// Nested deeper than the limit.
        case tooDeep(Int)
        /// A number too large for a Double, at `path` (e.g. `params.temperature`, `messages[0].content`).
        case outOfRange(path: String, literal: String)
    }

    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0
    /// Where the value being read sits: object keys and array indices from the root.
    private var path: [String] = []

    private init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Checks `bytes` (already known to be valid UTF-8) as one JSON value surrounded by whitespace.
    static func check(_ bytes: [UInt8], maxDepth: Int) throws(Problem) {
        var scanner = LegacyJSONSyntax(bytes, maxDepth: maxDepth)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { scanner.index = 3 }
        scanner.skipWhitespace()
        try scanner.value(depth: 0)
        scanner.skipWhitespace()
        if scanner.index < bytes.count { throw scanner.malformed("unexpected \(scanner.describeCurrent()) after the JSON value") }
    }

    // MARK: - Values

    private mutating func value(depth: Int) throws(Problem) {
        guard index < bytes.count else { throw malformed("the body ends where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try object(depth: depth + 1)
        case UInt8(ascii: "["): try array(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try string(decoding: false)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw malformed("unexpected \(describeCurrent()) where a value was expected")
        }
    }

    private mutating func object(depth: Int) throws(Problem) {
        guard depth <= maxDepth else { throw .tooDeep(maxDepth) }
        index += 1
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return }
        var keys = Set<[UInt8]>()
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw malformed("expected a key in double quotes, found \(describeCurrent())")
            }
            let keyStart = index
            let key = try string(decoding: true)
            guard keys.insert(key).inserted else {
                throw .malformed("duplicate key \(String(decoding: key, as: UTF8.self).debugDescription)", at: keyStart)
            }
            skipWhitespace()
            guard take(UInt8(ascii: ":")) else { throw malformed("expected ':' after a key, found \(describeCurrent())") }
            skipWhitespace()
            path.append(String(decoding: key, as: UTF8.self))
            try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            if take(UInt8(ascii: "}")) { return }
            guard take(UInt8(ascii: ",")) else { throw malformed("expected ',' or '}' in an object, found \(describeCurrent())") }
            skipWhitespace()
        }
    }

    private mutating func array(depth: Int) throws(Problem) {
        guard depth <= maxDepth else { throw .tooDeep(maxDepth) }
        index += 1
        skipWhitespace()
        if take(UInt8(ascii: "]")) { return }
        var position = 0
        while true {
            path.append("[\(position)]")
            try value(depth: depth)
            path.removeLast()
            position += 1
            skipWhitespace()
            if take(UInt8(ascii: "]")) { return }
            guard take(UInt8(ascii: ",")) else { throw malformed("expected ',' or ']' in an array, found \(describeCurrent())") }
            skipWhitespace()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Problem) {
        let count = word.utf8CodeUnitCount
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        guard index + count <= bytes.count, bytes[index..<(index + count)].elementsEqual(expected) else {
            throw malformed("unexpected \(describeCurrent()) where a value was expected")
        }
        index += count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and within a Double's range.
    private mutating func number() throws(Problem) {
        let start = index
        _ = take(UInt8(ascii: "-"))
        guard index < bytes.count, isDigit(bytes[index]) else { throw malformed("a number needs a digit after '-'") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw malformed("a number may not have a leading zero") }
        } else {
            skipDigits()
        }
        if take(UInt8(ascii: ".")) {
            guard index < bytes.count, isDigit(bytes[index]) else { throw malformed("a number needs digits after '.'") }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
            guard index < bytes.count, isDigit(bytes[index]) else { throw malformed("a number needs digits in its exponent") }
            skipDigits()
        }
        let literal = String(decoding: bytes[start..<index], as: UTF8.self)
        // Double() reads any length; an overflow is infinite. (Underflow to 0 is harmless.)
        if let d = Double(literal), d.isFinite { return }
        throw .outOfRange(path: pathText, literal: literal)
    }

    /// A string starting at the opening quote; with `decoding`, its value as UTF-8 (for keys).
    private mutating func string(decoding: Bool) throws(Problem) -> [UInt8] {
        index += 1
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw malformed("a string is not closed") }
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return out
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw malformed("a string is not closed") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): if decoding { out.append(e) }
                case UInt8(ascii: "b"): if decoding { out.append(0x08) }
                case UInt8(ascii: "f"): if decoding { out.append(0x0C) }
                case UInt8(ascii: "n"): if decoding { out.append(0x0A) }
                case UInt8(ascii: "r"): if decoding { out.append(0x0D) }
                case UInt8(ascii: "t"): if decoding { out.append(0x09) }
                case UInt8(ascii: "u"):
                    let scalar = try unicodeEscape()
                    if decoding { out.append(contentsOf: Array(String(Character(scalar)).utf8)) }
                default:
                    index -= 1
                    throw malformed("invalid escape \\\(describeCurrent())")
                }
            case 0..<0x20:
                throw malformed("control character \(b) inside a string (it must be escaped)")
            default:
                if decoding { out.append(b) }
                index += 1
            }
        }
    }

    /// The scalar of a `\uXXXX` escape (the `\u` already read), joining a surrogate pair.
    private mutating func unicodeEscape() throws(Problem) -> Unicode.Scalar {
        let escapeStart = index - 2
        let high = try hex4()
        if (0xDC00...0xDFFF).contains(high) {
            throw .malformed("lone low surrogate \\u\(String(high, radix: 16)) in a string", at: escapeStart)
        }
        if (0xD800...0xDBFF).contains(high) {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw .malformed("lone high surrogate \\u\(String(high, radix: 16)) in a string", at: escapeStart)
            }
            index += 2
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low) else {
                throw .malformed("high surrogate \\u\(String(high, radix: 16)) not followed by a low one", at: escapeStart)
            }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else { throw .malformed("invalid surrogate pair", at: escapeStart) }
            return scalar
        }
        guard let scalar = Unicode.Scalar(high) else { throw .malformed("invalid \\u escape", at: escapeStart) }
        return scalar
    }

    private mutating func hex4() throws(Problem) -> UInt32 {
        guard index + 4 <= bytes.count else { throw malformed("a \\u escape needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw malformed("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    // MARK: - Bytes

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    private mutating func take(_ b: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == b else { return false }
        index += 1
        return true
    }

    private func malformed(_ what: String) -> Problem { .malformed(what, at: index) }

    /// The byte at the current index, for messages: `'x'`, `byte 0x00` or `the end of the body`.
    private func describeCurrent() -> String {
        guard index < bytes.count else { return "the end of the body" }
        let b = bytes[index]
        if b > 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16)
    }

    /// `params.temperature`, `messages[0].content`.
    private var pathText: String {
        var text = ""
        for part in path {
            if !text.isEmpty && !part.hasPrefix("[") { text += "." }
            text += part
        }
        // A hostile key may be long; the param names it, it need not quote it whole.
        return text.utf8.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
