import Crypto

/// One reply from a Redis server, as RESP2 carries it.
///
/// A null bulk string (`$-1`) and a null array (`*-1`) are both ``null``: no command this client sends
/// gives the two different meanings.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`: a short status line.
    case simpleString(String)
    /// `-ERR ...`: the server's error reply, without the leading `-`.
    case error(String)
    /// `:42`: a signed 64-bit integer.
    case integer(Int64)
    /// `$3\r\nfoo`: binary-safe bytes.
    case bulkString([UInt8])
    /// `$-1` or `*-1`: no value (a missing key, an unmet SET condition).
    case null
    /// `*2\r\n...`: a sequence of replies, possibly nested.
    case array([RESPValue])

    /// The bytes of a bulk or simple string; `nil` for any other reply.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    /// A bulk or simple string decoded as UTF-8 (invalid sequences replaced); `nil` for any other reply.
    public var string: String? {
        switch self {
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        case .simpleString(let text): text
        default: nil
        }
    }

    /// The value of an integer reply; `nil` for any other reply.
    public var integer: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    /// The elements of an array reply; `nil` for any other reply.
    public var array: [RESPValue]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    /// The server's message when this is an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { message } else { nil }
    }

    /// Whether this is the null reply.
    public var isNull: Bool {
        if case .null = self { true } else { false }
    }

    /// The reply's kind in words, for error messages ("an integer", "a bulk string").
    var kindDescription: String {
        switch self {
        case .simpleString: "a simple string"
        case .error: "an error"
        case .integer: "an integer"
        case .bulkString: "a bulk string"
        case .null: "null"
        case .array: "an array"
        }
    }
}

extension RESPValue: CustomStringConvertible {
    /// A readable rendering for logs and test failures; bulk strings that are not UTF-8 show as hex.
    public var description: String {
        switch self {
        case .simpleString(let text): return "+\(text)"
        case .error(let message): return "-\(message)"
        case .integer(let value): return ":\(value)"
        case .null: return "(null)"
        case .bulkString(let bytes):
            if let text = String(validating: bytes, as: UTF8.self) { return "\"\(text)\"" }
            return "0x" + Hex.encode(bytes)
        case .array(let elements):
            return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
