import Crypto
import IPC

/// A request target's query (`a=1&b=two%20words`), decoded: `+` is a space, `%XX` a byte, and the
/// result must be UTF-8.
struct QueryParameters {
    private(set) var pairs: [(name: String, value: String)] = []

    /// Parses `query` (without the `?`); nil or empty is no parameters.
    /// - Throws: 400 for a bad percent escape or bytes that are not UTF-8.
    init(_ query: String?) throws(APIError) {
        guard let query, !query.isEmpty else { return }
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let (name, value): (Substring, Substring)
            if let eq = part.firstIndex(of: "=") {
                (name, value) = (part[..<eq], part[part.index(after: eq)...])
            } else {
                (name, value) = (part, "")
            }
            pairs.append((try Self.decode(name), try Self.decode(value)))
        }
    }

    /// The first value of `name`, or nil.
    subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    static func decode(_ text: Substring) throws(APIError) -> String {
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        while i < utf8.endIndex {
            let b = utf8[i]
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h < utf8.endIndex, utf8.index(after: h) < utf8.endIndex,
                      let hi = Hex.value(utf8[h]), let lo = Hex.value(utf8[utf8.index(after: h)]) else {
                    throw .invalid("the query has a bad percent escape")
                }
                bytes.append(hi << 4 | lo)
                i = utf8.index(after: h)
            } else {
                bytes.append(b)
            }
            i = utf8.index(after: i)
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .invalid("the query is not valid UTF-8") }
        return s
    }
}
