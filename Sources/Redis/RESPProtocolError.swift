import Basics

/// Bytes from the server that are not valid RESP2, or that exceed the parser's limits; compare codes
/// with the static members below (`error.code == .bulkTooLong`).
///
/// Once a parser has thrown one of these it stays failed: the stream can no longer be trusted to be in
/// step, so the connection must be closed.
public typealias RESPProtocolError = CodedError<RESPProtocolViolation>

/// The tag of ``RESPProtocolError``.
public enum RESPProtocolViolation: ErrorDomain {
    public static let summary = "RESP protocol error"
}

extension ErrorCode where Domain == RESPProtocolError {
    /// The first byte of a value is none of `+ - : $ *`.
    public static var unknownType: Self { Self("unknown type") }
    /// An integer, bulk length or array count that is not a decimal 64-bit integer.
    public static var malformedNumber: Self { Self("malformed number") }
    /// A CR not followed by LF, or a bulk string not followed by CRLF.
    public static var malformedLineEnding: Self { Self("malformed line ending") }
    /// A status, error or header line longer than ``RESPParser/Limits/maxLineLength``.
    public static var lineTooLong: Self { Self("line too long") }
    /// A bulk length or array count below -1.
    public static var invalidLength: Self { Self("invalid length") }
    /// A bulk string longer than ``RESPParser/Limits/maxBulkLength``.
    public static var bulkTooLong: Self { Self("bulk string too long") }
    /// An array with more elements than ``RESPParser/Limits/maxArrayCount``.
    public static var arrayTooLong: Self { Self("array too long") }
    /// Arrays nested deeper than ``RESPParser/Limits/maxDepth``.
    public static var nestingTooDeep: Self { Self("nesting too deep") }
    /// One reply larger in all than ``RESPParser/Limits/maxReplySize``.
    public static var replyTooLong: Self { Self("reply too long") }
}
