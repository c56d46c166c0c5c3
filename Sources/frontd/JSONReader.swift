/// Reads a request body as JSON (RFC 8259) in one pass: checks it strictly and builds its ``JSONValue``
/// as it goes, so a body is read once, into plain Swift values, with no Foundation object graph.
///
/// What it refuses is what the strict check before JSONSerialization refused, with the same messages:
/// anything outside the grammar (a trailing comma, `NaN`, comments), nesting deeper than the limit,
/// duplicate keys in one object (two parsers could read different values from the same body), lone UTF-16
/// surrogates in `\u` escapes, and numbers beyond a Double's range (a 422 naming the field, as a value
/// of the wrong size would be). A leading UTF-8 byte order mark is skipped (RFC 8259 §8.1).
///
/// Numbers are read as JSONSerialization read them where it was exact, since the request parsers' rules
/// were written against its results (``JSONNumberValue``): an integer literal of up to 18 characters is an
/// exact integer, a literal with a fraction or an exponent of up to 17 characters a double (an integer
/// when that double is one within ±2^53). A longer literal (rare) is read exactly here: its double is the
/// nearest one, and it is an integer when its digits say so and it fits in Int64
/// (``JSONNumber/exactInteger(literal:)``; a literal too small for a double reads as 0, as a short one
/// does). JSONSerialization read most of those through `Decimal`, whose double is not always the nearest.
struct JSONReader {
    /// What is wrong with a body.
    enum Problem: Error, Equatable {
        /// Not JSON: what and at which byte offset.
        case malformed(String, at: Int)
        /// Nested deeper than the limit.
        case tooDeep(Int)
        /// A number too large for a Double, at `path` (e.g. `params.temperature`, `messages[0].content`).
        case outOfRange(path: String, literal: String)
    }

    /// One step of the path from the root to the value being read, for ``Problem/outOfRange(path:literal:)``.
    private enum PathPart {
        case key(String)
        case index(Int)
    }

    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0
    private var path: [PathPart] = []

    private init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Reads `bytes` (already known to be valid UTF-8) as one JSON value surrounded by whitespace.
    static func read(_ bytes: [UInt8], maxDepth: Int) throws(Problem) -> JSONValue {
        var reader = JSONReader(bytes, maxDepth: maxDepth)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        if reader.index < bytes.count { throw reader.malformed("unexpected \(reader.describeCurrent()) after the JSON value") }
        return value
    }

    // MARK: - Values

    private mutating func value(depth: Int) throws(Problem) -> JSONValue {
        guard index < bytes.count else { throw malformed("the body ends where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return .object(try object(depth: depth + 1))
        case UInt8(ascii: "["): return .array(try array(depth: depth + 1))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw malformed("unexpected \(describeCurrent()) where a value was expected")
        }
    }

    /// Objects with more members than this check duplicates with a set rather than by scanning.
    private static let scannedMembers = 16

    private mutating func object(depth: Int) throws(Problem) -> JSONObject {
        guard depth <= maxDepth else { throw .tooDeep(maxDepth) }
        index += 1
        skipWhitespace()
        var members: [(key: String, value: JSONValue)] = []
        if take(UInt8(ascii: "}")) { return JSONObject(members) }
        var keys: Set<[UInt8]>?
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw malformed("expected a key in double quotes, found \(describeCurrent())")
            }
            let keyStart = index
            let key = try string()
            if !Self.isNew(key, in: members, set: &keys) {
                throw .malformed("duplicate key \(key.debugDescription)", at: keyStart)
            }
            skipWhitespace()
            guard take(UInt8(ascii: ":")) else { throw malformed("expected ':' after a key, found \(describeCurrent())") }
            skipWhitespace()
            path.append(.key(key))
            let value = try value(depth: depth)
            path.removeLast()
            members.append((key, value))
            skipWhitespace()
            if take(UInt8(ascii: "}")) { return JSONObject(members) }
            guard take(UInt8(ascii: ",")) else { throw malformed("expected ',' or '}' in an object, found \(describeCurrent())") }
            skipWhitespace()
        }
    }

    /// Whether `key` is not yet among `members` (a scan while the object is small, then a set). Keys are
    /// compared byte by byte, not by String's canonical equivalence: `"\u00e9"` and `"e\u0301"` are two keys.
    private static func isNew(_ key: String, in members: [(key: String, value: JSONValue)], set: inout Set<[UInt8]>?) -> Bool {
        if set == nil {
            if members.count < scannedMembers { return !members.contains { $0.key.utf8.elementsEqual(key.utf8) } }
            set = Set(members.map { Array($0.key.utf8) })
        }
        return set?.insert(Array(key.utf8)).inserted ?? true
    }

    private mutating func array(depth: Int) throws(Problem) -> [JSONValue] {
        guard depth <= maxDepth else { throw .tooDeep(maxDepth) }
        index += 1
        skipWhitespace()
        var elements: [JSONValue] = []
        if take(UInt8(ascii: "]")) { return elements }
        while true {
            path.append(.index(elements.count))
            let element = try value(depth: depth)
            path.removeLast()
            elements.append(element)
            skipWhitespace()
            if take(UInt8(ascii: "]")) { return elements }
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

    /// Longest integer literal read by the short path, into an Int64 (any 18 characters fit).
    private static let shortInteger = 18
    /// Longest literal with a fraction or an exponent read by the short path, as a double.
    private static let shortFraction = 17

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and within a Double's range.
    private mutating func number() throws(Problem) -> JSONNumberValue {
        let start = index
        let negative = take(UInt8(ascii: "-"))
        guard index < bytes.count, isDigit(bytes[index]) else { throw malformed("a number needs a digit after '-'") }
        var integral = true
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw malformed("a number may not have a leading zero") }
        } else {
            skipDigits()
        }
        if take(UInt8(ascii: ".")) {
            integral = false
            guard index < bytes.count, isDigit(bytes[index]) else { throw malformed("a number needs digits after '.'") }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
            guard index < bytes.count, isDigit(bytes[index]) else { throw malformed("a number needs digits in its exponent") }
            skipDigits()
        }
        let length = index - start
        if integral && length <= Self.shortInteger {
            var value: Int64 = 0
            for b in bytes[(negative ? start + 1 : start)..<index] { value = value * 10 + Int64(b - UInt8(ascii: "0")) }
            if negative { value = -value }
            return JSONNumberValue(double: Double(value), exactInteger: value)
        }
        let literal = String(decoding: bytes[start..<index], as: UTF8.self)
        // Double() reads any length; an overflow is infinite. (Underflow to 0 is harmless.)
        guard let double = Double(literal), double.isFinite else { throw .outOfRange(path: pathText, literal: literal) }
        if !integral && length <= Self.shortFraction {
            return JSONNumberValue(double: double, exactInteger: JSONNumber.exactInteger(double))
        }
        // The long path: exact, by the literal's digits.
        return JSONNumberValue(double: double, exactInteger: double == 0 ? 0 : JSONNumber.exactInteger(literal: bytes[start..<index]))
    }

    /// A string starting at the opening quote, decoded.
    private mutating func string() throws(Problem) -> String {
        index += 1
        let start = index
        // Most strings have no escapes: decoded straight from the body's bytes.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: bytes[start..<(index - 1)], as: UTF8.self)
            }
            if b == UInt8(ascii: "\\") || b < 0x20 { break }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while true {
            guard index < bytes.count else { throw malformed("a string is not closed") }
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw malformed("a string is not closed") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try unicodeEscape()
                    UTF8.encode(scalar) { out.append($0) }
                default:
                    index -= 1
                    throw malformed("invalid escape \\\(describeCurrent())")
                }
            case 0..<0x20:
                throw malformed("control character \(b) inside a string (it must be escaped)")
            default:
                out.append(b)
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
            switch part {
            case .key(let key):
                if !text.isEmpty && !key.hasPrefix("[") { text += "." }
                text += key
            case .index(let i): text += "[\(i)]"
            }
        }
        // A hostile key may be long; the param names it, it need not quote it whole.
        return text.utf8.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
