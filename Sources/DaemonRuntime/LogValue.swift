/// The value of one field of a log line: written as the matching JSON type.
///
/// Literals work directly: `logger.info("admitted", ["key": "k1", "tokens": 42, "cached": false])`.
public enum LogValue: Sendable, Equatable {
    /// A JSON string, escaped as needed.
    case string(String)
    /// A JSON integer.
    case int(Int64)
    /// A JSON number; NaN and infinities are written as the strings "nan", "inf", "-inf".
    case double(Double)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null

    /// A field from raw bytes of unknown encoding (a header, a peer's payload): invalid UTF-8 sequences
    /// become U+FFFD.
    /// - Parameter bytes: The bytes.
    public init(bytes: some Sequence<UInt8>) {
        self = .string(String(decoding: Array(bytes), as: UTF8.self))
    }

    /// A field from any integer.
    /// - Parameter value: The integer; one beyond Int64's range is written as a string.
    public init(_ value: some BinaryInteger) {
        if let exact = Int64(exactly: value) {
            self = .int(exact)
        } else {
            self = .string(String(value))
        }
    }

    /// A field from anything, as its description (`"\(value)"`).
    /// - Parameter value: The value.
    public static func describing(_ value: Any) -> LogValue {
        .string(String(describing: value))
    }
}

extension LogValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension LogValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension LogValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension LogValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension LogValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}
